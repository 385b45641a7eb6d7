"""Our checkpoint format: state_dict + config.json, loaded with weights_only=True; pickled code refused."""
import dataclasses
import json
import pickle

import pytest
import torch

from soccerspot.errors import DataError
from soccerspot.models.heads import create_head, head_config, head_config_from_json, list_heads
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.models.heads.transformer import TransformerHeadConfig
from soccerspot.pipeline.inference.checkpoints import CONFIG_FILE, MODEL_FILE, NmsSettings, load_checkpoint, save_checkpoint

SETTINGS = {"backbone": "resnet152", "weights": "imagenet:v1", "fps": 2.0, "transform": "resize224",
            "input_size": 224, "precision": "fp32", "pca": None, "dim": 16}


def small_config(kind, **overrides):
    families = {"transformer": dict(model_dim=8, num_heads=2, feedforward_dim=16), "rmsnet": dict(hidden_dim=8, fc_dim=4),
                "calf": dict(frame_hidden=8, frame_reduced=4, capsule_dim=4, num_detections=2)}
    family = families.get(kind, dict(clusters=4, projection_dim=8))
    window = 16 if kind == "calf" else 6  # CALF pools a chunk three times
    return head_config(kind, input_dim=16, num_classes=3, window_frames=window, **{**family, **overrides})


def save_small(tmp_path, kind="netvlad++", **overrides):
    config = small_config(kind, **overrides)
    model = create_head(config)
    out = save_checkpoint(tmp_path / "ckpt", model, config, classes=["Goal", "Corner", "Foul"],
                          feature_settings=SETTINGS, fps=2.0, extra={"run": "test", "epoch": 3},
                          nms=NmsSettings("soft", 20.0, 0.1))
    return out, model, config


@pytest.mark.parametrize("kind", list_heads())
def test_round_trip_gives_the_same_outputs(tmp_path, kind):
    out, model, config = save_small(tmp_path, kind)
    loaded = load_checkpoint(out)
    assert loaded.config == config and not loaded.model.training
    x = torch.randn(2, config.window_frames, 16)
    torch.testing.assert_close(loaded.model(x), model.eval()(x), rtol=0, atol=0)
    # the weights file alone also works, the config being beside it
    torch.testing.assert_close(load_checkpoint(out / MODEL_FILE).model(x), model(x), rtol=0, atol=0)


def test_config_records_everything_needed(tmp_path):
    out, _, config = save_small(tmp_path)
    saved = json.loads((out / CONFIG_FILE).read_text())
    assert saved["head"] == config.to_json()
    assert saved["classes"] == ["Goal", "Corner", "Foul"]
    assert saved["feature_settings"] == SETTINGS
    assert saved["fps"] == 2.0 and saved["window_seconds"] == 3.0
    assert saved["nms"] == {"kind": "soft", "window_seconds": 20.0, "threshold": 0.1}
    assert saved["training"] == {"run": "test", "epoch": 3}
    loaded = load_checkpoint(out)
    assert loaded.classes == ["Goal", "Corner", "Foul"] and loaded.window_seconds == 3.0
    assert loaded.nms == NmsSettings("soft", 20.0, 0.1) and loaded.feature_settings == SETTINGS
    assert loaded.peer is None
    assert set(torch.load(out / MODEL_FILE, weights_only=True)) == set(create_head(config).state_dict())


def test_class_count_must_match(tmp_path):
    config = PoolingHeadConfig(kind="maxpool", input_dim=4, num_classes=2, window_frames=4, projection_dim=None)
    with pytest.raises(ValueError, match="1 class names"):
        save_checkpoint(tmp_path, create_head(config), config, classes=["Goal"], feature_settings=None, fps=2.0)


class Payload:
    """Unpickling this would run code (here: create a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_code_is_refused_and_never_run(tmp_path):
    out, model, _ = save_small(tmp_path)
    marker = tmp_path / "code_ran"
    torch.save({"state_dict": model.state_dict(), "payload": Payload(marker)}, out / MODEL_FILE)
    with pytest.raises(DataError, match=r"refused: the checkpoint holds pickled Python objects \(io.open\)") as caught:
        load_checkpoint(out)
    assert str(out / MODEL_FILE) in str(caught.value)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol, message", [(2, r"refused: .*pickled Python objects \(io.open\)"),
                                               (4, "weights-only reader could not parse it")])
def test_plain_pickle_file_is_refused(tmp_path, protocol, message):
    marker = tmp_path / "code_ran"
    peer = tmp_path / "model.pth.tar"
    with open(peer, "wb") as handle:
        pickle.dump({"state_dict": {}, "payload": Payload(marker)}, handle, protocol=protocol)
    with pytest.raises(DataError, match=message):
        load_checkpoint(peer)
    assert not marker.exists()


def test_garbage_and_missing_files(tmp_path):
    junk = tmp_path / "model.pth.tar"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DataError, match="not a readable PyTorch checkpoint: the weights-only reader"):
        load_checkpoint(junk)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="no checkpoint here"):
        load_checkpoint(tmp_path / "empty_dir")
    with pytest.raises(DataError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_weights_that_do_not_fit_the_config(tmp_path):
    out, _, config = save_small(tmp_path)
    other = dataclasses.replace(config, clusters=8)
    torch.save(create_head(other).state_dict(), out / MODEL_FILE)
    with pytest.raises(DataError, match="do not fit the head"):
        load_checkpoint(out)


def test_bad_config_json(tmp_path):
    out, _, _ = save_small(tmp_path)
    saved = json.loads((out / CONFIG_FILE).read_text())
    (out / CONFIG_FILE).write_text(json.dumps({**saved, "format": "something-else"}))
    with pytest.raises(DataError, match="not a soccerspot head config"):
        load_checkpoint(out)
    (out / CONFIG_FILE).write_text(json.dumps({**saved, "head": {**saved["head"], "kind": "lstm"}}))
    with pytest.raises(DataError, match="unknown head kind"):
        load_checkpoint(out)
    (out / CONFIG_FILE).write_text("{")
    with pytest.raises(DataError, match="unreadable checkpoint config"):
        load_checkpoint(out)


# config.json "head" exactly as checkpoints stored it before the family configs (the flat HeadConfig, every
# family's fields; from a demo run's best/config.json, with smaller sizes)
LEGACY_HEADS = {
    "netvlad++": {"kind": "netvlad++", "input_dim": 16, "num_classes": 3, "window_frames": 6, "clusters": 4,
                  "projection_dim": 8, "dropout": 0.4, "assignment_bias": False, "normalize_input": True,
                  "model_dim": 64, "num_layers": 3, "num_heads": 4, "feedforward_dim": 256,
                  "attention_dropout": 0.1, "readout": "max"},
    "transformer": {"kind": "transformer", "input_dim": 16, "num_classes": 3, "window_frames": 6, "clusters": 64,
                    "projection_dim": None, "dropout": 0.1, "assignment_bias": True, "normalize_input": True,
                    "model_dim": 8, "num_layers": 2, "num_heads": 2, "feedforward_dim": 16,
                    "attention_dropout": 0.1, "readout": "mean"},
}


@pytest.mark.parametrize("kind", sorted(LEGACY_HEADS))
def test_checkpoints_with_the_flat_head_config_still_load(tmp_path, kind):
    legacy = LEGACY_HEADS[kind]
    out, _, _ = save_small(tmp_path, kind)
    saved = json.loads((out / CONFIG_FILE).read_text())
    (out / CONFIG_FILE).write_text(json.dumps({**saved, "head": legacy}))
    torch.manual_seed(3)
    model = create_head(head_config_from_json(legacy)).eval()
    torch.save(model.state_dict(), out / MODEL_FILE)
    loaded = load_checkpoint(out)
    family = PoolingHeadConfig if kind != "transformer" else TransformerHeadConfig
    assert type(loaded.config) is family
    assert {f: getattr(loaded.config, f) for f in loaded.config.to_json()} == {
        f: legacy[f] for f in loaded.config.to_json()}  # every field of its family kept, the others dropped
    x = torch.randn(2, 6, 16)
    torch.testing.assert_close(loaded.model(x), model(x), rtol=0, atol=0)


# The fields of the flat head config that soccerspot wrote (and read) before the family configs.
OLD_FLAT_FIELDS = set(LEGACY_HEADS["netvlad++"])


@pytest.mark.parametrize("kind", ["maxpool++", "transformer"])
def test_a_family_config_is_stored_so_the_old_flat_reader_still_reads_it(tmp_path, kind):
    config = head_config(kind, input_dim=16, num_classes=3, window_frames=6)
    out = save_checkpoint(tmp_path / "ckpt", create_head(config), config, classes=["a", "b", "c"],
                          feature_settings=None, fps=2.0)
    stored = json.loads((out / CONFIG_FILE).read_text())["head"]
    assert stored["kind"] == kind and set(stored) <= OLD_FLAT_FIELDS  # an older soccerspot knows every key
    assert load_checkpoint(out).config == config

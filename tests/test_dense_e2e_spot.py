"""E2E-Spot (`models.dense.e2e_spot`): their model class with random weights, saved as their `train_e2e.py`
saves it (`torch.save(state_dict)` beside `config.json`), loads through our converter and gives the same
per-frame probabilities; their published configs map to classes and frames; bad folders are refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dense_peer_helpers import peer_modules, randomize
from peer_code import peer_repo
from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.errors import DataError
from soccerspot.models.dense import create_dense_model, load_dense_peer_folder
from soccerspot.models.dense.e2e_spot import SOCCERNET_V2_SORTED, e2e_spot_config_from_peer, load_e2e_spot_folder

torch.set_num_threads(2)
CLIP = 8
SIZE = (64, 112)


def _published_config(**changes) -> dict:
    # e2e-spot-models' soccer_rny002gsm_gru_rgb/config.json, with a test-sized clip
    config = {"batch_size": 8, "clip_len": 100, "crop_dim": None, "dataset": "soccernetv2", "dilate_len": 0,
              "dist_tol": 0, "epoch_num_frames": 500000, "feature_arch": "rny002_gsm", "fg_upsample": None,
              "gpu_parallel": False, "learning_rate": 0.001, "mixup": True, "modality": "rgb", "num_classes": 17,
              "num_epochs": 100, "start_val_epoch": 80, "temporal_arch": "gru", "warm_up_epochs": 3}
    config.update(clip_len=CLIP, **changes)
    return config


def _their_model(root, monkeypatch, config: dict):
    with peer_modules(root, monkeypatch):
        from train_e2e import E2EModel
        torch.manual_seed(0)
        impl = E2EModel.Impl(config["num_classes"] + 1, config["feature_arch"], config["temporal_arch"],
                             config["clip_len"], config["modality"])
    return randomize(impl, seed=3)


def _write_folder(folder: Path, config: dict, state: dict, epoch: int = 88) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    torch.save(state, folder / f"checkpoint_{epoch:03d}.pt")
    return folder


@pytest.mark.parametrize("feature_arch,temporal_arch,length", [
    ("rny002_gsm", "gru", CLIP - 2),  # the published soccer architecture; a short clip is padded
    ("rny002_tsm", "gru", CLIP),
    ("rny002", "mstcn", CLIP),
    ("rny002", "", CLIP - 1),
])
def test_their_checkpoint_gives_their_probabilities(feature_arch, temporal_arch, length, peer_code_root,
                                                     monkeypatch, tmp_path):
    root = peer_repo("jhong93/spot", peer_code_root)
    config = _published_config(feature_arch=feature_arch, temporal_arch=temporal_arch)
    theirs = _their_model(root, monkeypatch, config)
    folder = _write_folder(tmp_path / "model", config, theirs.state_dict())
    x = torch.randn(2, length, 3, *SIZE)
    with torch.no_grad():
        expected = theirs(x.clone())
        if expected.dim() == 4:  # MS-TCN: their predict() keeps the last stage
            expected = expected[-1]
        expected = torch.softmax(expected, dim=2)
        loaded = load_dense_peer_folder(folder)
        got = torch.softmax(loaded.model(x).logits, dim=2)
    assert loaded.variant == "E2E-Spot" and loaded.checkpoint.name == "checkpoint_088.pt"
    assert got.shape == expected.shape == (2, length, 18)
    assert (got - expected).abs().max() < 1e-4


def test_model_built_by_name_loads_converted_weights_strictly(peer_code_root, monkeypatch, tmp_path):
    """The registry's e2e-spot with the published settings has exactly the keys their model converts to."""
    root = peer_repo("jhong93/spot", peer_code_root)
    config = _published_config()
    theirs = _their_model(root, monkeypatch, config)
    loaded = load_e2e_spot_folder(_write_folder(tmp_path / "m", config, theirs.state_dict()))
    ours = create_dense_model("e2e-spot", clip_len=CLIP)
    ours.load_state_dict(loaded.model.state_dict())
    assert ours.input_spec.padding == "normalised-zero" and ours.num_classes == 17


def test_data_parallel_prefix_and_best_epoch_of_loss_json(peer_code_root, monkeypatch, tmp_path):
    root = peer_repo("jhong93/spot", peer_code_root)
    config = _published_config(gpu_parallel=True)
    theirs = _their_model(root, monkeypatch, config)
    folder = _write_folder(tmp_path / "m", config, {f"module.{k}": v for k, v in theirs.state_dict().items()}, 3)
    torch.save({"not": torch.zeros(1)}, folder / "checkpoint_007.pt")
    (folder / "loss.json").write_text(json.dumps([{"epoch": 3, "val_mAP": 0.5}, {"epoch": 7, "val_mAP": 0.1}]))
    loaded = load_e2e_spot_folder(folder)
    assert loaded.checkpoint.name == "checkpoint_003.pt"


def test_published_soccer_configs_map_to_classes_and_frames(peer_code_root):
    root = peer_repo("jhong93/e2e-spot-models", peer_code_root)
    for name in ("soccer_rny002gsm_gru_rgb", "soccer_rny008gsm_gru_rgb", "soccer_challenge_rny008gsm_gru_rgb"):
        path = root / name / "config.json"
        config, classes, recipe = e2e_spot_config_from_peer(json.loads(path.read_text()), path)
        assert (config.clip_len, config.temporal_arch, config.num_classes) == (100, "gru", 17)
        assert config.feature_arch == ("rny002_gsm" if "rny002" in name else "rny008_gsm")
        assert classes == SOCCERNET_V2_SORTED and recipe == "e2e-soccernetv2"


def test_their_class_order_is_the_sorted_v2_names():
    assert list(SOCCERNET_V2_SORTED) == sorted(CLASS_NAMES_V2)
    assert SOCCERNET_V2_SORTED[:3] == ("Ball out of play", "Clearance", "Corner")


@pytest.mark.parametrize("changes,message", [
    ({"feature_arch": "rny004_gsm"}, "unknown E2E-Spot feature_arch 'rny004_gsm'"),
    ({"temporal_arch": "asformer"}, "unknown E2E-Spot temporal_arch 'asformer'"),
    ({"dataset": "tennis"}, "dataset 'tennis' is not a soccer dataset"),
    ({"modality": "flow"}, "only RGB models"),
    ({"num_classes": 5}, "num_classes 5"),
])
def test_configs_it_cannot_run_are_refused(changes, message, tmp_path):
    path = tmp_path / "config.json"
    with pytest.raises(DataError, match=message) as error:
        e2e_spot_config_from_peer(_published_config(**changes), path)
    assert str(path) in str(error.value)


def test_a_checkpoint_of_another_architecture_names_the_keys(peer_code_root, monkeypatch, tmp_path):
    """Their rny002_gsm weights under a config that says rny002_tsm: the GSM gates have no place."""
    root = peer_repo("jhong93/spot", peer_code_root)
    theirs = _their_model(root, monkeypatch, _published_config())
    folder = _write_folder(tmp_path / "m", _published_config(feature_arch="rny002_tsm"), theirs.state_dict())
    with pytest.raises(DataError, match=r"checkpoint_088.pt: does not match rny002_tsm \+ 'gru' of config.json: "
                                        r"unexpected features\.regnet\.s1\.b1\.layer\.conv1\.gsm\."):
        load_e2e_spot_folder(folder)


def test_missing_keys_are_named(tmp_path):
    config = _published_config()
    state = create_dense_model("e2e-spot", clip_len=CLIP).state_dict()
    folder = _write_folder(tmp_path / "m", config, {})
    torch.save({"_pred_fine._gru.weight_ih_l0": torch.zeros(3)}, folder / "checkpoint_088.pt")
    with pytest.raises(DataError, match="missing .*and .* more"):
        load_e2e_spot_folder(folder)
    assert state  # the folder's config is loadable otherwise


def test_not_a_model_folder(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DataError, match="not a model folder of a known peer"):
        load_dense_peer_folder(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        load_dense_peer_folder(tmp_path / "nope")

"""A released model's name goes through the one resolver (`pipeline.inference.released_models.resolve_model`)
wherever a `--model` is taken, with the same error when its files are not here: `spot`, `archive` and
`live` run it (live keeping frames by FrameCV's rule, `tests/test_live_framecv.py`), `ground` and
`archive --ground` refuse a spotting head's name.
No network: the cache is a temporary folder and every download fails at once, as offline."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest
import torch

from soccerspot.errors import DataError, SettingsError
from soccerspot.extract.recipes import RESNET_TF2
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.released_models import RELEASED, resolve_model
from video_helpers import constant_rate_times, write_video

NAME = "NetVLAD++"


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """An empty temporary cache and no network (a download fails at once)."""
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("SOCCERSPOT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("names") / "match.mkv", constant_rate_times(25, 1.0))


def cache_peer_head(cache) -> str:
    """A NetVLAD++ head in sn-spotting's format, with its training.log, where the cache keeps `NAME`."""
    folder = cache / "models" / NAME
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    state = {"feature_extractor.weight": torch.randn(8, 2048, generator=g) / 45, "feature_extractor.bias": torch.zeros(8)}
    for part in ("before", "after"):
        state[f"pool_layer_{part}.clusters"] = torch.randn(8, 2, generator=g)
        state[f"pool_layer_{part}.clusters2"] = torch.randn(1, 8, 2, generator=g)
    state.update({"fc.weight": torch.randn(18, 32, generator=g), "fc.bias": torch.zeros(18)})
    torch.save({"epoch": 1, "state_dict": state}, folder / "model.pth.tar")
    log = {"window_size": 15, "framerate": 2, "NMS_window": 30, "NMS_threshold": 0.0, "features": "ResNET_TF2.npy",
           "pool": "NetVLAD++"}
    (folder / "training.log").write_text("\n".join(
        f"2021-03-03 00:09:55,101 [MainThread  ] [INFO ]  {k.rjust(15)} : {v}" for k, v in log.items()) + "\n")
    return str(folder / "model.pth.tar")


def one_error(capsys) -> str:
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1, errors
    return errors[0]


def test_the_resolver_finds_a_cached_name_and_says_where_a_missing_one_goes(cache):
    entry = RELEASED[NAME]
    folder = cache / "models" / NAME
    for download in (True, False):  # offline and downloads off: the same one-line error, naming both files
        with pytest.raises(DataError) as error:
            resolve_model(NAME, download=download, progress=False)
        message = str(error.value)
        assert "\n" not in message and f"released model {NAME} is not here" in message
        assert f"{entry.head.url} to {folder / 'model.pth.tar'}" in message
        assert f"{entry.log.url} to {folder / 'training.log'}" in message
    assert "network is unreachable" in message or "downloads are off" in message
    head = cache_peer_head(cache)
    assert resolve_model(NAME) == head
    assert resolve_model("similarity", task="grounding") == "similarity"  # not a released name: unchanged
    with pytest.raises(SettingsError, match=r"--ground NetVLAD\+\+: a released spotting head, not a grounding"):
        resolve_model(NAME, task="grounding", flag="--ground")


@pytest.mark.parametrize("command", ["spot", "archive", "live"])
def test_every_model_flag_gives_the_same_error_for_a_released_name_not_here(command, cache, video, tmp_path, capsys):
    argv = [command, str(video), "--model", NAME, "--out", str(tmp_path / "out")]
    argv += ["--status-every", "0"] if command == "live" else ["--no-progress"]
    assert main(argv) == 1
    line = one_error(capsys)
    assert line.startswith(f"soccerspot {command}: error: {cache / 'models' / NAME / 'model.pth.tar'}: "
                           f"released model {NAME} is not here (download failed: "), line
    assert RELEASED[NAME].log.url in line


@pytest.mark.parametrize("command", ["spot", "archive", "live"])
def test_every_model_flag_reads_a_released_name_from_the_cache(command, cache, video, tmp_path, capsys):
    """The cached head is found and loaded as the peer head it is (its training.log names ResNET_TF2, so its
    features are re-made by that recipe); the run stops only at the recipe's weights, here a file that is
    not Keras's, and that error names the cached head."""
    head = cache_peer_head(cache)
    weights = tmp_path / "not_keras.h5"
    weights.write_text("not an HDF5 file\n")
    argv = [command, str(video), "--model", NAME, "--out", str(tmp_path / "out"), "--weights", str(weights)]
    argv += ["--status-every", "0"] if command == "live" else ["--no-progress"]
    assert main(argv) == 1
    assert f"{head}: cannot make its {RESNET_TF2.name} features here" in one_error(capsys)


def test_grounding_refuses_a_spotting_heads_name_before_any_download(cache, video, tmp_path, capsys):
    assert main(["ground", str(video), "--model", NAME, "--no-progress"]) == 2
    assert f"--model {NAME}: a released spotting head, not a grounding model" in one_error(capsys)
    assert main(["archive", str(video), "--model", NAME, "--ground", NAME, "--out", str(tmp_path / "a"),
                 "--no-progress"]) == 2
    assert f"--ground {NAME}: a released spotting head" in one_error(capsys)
    assert not (cache / "models").exists()  # nothing was fetched nor made


def write_keras_h5(path, seed: int = 0) -> None:
    """A seeded `keras_resnet152` in Keras's legacy HDF5 layout (per-layer groups, `weight_names`), so the
    ResNET_TF2 recipe runs here without Keras's published file."""
    import h5py

    from soccerspot.models.backbones.keras_resnet import KerasResNet

    torch.manual_seed(seed)
    layers: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in KerasResNet().state_dict().items():
        module, variable = key.rsplit(".", 1)
        if variable != "num_batches_tracked":
            layers.setdefault(module.replace(".", "_"), {})[variable] = value
    batch_norm = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [name.encode() for name in layers]
        for layer, variables in layers.items():
            group, names = handle.create_group(layer), []
            for variable, value in variables.items():
                name = batch_norm[variable] if layer.endswith("_bn") else {"weight": "kernel", "bias": "bias"}[variable]
                array = value.numpy()
                names.append(f"{layer}/{name}:0".encode())
                group.create_dataset(names[-1].decode(), data=array.transpose(2, 3, 1, 0) if array.ndim == 4 else array)
            group.attrs["weight_names"] = names


@pytest.mark.slow
def test_spot_archive_and_live_give_the_same_spots_with_a_released_name(cache, tmp_path, capsys):
    """End to end: the released name, resolved from the cache, re-makes ResNET_TF2 features (FrameCV rows,
    a seeded Keras-layout ResNet-152) and spots them, in `spot`, in `archive` and in `live` on the recording
    alike (live keeping FrameCV's frames as it reads)."""
    import json

    import numpy as np

    from soccerspot.data.features import load_features

    cache_peer_head(cache)
    weights = tmp_path / "resnet152_seeded.h5"
    write_keras_h5(weights)
    video = write_video(tmp_path / "match.mkv", constant_rate_times(25, 2.0), width=398, height=224)
    common = ["--model", NAME, "--weights", str(weights), "--precision", "fp32", "--device", "cpu"]
    assert main(["spot", str(video), "--out", str(tmp_path / "spot"), *common, "--no-progress"]) == 0
    # live before archive: an archive worker sets torch's thread count for the process, and so its rounding
    assert main(["live", str(video), "--out", str(tmp_path / "live"), *common, "--idle", "1", "--status-every", "0"]) == 0
    assert main(["archive", str(video), "--out", str(tmp_path / "archive"), *common, "--no-progress"]) == 0
    spotted = json.loads((tmp_path / "spot" / "results_spotting.json").read_text())["predictions"]
    archived = json.loads(next((tmp_path / "archive").rglob("results_spotting.json")).read_text())["predictions"]
    live = json.loads((tmp_path / "live" / "results_spotting.json").read_text())["predictions"]
    assert len(spotted) == 17 and spotted == archived == live  # threshold 0: one spot per class on a 2 s half
    live_rows, spot_rows = (load_features(tmp_path / out, 1, RESNET_TF2.name) for out in ("live", "spot"))
    assert np.array_equal(live_rows.array, spot_rows.array) and len(live_rows.array) == 4
    assert live_rows.meta.timestamps == spot_rows.meta.timestamps == [0.48, 0.96, 1.48, 1.96]  # frames 13, 25, 38, 50

"""A released model's name works wherever a `--model` is taken (`spot`, `archive`, `live`; `ground` and
`archive --ground` refuse a spotting head's name), through the one resolver
(`pipeline.inference.released_models.resolve_model`), with the same error when its files are not here.
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
    not Keras's, and that error names the cached head. `live` refuses the recipe's FrameCV frame rule (it
    samples by timestamp), naming the cached head too."""
    head = cache_peer_head(cache)
    weights = tmp_path / "not_keras.h5"
    weights.write_text("not an HDF5 file\n")
    argv = [command, str(video), "--model", NAME, "--out", str(tmp_path / "out"), "--weights", str(weights)]
    argv += ["--status-every", "0"] if command == "live" else ["--no-progress"]
    assert main(argv) == 1
    line = one_error(capsys)
    if command == "live":
        assert f"{head}: its features ({RESNET_TF2.name}) take frames by framecv's rule" in line, line
    else:
        assert f"{head}: cannot make its {RESNET_TF2.name} features here" in line, line


def test_grounding_refuses_a_spotting_heads_name_before_any_download(cache, video, tmp_path, capsys):
    assert main(["ground", str(video), "--model", NAME, "--no-progress"]) == 2
    assert f"--model {NAME}: a released spotting head, not a grounding model" in one_error(capsys)
    assert main(["archive", str(video), "--model", NAME, "--ground", NAME, "--out", str(tmp_path / "a"),
                 "--no-progress"]) == 2
    assert f"--ground {NAME}: a released spotting head" in one_error(capsys)
    assert not (cache / "models").exists()  # nothing was fetched nor made

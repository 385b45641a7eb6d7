"""`--features RECIPE` fixes the backbone, rate, geometry, input size, decoder and name: `extract` refuses a
flag that disagrees with the recipe (exit 2, naming both flags) and takes one equal to it; `spot` / `live`
refuse a recipe's name for features a checkpoint made otherwise. No network: downloads fail at once."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from soccerspot.extract.recipes import RESNET_TF2, RESNET_TF2_PCA512, recipe_disagreements, recipe_settings
from soccerspot.models.heads import create_head
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.checkpoints import LoadedHead, NmsSettings
from soccerspot.pipeline.inference.video_spot import recipe_name_conflict
from video_helpers import constant_rate_times, write_video


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty cache and no network: a download fails at once, as it does offline."""
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("SOCCERSPOT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("recipe_flags") / "match.mkv", constant_rate_times(25, 1.0))


def test_recipe_disagreements_name_each_field_given_otherwise():
    assert recipe_disagreements(RESNET_TF2, {"backbone": "resnet50", "fps": 2, "transform": None}) == [
        ("backbone", "resnet50", "keras_resnet152")]  # 2 == 2.0; None is "not given"
    assert recipe_disagreements(RESNET_TF2, dict(recipe_settings(RESNET_TF2))) == []
    assert recipe_disagreements(RESNET_TF2_PCA512, {"feature_name": "ResNET_TF2", "decoder": "decord"}) == [
        ("feature_name", "ResNET_TF2", "ResNET_TF2_PCA512"), ("decoder", "decord", "pyav")]


@pytest.mark.parametrize("flags, named", [
    ("--backbone resnet50", "--backbone resnet50 disagrees with --features ResNET_TF2, which uses keras_resnet152"),
    ("--fps 1", "--fps 1 disagrees with --features ResNET_TF2, which uses 2"),
    ("--transform short-side", "--transform short-side disagrees with --features ResNET_TF2, which uses imutils-crop"),
    ("--input-size 256", "--input-size 256 disagrees with --features ResNET_TF2, which uses 224"),
    ("--decoder decord", "--decoder decord disagrees with --features ResNET_TF2, which uses pyav"),
    ("--name mine", "--name mine disagrees with --features ResNET_TF2, which uses ResNET_TF2"),
    ("--weights none", "--weights none disagrees with --features ResNET_TF2"),
])
def test_extract_refuses_a_flag_that_disagrees_with_the_recipe(flags, named, video, tmp_path, offline, capsys):
    code = main(["extract", str(video), "--out", str(tmp_path / "out"), "--features", "ResNET_TF2", *flags.split(),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("error:") == 1 and named in err, err
    assert not (tmp_path / "out").exists()


def test_extract_takes_flags_equal_to_the_recipe(video, tmp_path, offline, capsys):
    """Every fixed flag given with the recipe's own value passes the check: the run goes on to the weights,
    which are not here (offline: one line naming the URL and where to put the file, exit 1)."""
    code = main(["extract", str(video), "--out", str(tmp_path / "out"), "--features", "ResNET_TF2",
                 "--backbone", "keras_resnet152", "--fps", "2.0", "--transform", "imutils-crop", "--input-size", "224",
                 "--decoder", "pyav", "--name", "ResNET_TF2", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "disagrees" not in err
    assert RESNET_TF2.weights.url in err and str(tmp_path / "cache" / "weights") in err


def head_with(feature_settings: dict | None, feature_name: str | None = None) -> LoadedHead:
    config = PoolingHeadConfig(kind="avgpool", input_dim=512, num_classes=1, window_frames=4, projection_dim=None)
    return LoadedHead(create_head(config), config, ["Goal"], 2.0, feature_settings, NmsSettings(), Path("ckpt"),
                      feature_name=feature_name)


RESNET18 = dict(backbone="resnet18", weights="none", fps=2.0, transform="crop", input_size=224, pca=None, dim=512)
TF2_MADE_HERE = dict(backbone="keras_resnet152", weights="file:0123", fps=2.0, transform="imutils-crop",
                     input_size=224, pca=None, dim=2048, sampling="framecv")


def test_a_recipe_name_for_features_made_otherwise_is_a_conflict():
    conflict = recipe_name_conflict(head_with(RESNET18), "ResNET_TF2")
    assert conflict.startswith("--features ResNET_TF2 disagrees with --model ckpt")
    assert "backbone 'resnet18', not 'keras_resnet152'" in conflict and "sampling 'timestamp', not 'framecv'" in conflict
    assert recipe_name_conflict(head_with(TF2_MADE_HERE), "ResNET_TF2") is None  # the recipe's own features
    assert "PCA none, not SoccerNet's" in recipe_name_conflict(head_with(TF2_MADE_HERE), "ResNET_TF2_PCA512")
    assert recipe_name_conflict(head_with(RESNET18), "resnet18_mine") is None  # not a recipe: a file name
    peer = head_with(None, feature_name="ResNET_TF2_PCA512")  # a published head: its training.log names the recipe
    assert recipe_name_conflict(peer, "ResNET_TF2_PCA512") is None
    assert "whose training.log names ResNET_TF2_PCA512" in recipe_name_conflict(peer, "ResNET_TF2")


def test_spot_and_live_refuse_a_recipe_name_for_their_heads_features(video, tmp_path, capsys):
    from soccerspot.models.heads import create_head as make
    from soccerspot.pipeline.inference.checkpoints import save_checkpoint

    config = PoolingHeadConfig(kind="avgpool", input_dim=512, num_classes=1, window_frames=4, projection_dim=None)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "model", make(config), config, classes=["Goal"], fps=2.0,
                    feature_settings={**RESNET18, "precision": "fp32"}, nms=NmsSettings(), extra={"features": "resnet18"})
    for argv in (["spot", str(video), "--model", str(tmp_path / "model"), "--features", "ResNET_TF2", "--no-progress",
                  "--out", str(tmp_path / "spot")],
                 ["live", str(video), "--model", str(tmp_path / "model"), "--features", "ResNET_TF2",
                  "--out", str(tmp_path / "live"), "--status-every", "0"]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and err.count("error:") == 1, err
        assert f"--features ResNET_TF2 disagrees with --model {tmp_path / 'model'}" in err

"""The published E2E-Spot soccer models as data (`pipeline.inference.released_models.RELEASED_DENSE`): their
files are those of the pinned e2e-spot-models tree, their configs load through the converter, and offline a
missing one says where to get and put its files."""
from __future__ import annotations

import json

import pytest

from peer_code import peer_repo
from soccerspot.errors import DataError
from soccerspot.extract.downloads import file_digest
from soccerspot.models.dense import dense_model_entry
from soccerspot.models.dense.e2e_spot import e2e_spot_config_from_peer
from soccerspot.pipeline.inference.released_models import RELEASED_DENSE, resolve_dense_model, resolve_model


def test_released_configs_are_the_published_files_and_load(peer_code_root):
    root = peer_repo("jhong93/e2e-spot-models", peer_code_root)
    assert set(RELEASED_DENSE) == {"soccer_rny002gsm_gru_rgb", "soccer_rny008gsm_gru_rgb",
                                   "soccer_challenge_rny008gsm_gru_rgb", "tdeed_soccernetball_baseline"}
    for name, entry in RELEASED_DENSE.items():
        if entry.model != "e2e-spot":
            continue
        config_spec = entry.files[0]
        path = root / name / config_spec.filename
        assert file_digest(path, "git blob sha1") == config_spec.git_sha1
        config, classes, recipe = e2e_spot_config_from_peer(json.loads(path.read_text()), path)
        assert recipe == entry.frame_recipe and len(classes) == config.num_classes == 17
        assert dense_model_entry(entry.model).paper == entry.paper
        assert entry.files[1].url.endswith(f"{name}/{entry.files[1].filename}")


def test_a_released_dense_model_not_here_says_where_to_get_and_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCCERSPOT_CACHE", str(tmp_path))
    name = "soccer_rny002gsm_gru_rgb"
    with pytest.raises(DataError) as error:
        resolve_model(name, download=False)
    folder = tmp_path / "models" / name
    for spec in RELEASED_DENSE[name].files:
        assert spec.url in str(error.value) and str(folder / spec.filename) in str(error.value)
    folder.mkdir(parents=True)
    for spec in RELEASED_DENSE[name].files:
        (folder / spec.filename).write_bytes(b"x")
    assert resolve_dense_model(name, download=False) == folder
    assert resolve_model(name) == str(folder)


def test_the_tdeed_baseline_config_is_the_published_file_and_matches_its_registered_model(peer_code_root):
    from soccerspot.models.dense.tdeed_peer import TDEED_FRAME_RECIPES, tdeed_config_from_peer

    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    entry = RELEASED_DENSE["tdeed_soccernetball_baseline"]
    (config_spec,) = entry.files
    path = root / "config" / "SoccerNetBall" / config_spec.filename
    assert file_digest(path, "git blob sha1") == config_spec.git_sha1
    raw = json.loads(path.read_text())
    config = tdeed_config_from_peer(raw, source=path)
    assert TDEED_FRAME_RECIPES[raw["dataset"]] == entry.frame_recipe
    registered = dense_model_entry(entry.model)
    assert registered.paper == entry.paper
    for key in ("feature_arch", "clip_len", "num_classes", "n_layers", "sgp_ks", "sgp_r", "radi_displacement",
                "event_team"):
        assert registered.defaults[key] == raw[key] == getattr(config, key), key
    assert raw["temporal_arch"] == config.temporal_arch
    assert "47.18" in entry.trained_on  # the README's test Team mAP@1 for the baseline


def test_the_tdeed_baseline_checkpoint_is_never_downloaded_the_error_says_where_to_get_it(tmp_path, monkeypatch):
    """Its checkpoint is in a Google Drive folder: with downloads on or off, a missing one is a DataError naming
    the folder's URL, the file and where to put it, and nothing is fetched."""
    import soccerspot.pipeline.inference.released_models as released

    monkeypatch.setenv("SOCCERSPOT_CACHE", str(tmp_path))
    monkeypatch.setattr(released, "ensure_file", lambda *a, **k: pytest.fail("nothing may be downloaded"))
    name = "tdeed_soccernetball_baseline"
    folder = tmp_path / "models" / name
    for download in (True, False):
        with pytest.raises(DataError) as error:
            resolve_model(name, download=download)
        message = str(error.value)
        assert released.TDEED_BASELINE_DRIVE in message and str(folder / "checkpoint_best.pt") in message
        assert "the file checkpoint_best.pt in that folder" in message
    folder.mkdir(parents=True)
    (folder / "SoccerNetBall_baseline.json").write_text("{}")
    (folder / "checkpoint_best.pt").write_bytes(b"x")
    assert resolve_model(name) == str(folder)

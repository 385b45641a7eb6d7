"""End to end: synthetic videos -> feature files, resume, PCA, the CLI and its bad-input handling.

A tiny timm model (regnety_002, random seeded weights) at 64x64 input keeps this fast.
"""
from __future__ import annotations

import threading
from fractions import Fraction

import numpy as np
import pytest
import torch

from soccerspot.errors import DataError
from soccerspot.data.features import load_features
from soccerspot.extract.decode import iter_frames
from soccerspot.extract.extractor import ExtractConfig, Extractor, extract_paths, extract_video
from soccerspot.extract.pca import fit_pca, save_pca
from soccerspot.extract.transforms import apply_transform, frames_to_tensor
from soccerspot.models.backbones import normalize_images as normalize
from soccerspot.pipeline.cli import main
from video_helpers import constant_rate_times, variable_rate_times, write_audio_only, write_video

BACKBONE = "timm:regnety_002"


def small_config(**overrides) -> ExtractConfig:
    settings = dict(backbone=BACKBONE, weights="none", input_size=64, batch_size=4, precision="fp32", progress=False)
    settings.update(overrides)
    return ExtractConfig(**settings)


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor(small_config())


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A SoccerNet-like tree: league/season/game/{1,2}_224p.mkv (25 fps with audio; 17 fps)."""
    root = tmp_path_factory.mktemp("soccernet")
    game = root / "england_epl" / "2016-2017" / "2016-09-10 - 14-30 Arsenal 2 - 1 Southampton"
    game.mkdir(parents=True)
    write_video(game / "1_224p.mkv", constant_rate_times(25, 3), width=200, height=112, audio=True)
    write_video(game / "2_224p.mkv", constant_rate_times(17, 2), width=200, height=112, rate=17)
    (game / "Labels-v2.json").write_text("{}")
    return root, game


def test_features_are_the_backbone_on_the_sampled_frames(tmp_path, extractor):
    video = write_video(tmp_path / "match.mkv", constant_rate_times(25, 3), width=200, height=112)
    path = extract_video(video, tmp_path / "out" / "match", 1, extractor.config, extractor=extractor)
    half = load_features(tmp_path / "out" / "match", 1, extractor.name)
    assert path.name == "1_regnety_002.npy" and half.array.shape == (6, 368)
    meta = half.meta
    assert (meta.backbone, meta.weights, meta.transform, meta.input_size) == (BACKBONE, "none", "crop", 64)
    assert meta.precision == "fp32" and meta.fps == 2.0 and meta.step == 0.5
    np.testing.assert_allclose(meta.timestamps, [0.0, 0.48, 1.0, 1.48, 2.0, 2.48], atol=1e-3)
    assert meta.source_size == video.stat().st_size and meta.version
    # The same numbers as running the backbone directly on the sampled frames, in order.
    frames = np.concatenate([batch.frames for batch in iter_frames(video, fps=2.0)])
    images = apply_transform(frames_to_tensor(frames), "crop", 64)
    with torch.no_grad():
        expected = extractor.backbone(normalize(images, extractor.backbone.mean, extractor.backbone.std))
    np.testing.assert_allclose(half.array, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_decord_backend_gives_the_same_features(tmp_path, extractor):
    video = write_video(tmp_path / "vfr.mkv", variable_rate_times(3))
    decord_extractor = Extractor(small_config(decoder="decord"), backbone=extractor.backbone)
    extract_video(video, tmp_path / "a", 1, extractor.config, extractor=extractor)
    extract_video(video, tmp_path / "b", 1, decord_extractor.config, extractor=decord_extractor)
    a, b = load_features(tmp_path / "a", 1, extractor.name), load_features(tmp_path / "b", 1, extractor.name)
    np.testing.assert_allclose(a.array, b.array, rtol=1e-5, atol=1e-5)
    assert a.meta.timestamps == pytest.approx(b.meta.timestamps, abs=1e-4)


def test_resume_skips_finished_halves_and_redoes_truncated_or_stale(tmp_path, tree, extractor, capsys):
    root, game = tree
    out = tmp_path / "features"
    first = extract_paths([root], out, extractor.config, extractor=extractor)
    assert len(first.done) == 2 and not first.failed
    game_out = out / game.relative_to(root)
    assert (game_out / "1_regnety_002.npy").is_file() and (game_out / "2_regnety_002.json").is_file()
    stamps = {half: (game_out / f"{half}_regnety_002.npy").stat().st_mtime_ns for half in (1, 2)}

    again = extract_paths([root], out, extractor.config, extractor=extractor)
    assert len(again.skipped) == 2 and not again.done
    assert all((game_out / f"{h}_regnety_002.npy").stat().st_mtime_ns == stamps[h] for h in (1, 2))

    npy = game_out / "2_regnety_002.npy"
    npy.write_bytes(npy.read_bytes()[:-100])  # an interrupted copy
    repaired = extract_paths([root], out, extractor.config, extractor=extractor)
    assert [r.job.half for r in repaired.done] == [2] and [r.job.half for r in repaired.skipped] == [1]
    assert load_features(game_out, 2, "regnety_002").array.shape == (4, 368)
    assert "redoing" in capsys.readouterr().err

    one_fps = Extractor(small_config(fps=1.0), backbone=extractor.backbone)
    stale = extract_paths([root], out, one_fps.config, extractor=one_fps)
    assert len(stale.done) == 2  # other settings under the same name: redone, not mixed
    assert load_features(game_out, 1, "regnety_002").meta.fps == 1.0


def test_short_video_and_trim_past_the_end_give_well_formed_outputs(tmp_path, extractor):
    short = write_video(tmp_path / "blink.mp4", constant_rate_times(25, 0.2), rate=25, time_base=Fraction(1, 25))
    extract_video(short, tmp_path / "blink", 1, extractor.config, extractor=extractor)
    assert load_features(tmp_path / "blink", 1, extractor.name).array.shape == (1, 368)
    past = Extractor(small_config(start=5.0), backbone=extractor.backbone)
    extract_video(short, tmp_path / "past", 1, past.config, extractor=past)
    empty = load_features(tmp_path / "past", 1, extractor.name)
    assert empty.array.shape == (0, 368) and empty.meta.timestamps == []


def test_pca_is_applied_and_recorded(tmp_path, extractor):
    rng = np.random.default_rng(0)
    pca = fit_pca([(f"g{i}", rng.normal(size=(50, 368)).astype(np.float32)) for i in range(2)], output_dim=8)
    save_pca(tmp_path / "pca.npz", pca)
    with_pca = Extractor(small_config(pca=str(tmp_path / "pca.npz")), backbone=extractor.backbone)
    video = write_video(tmp_path / "v.mkv", constant_rate_times(25, 1))
    extract_video(video, tmp_path / "plain", 1, extractor.config, extractor=extractor)
    extract_video(video, tmp_path / "reduced", 1, with_pca.config, extractor=with_pca)
    plain = load_features(tmp_path / "plain", 1, extractor.name).array
    reduced = load_features(tmp_path / "reduced", 1, "regnety_002_PCA8")
    assert reduced.meta.pca == pca.identity and reduced.array.shape == (2, 8)
    np.testing.assert_allclose(reduced.array, pca.transform(np.asarray(plain)), rtol=1e-4, atol=1e-4)


def test_decode_error_stops_the_producer_and_reaches_the_caller(tmp_path, extractor):
    data = write_video(tmp_path / "full.mkv", constant_rate_times(25, 8)).read_bytes()
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated"):
        extract_video(broken, tmp_path / "out", 1, extractor.config, extractor=extractor)
    assert not any(t.name == "soccerspot-decode" for t in threading.enumerate())
    assert not (tmp_path / "out" / "1_regnety_002.npy").exists()


def test_cli_mirrors_the_tree_and_reports_each_bad_input(tmp_path, tree, capsys):
    root, game = tree
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.mkv").write_bytes(b"")
    (bad / "text.mp4").write_text("hello\n" * 100)
    write_audio_only(bad / "radio.mkv")
    full = write_video(bad / "full.mkv", constant_rate_times(25, 8)).read_bytes()
    (bad / "cut.mkv").write_bytes(full[: len(full) // 3])
    (bad / "full.mkv").unlink()
    lone = write_video(tmp_path / "highlights.mp4", constant_rate_times(25, 1))
    out = tmp_path / "out"
    code = main([
        "extract", str(root), str(lone), str(bad), str(tmp_path / "missing.mkv"), "--out", str(out),
        "--backbone", BACKBONE, "--weights", "none", "--input-size", "64", "--precision", "fp32", "--no-progress",
    ])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("soccerspot extract: error:")]
    expectations = {"missing.mkv": "file not found", "zero.mkv": "empty file", "text.mp4": "not a readable video",
                    "radio.mkv": "no video stream", "cut.mkv": "truncated"}
    assert len(errors) == len(expectations)
    for name, reason in expectations.items():
        assert any(name in line and reason in line for line in errors), (name, errors)
    assert "extracted 3 half(s)" in captured.out and "5 failed" in captured.out
    game_out = out / game.relative_to(root)
    assert load_features(game_out, 1, "regnety_002").array.shape == (6, 368)
    assert load_features(game_out, 2, "regnety_002").array.shape == (4, 368)
    assert load_features(out / "highlights", 1, "regnety_002").array.shape == (2, 368)
    assert not (game_out / "Labels-v2.json").exists()


def test_cli_offline_imagenet_is_one_clear_line(tmp_path, tree, capsys, monkeypatch):
    import urllib.error

    api = pytest.importorskip("torchvision.models._api")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    root, _ = tree
    code = main(["extract", str(root), "--out", str(tmp_path / "o"), "--backbone", "resnet18", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot load ImageNet weights for resnet18" in err and "--weights" in err


def test_job_plan_mirrors_trees_and_names_lone_videos(tmp_path):
    from soccerspot.extract.jobs import plan_jobs

    game = tmp_path / "tree" / "italy_serie-a" / "2015-2016" / "game A"
    game.mkdir(parents=True)
    for name in ("1_224p.mkv", "1_720p.mkv", "2_224p.mkv", "Labels-v2.json", "notes.txt"):
        (game / name).write_bytes(b"x")
    (tmp_path / "tree" / "italy_serie-a" / "extra.mp4").write_bytes(b"x")
    out = tmp_path / "out"
    jobs, problems = plan_jobs([tmp_path / "tree"], out)
    planned = {(job.video.name, job.game_dir.relative_to(out).as_posix(), job.half) for job in jobs}
    assert planned == {
        ("1_224p.mkv", "italy_serie-a/2015-2016/game A", 1),  # 224p preferred over 720p
        ("2_224p.mkv", "italy_serie-a/2015-2016/game A", 2),
        ("extra.mp4", "italy_serie-a/extra", 1),
    } and not problems
    jobs, _ = plan_jobs([game], out)  # a game folder given directly keeps its name
    assert {job.game_dir for job in jobs} == {out / "game A"}
    jobs, _ = plan_jobs([game / "2_224p.mkv", tmp_path / "tree" / "italy_serie-a" / "extra.mp4"], out)
    assert [(job.game_dir, job.half) for job in jobs] == [(out / "game A", 2), (out / "extra", 1)]
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "extra.mp4").write_bytes(b"x")
    jobs, problems = plan_jobs([tmp_path / "tree" / "italy_serie-a" / "extra.mp4", tmp_path / "elsewhere" / "extra.mp4"], out)
    assert len(jobs) == 1 and "would overwrite" in problems[0].reason

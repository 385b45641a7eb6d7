"""Replay grounding heads, their training task, post-processing and `soccerspot ground` (on a planted
feature season, `tests/grounding_helpers.py`)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grounding_helpers import FEATURES, planted_season
from soccerspot.data.cameras import (
    CAMERAS_FILE, DETECTIONS_FILE, Replay, ReplayLink, read_camera_labels, read_replay_detections, replays_of,
)
from soccerspot.data.labels import Prediction
from soccerspot.models.heads.grounding import GroundingLoss
from soccerspot.models.heads import create_head, head_config
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.grounding import (
    GroundingOptions, HalfTrack, ground_game, keep_window, nms, rank_scores, training_samples,
)
from soccerspot.pipeline.evaluation.grounding import GroundingPairs, add_pair, average_ap


def small_head(**options):
    return create_head(head_config("baidu-grounding", input_dim=16, num_classes=17, window_frames=20,
                                  replay_frames=8, **options))


def test_head_gives_a_probability_and_an_offset_per_candidate_and_refuses_other_lengths():
    model = small_head().eval()
    assert len(model.encoder.layers) == 4  # the report's 4 encoder layers
    with torch.no_grad():
        out = model(torch.randn(5, 20, 16), torch.randn(5, 8, 16))
    assert out.shape == (5, 2) and float(out.min()) >= 0 and float(out.max()) <= 1
    with pytest.raises(ValueError, match="20 candidate and 8 replay rows"):
        model(torch.randn(5, 19, 16), torch.randn(5, 8, 16))
    with pytest.raises(ValueError, match="divisible"):
        small_head(num_heads=3)


def test_loss_is_bce_plus_l2_on_the_positives_only():
    outputs = torch.tensor([[0.9, 0.3], [0.2, 0.8], [0.6, 0.5]])
    targets = torch.tensor([[1.0, 0.5], [0.0, 0.0], [1.0, 0.25]])
    bce = -(np.log(0.9) + np.log(0.8) + np.log(0.6)) / 3
    l2 = ((0.3 - 0.5) ** 2 + (0.5 - 0.25) ** 2) / 2
    assert float(GroundingLoss(2.0)(outputs, targets)) == pytest.approx(bce + 2.0 * l2, rel=1e-5)


def track_and_replay(rows: int = 400) -> tuple[HalfTrack, Replay]:
    array = np.random.default_rng(0).normal(size=(rows, 4)).astype(np.float32)
    replay = Replay(1, 150, 158, ReplayLink("Goal", 1, "01:40", 100000))
    return HalfTrack(array, np.arange(rows) * 0.5), replay


def test_training_samples_hold_the_action_or_not_within_the_search_span():
    track, replay = track_and_replay()
    options = GroundingOptions(search_before_s=120.0)
    samples = training_samples(track, replay, 20, 4, 4, np.random.default_rng(1), options)
    action = 200
    assert [p for _, p, _ in samples] == [1.0] * 4 + [0.0] * 4
    for start, positive, offset in samples:
        assert (start <= action < start + 20) == bool(positive)
        if positive:
            assert start + offset * 20 == pytest.approx(action)
        else:
            assert 2 * (150 - 120) <= start and start + 20 <= 300


def test_post_processing_filter_nms_and_rank_decay():
    _, replay = track_and_replay()  # replay 150-158 s
    options = GroundingOptions(keep_before_s=100.0, nms_window_s=25.0)
    raw = [(40.0, 0.9), (57.9, 0.3), (58.0, 0.5), (61.0, 0.7), (157.0, 0.2), (158.0, 0.4), (159.0, 0.99)]
    kept = keep_window(raw, replay, options)  # the report: nothing after the end, nor > 100 s before the end
    assert kept == [(58.0, 0.5), (61.0, 0.7), (157.0, 0.2), (158.0, 0.4)]
    from_start = GroundingOptions(keep_before_s=100.0, keep_before_anchor="start")  # 100 s before the start
    assert keep_window(raw, replay, from_start) == [(57.9, 0.3)] + kept
    assert nms(kept, 25.0) == [(61.0, 0.7), (158.0, 0.4)]
    assert rank_scores([(10.0, 0.9), (40.0, 0.95), (70.0, 0.5)], 0.5) == [(10.0, 0.45), (40.0, 0.95), (70.0, 0.125)]


def test_similarity_baseline_grounds_planted_replays(tmp_path):
    games = planted_season(tmp_path, 2, "test")
    pairs = GroundingPairs()
    for game in games:
        replays = replays_of(read_camera_labels(tmp_path / game / CAMERAS_FILE))
        for replay, found in zip(replays, ground_game(tmp_path / game, FEATURES, replays, GroundingOptions())):
            add_pair(pairs, replay.link.seconds, found)
    assert len(pairs.targets) >= 5
    assert average_ap(pairs, "loose")["a_AP"] > 0.9


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def one_thread():
    """Small transformers train several times faster on one thread than on two on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_train_ground_and_evaluate_from_the_command_line(tmp_path, capsys, one_thread):
    train_games = planted_season(tmp_path, 3, "train")
    test_games = planted_season(tmp_path, 1, "test")
    (tmp_path / "train.txt").write_text("\n".join(train_games))
    code, out, err = run_cli(capsys, "train", "--preset", "baidu-grounding", "--features-root", tmp_path,
                             "--features", FEATURES, "--train-split", tmp_path / "train.txt", "--valid-split",
                             "none", "--epochs", 4, "--batch-size", 32, "--out", tmp_path / "run", "--no-progress")
    assert code == 0, err
    history = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    game = tmp_path / test_games[0]
    code, out, err = run_cli(capsys, "ground", game, "--model", tmp_path / "run" / "last")
    assert code == 0, err
    found = read_replay_detections(game / DETECTIONS_FILE)
    replays = replays_of(read_camera_labels(game / CAMERAS_FILE))
    assert [(r.half, r.start, r.end) for r in found] == [(r.half, r.start, r.end) for r in replays]
    for replay, detections in zip(replays, found):
        assert detections.detections and all(replay.start - 100 <= t <= replay.end for t, _ in detections.detections)
        times = sorted(t for t, _ in detections.detections)
        assert all(b - a >= 12.5 for a, b in zip(times, times[1:]))  # NMS 25 s
    code, out, err = run_cli(capsys, "ground", tmp_path, "--model", "similarity", "--features", FEATURES,
                             "--out", tmp_path / "similarity")
    assert code == 0, err
    assert out.count("replays grounded") == 4
    code, out, err = run_cli(capsys, "evaluate", "--task", "grounding", "--labels", tmp_path, "--predictions",
                             tmp_path / "similarity")
    assert code == 0, err
    assert float(out.strip().splitlines()[-1].split()[-1]) > 0.8
    # an existing result is kept
    code, out, err = run_cli(capsys, "ground", game, "--model", tmp_path / "run" / "last")
    assert code == 0 and "skipped" in out


def rewrite_cameras(game, edit) -> None:
    path = game / CAMERAS_FILE
    obj = json.loads(path.read_text())
    edit(obj["annotations"])
    path.write_text(json.dumps(obj))


def test_bad_input(tmp_path, capsys):
    games = planted_season(tmp_path, 3, "test")
    good, outside, unknown = (tmp_path / g for g in games)

    def push_out_of_half(annotations):
        last = [a for a in annotations if "link" in a][-1]
        last["gameTime"] = last["gameTime"][:4] + "59:00"

    def unknown_class(annotations):
        [a for a in annotations if "link" in a][0]["link"]["label"] = "Dive"

    rewrite_cameras(outside, push_out_of_half)
    rewrite_cameras(unknown, unknown_class)
    code, out, err = run_cli(capsys, "ground", outside, "--model", "similarity", "--features", FEATURES)
    assert code == 1 and "outside the half" in err and CAMERAS_FILE in err
    code, out, err = run_cli(capsys, "ground", unknown, "--model", "similarity", "--features", FEATURES)
    assert code == 1 and "unknown class 'Dive'" in err and CAMERAS_FILE in err
    code, out, err = run_cli(capsys, "ground", good, "--model", "similarity", "--features", "missing")
    assert code == 1 and "1_missing.npy" in err
    code, out, err = run_cli(capsys, "ground", tmp_path, "--model", "similarity", "--features", FEATURES)
    assert code == 1 and out.count("replays grounded") == 1 and err.count("error:") == 2  # the batch goes on
    from soccerspot.pipeline.inference.checkpoints import save_checkpoint

    spotting = create_head(head_config("maxpool", input_dim=16, num_classes=2, window_frames=10))
    save_checkpoint(tmp_path / "spotting", spotting, spotting.config, classes=["Goal", "Foul"], feature_settings=None,
                    fps=2.0)
    code, out, err = run_cli(capsys, "ground", good, "--model", tmp_path / "spotting", "--features", FEATURES)
    assert code == 1 and "grounding head" in err
    code, out, err = run_cli(capsys, "ground", good, "--model", "similarity", "--keep-before", "-3")
    assert code == 2 and "--keep-before -3" in err
    code, out, err = run_cli(capsys, "ground", good, "--model", "similarity", "--fusion", "1,2")
    assert code == 2 and "--fusion 1,2" in err


def test_spot_refuses_a_grounding_head(tmp_path, capsys):
    from soccerspot.pipeline.inference.checkpoints import save_checkpoint

    games = planted_season(tmp_path, 1, "test")
    model = small_head()
    save_checkpoint(tmp_path / "ckpt", model, model.config, classes=[f"c{i}" for i in range(17)],
                    feature_settings=None, fps=2.0)
    code, out, err = run_cli(capsys, "spot", tmp_path / games[0], "--model", tmp_path / "ckpt", "--features", FEATURES)
    assert code == 1 and "soccerspot ground" in err and "ckpt" in err


def test_hard_negatives_hold_another_action_of_the_span():
    track, replay = track_and_replay()  # action at row 200, search span rows 60-300
    options = GroundingOptions(search_before_s=120.0)
    samples = training_samples(track, replay, 20, 4, 4, np.random.default_rng(2), options,
                               other_actions=[120, 200, 10], hard_fraction=1.0)
    negatives = [start for start, positive, _ in samples if not positive]
    assert len(negatives) == 4 and all(start <= 120 < start + 20 for start in negatives)  # row 10: outside the span


def test_training_augmentations_trim_the_replay_and_add_noise_only_when_asked():
    from soccerspot.pipeline.training.tasks.grounding import ReplaySamples, ReplaySet

    track, replay = track_and_replay()  # replay 150-158 s: rows 300-316
    data = ReplaySet([track], [(0, replay)], [[200]])
    samples = [(0, 0, 190, 1.0, 0.5), (0, 0, 40, 0.0, 0.0)]
    (plain_candidates, plain_clips), _ = ReplaySamples(data, samples, 20, 8)[[0, 1]]
    (candidates, clips), targets = ReplaySamples(data, samples, 20, 8, replay_jitter=0.4, augment_seed=(3, 1))[[0, 1]]
    assert torch.equal(candidates, plain_candidates) and targets.tolist() == [[1.0, 0.5], [0.0, 0.0]]
    shot = torch.from_numpy(track.array[300:316])
    for clip in clips:  # rows of the trimmed shot, every one from the replay
        assert all(any(torch.equal(row, r) for r in shot) for row in clip)
    assert all(not torch.equal(clip, plain) for clip, plain in zip(clips, plain_clips))  # trimmed: resampled anew
    noisy_set = ReplaySamples(data, samples, 20, 8, feature_noise=0.5, augment_seed=(3, 1))
    (noisy, noisy_clips), _ = noisy_set[[0, 1]]
    difference = (noisy - plain_candidates).std().item()
    assert 0.3 < difference / float(track.array.std()) < 0.7 and not torch.equal(noisy_clips, plain_clips)
    # without a seed (validation) nothing is drawn, whatever the settings
    (unseeded, _), _ = ReplaySamples(data, samples, 20, 8, 0.4, 0.5)[[0, 1]]
    assert torch.equal(unseeded, plain_candidates)


def test_a_sample_draws_its_augmentation_from_its_own_index_only():
    """A row is the same whichever batch, step or process builds it: from (seed, epoch, its index) alone."""
    from soccerspot.pipeline.training.tasks.grounding import ReplaySamples, ReplaySet

    track, replay = track_and_replay()
    data = ReplaySet([track], [(0, replay)], [[200]])
    samples = [(0, 0, 190, 1.0, 0.5), (0, 0, 40, 0.0, 0.0), (0, 0, 100, 0.0, 0.0)]

    def built(indices, seed=(3, 1)):
        return ReplaySamples(data, samples, 20, 8, 0.3, 0.5, augment_seed=seed)[indices]

    (whole, whole_clips), whole_targets = built([0, 1, 2])
    for pieces in ([[0], [1, 2]], [[2], [0, 1]], [[1], [0], [2]]):  # split and in another order, fresh sets
        rows = {}
        for piece in pieces:
            (candidates, clips), targets = built(piece)
            rows.update({i: (candidates[k], clips[k], targets[k]) for k, i in enumerate(piece)})
        for i in range(3):
            assert torch.equal(rows[i][0], whole[i]) and torch.equal(rows[i][1], whole_clips[i])
            assert torch.equal(rows[i][2], whole_targets[i])
    (other_epoch, _), _ = built([0, 1, 2], seed=(3, 2))
    assert not torch.equal(other_epoch, whole)  # another epoch draws other augmentations
    # each row's draw is `default_rng([seed, epoch, index])`'s: its replay trim first, then the noise
    rng = np.random.default_rng([3, 1, 2])
    rng.random(2)
    scale = np.asarray(track.array[::4], dtype=np.float32).std(axis=0) * 0.5
    expected = track.array[100:120] + rng.normal(size=(20, track.array.shape[1])) * scale
    assert np.allclose(whole[2].numpy(), expected.astype(np.float32), atol=1e-6)

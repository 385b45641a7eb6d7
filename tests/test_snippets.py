"""The snippet recipe: snippet sampling, the snippet model, accuracy, and `soccerspot finetune --recipe snippets`
end to end (image and video backbone) -> `extract --weights RUN/best/backbone.pt`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from soccerspot.data.frame_store import FrameCache, FrameCacheMeta
from soccerspot.data.snippets import (
    NO_POSITION, SnippetDataset, draw_snippets, middle_positions, snippet_rows,
)
from soccerspot.data.video_clips import FrameTrack

C = 4  # classes in the synthetic tracks below


def make_track(rows: int, events: list[tuple[int, int]], clip_frames: int | None = None, index: int = 0) -> FrameTrack:
    """A half whose row r holds the value r (mod 256) in every pixel; `events` are (row, class)."""
    shape = (rows, 2, 3, 3) if clip_frames is None else (rows, clip_frames, 2, 3, 3)
    array = np.broadcast_to((np.arange(rows) % 256).astype(np.uint8).reshape(-1, *[1] * (len(shape) - 1)), shape)
    meta = FrameCacheMeta(fps=2.0, frames=rows, timestamps=[r / 2 for r in range(rows)], clip_frames=clip_frames)
    cache = FrameCache(np.ascontiguousarray(array), meta, Path(f"half{index}.u8"))
    rows_, classes = (np.array([e[k] for e in events], dtype=np.int64) for k in (0, 1))
    return FrameTrack(f"game{index}", 1, cache, rows_, classes)


def season_tracks(seed: int = 0) -> list[FrameTrack]:
    rng = np.random.default_rng(seed)
    tracks = []
    for index, rows in enumerate((400, 300, 250)):
        event_rows = np.sort(rng.choice(np.arange(3, rows - 3), size=12, replace=False))
        tracks.append(make_track(rows, [(int(r), int(rng.integers(0, C))) for r in event_rows], index=index))
    return tracks


def test_snippet_rows_and_middle_positions_match_their_definitions():
    assert snippet_rows(5.0, 2.0) == 10 and snippet_rows(2.0, 1.0) == 2 and snippet_rows(0.1, 2.0) == 1
    for length in range(1, 25):
        # the rows whose centre p + 1/2 lies in the middle half [R/4, 3R/4] of the snippet
        expected = [p for p in range(length) if length / 4 <= p + 0.5 <= 3 * length / 4]
        assert middle_positions(length).tolist() == expected, length
    assert middle_positions(10).tolist() == [2, 3, 4, 5, 6, 7]


def test_foreground_snippets_one_per_event_at_a_middle_position_with_its_class():
    tracks = season_tracks()
    draw = draw_snippets(tracks, 10, C, seed=3, epoch=1)
    fore = draw.label < C
    assert fore.sum() == sum(len(t.event_rows) for t in tracks)
    events = sorted((ti, int(r), int(c)) for ti, t in enumerate(tracks) for r, c in zip(t.event_rows, t.event_classes))
    drawn = sorted((int(t), int(s + p), int(c)) for t, s, p, c in
                   zip(draw.track[fore], draw.start[fore], draw.position[fore], draw.label[fore]))
    assert drawn == events  # each event once, its row at `position`, labelled with its class
    assert set(draw.position[fore].tolist()) <= set(middle_positions(10).tolist())
    counts = np.bincount(draw.label[fore], minlength=C)
    expected = np.bincount(np.concatenate([t.event_classes for t in tracks]), minlength=C)
    np.testing.assert_array_equal(counts, expected)


def test_background_share_and_background_snippets_hold_no_event():
    tracks = season_tracks()
    for epoch in range(5):
        draw = draw_snippets(tracks, 10, C, seed=0, epoch=epoch)
        back = draw.label == C
        assert back.sum() == round(36 / C)  # round(nF / C): about as frequent as one class
        assert (draw.position[back] == NO_POSITION).all()
        picked = list(zip(draw.track[back].tolist(), draw.start[back].tolist()))
        assert len(set(picked)) == len(picked)  # without replacement
        for t, start in picked:
            rows = set(range(start, start + 10))
            assert 0 <= start <= tracks[t].num_rows - 10
            assert not rows & set(tracks[t].event_rows.tolist())


def test_offsets_are_uniform_over_the_middle_half_and_draws_depend_only_on_seed_and_epoch():
    tracks = [make_track(100, [(50, 0)])]
    positions = np.array([draw_snippets(tracks, 10, 1, seed=1, epoch=e).position[0] for e in range(3000)])
    counts = np.bincount(positions, minlength=10)
    assert counts[[0, 1, 8, 9]].sum() == 0
    # six positions, 500 expected each: a chi-square with 5 degrees of freedom below its 0.999 quantile
    chi2 = float(((counts[2:8] - 500) ** 2 / 500).sum())
    assert chi2 < 20.5, counts
    a, b = draw_snippets(season_tracks(), 10, C, seed=2, epoch=4), draw_snippets(season_tracks(), 10, C, seed=2, epoch=4)
    for field in ("track", "start", "label", "position"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = draw_snippets(season_tracks(), 10, C, seed=2, epoch=5)
    d = draw_snippets(season_tracks(), 10, C, seed=3, epoch=4)
    assert not np.array_equal(a.start, c.start) and not np.array_equal(a.start, d.start)


@pytest.mark.parametrize("clip_frames", [None, 3])
def test_dataset_cuts_the_snippets_rows_with_edges_repeated(clip_frames):
    track = make_track(30, [(1, 2), (28, 0)], clip_frames=clip_frames)  # events near both ends
    dataset = SnippetDataset([track], 6, C, seed=0)
    inputs, labels = dataset.get_batch(list(range(len(dataset))))
    row_shape = (3, 2, 3) if clip_frames is None else (3, 3, 2, 3)
    assert inputs.shape == (len(dataset), 6, *row_shape) and inputs.dtype == torch.uint8
    np.testing.assert_array_equal(labels.numpy(), dataset.draw.label)
    for slot in range(len(dataset)):
        start = int(dataset.draw.start[slot])
        expected = [min(max(start + k, 0), 29) for k in range(6)]  # edge rows repeated past the half
        values = inputs[slot].flatten(1).numpy()
        assert (values == np.array(expected)[:, None]).all()


# --- model and accuracy ----------------------------------------------------------------------------------


def test_snippet_head_is_the_mean_of_the_rows_then_linear():
    from soccerspot.models.heads.snippet import SnippetHead, SnippetHeadConfig

    head = SnippetHead(SnippetHeadConfig(feature_dim=5, num_outputs=3))
    features = torch.randn(4, 7, 5)
    expected = torch.stack([head.linear.weight @ features[i].sum(0) / 7 + head.linear.bias for i in range(4)])
    torch.testing.assert_close(head(features), expected)


def test_backbone_head_model_feeds_a_video_backbone_clips_as_extract_does():
    from soccerspot.models.backbones import create_backbone, normalize_images
    from soccerspot.models.finetune import BackboneHeadModel
    from soccerspot.models.heads.snippet import SnippetHead, SnippetHeadConfig

    backbone = create_backbone("video:r3d_18", weights="none", trainable_stages=1)
    model = BackboneHeadModel(backbone, SnippetHead(SnippetHeadConfig(backbone.feature_dim, C + 1))).eval()
    clips = torch.randint(0, 256, (2, 3, 4, 3, 32, 40), dtype=torch.uint8)  # (batch, rows, frames, 3, h, w)
    with torch.no_grad():
        features = model.features(clips[0])
        inputs = normalize_images(clips[0], backbone.mean, backbone.std).permute(0, 2, 1, 3, 4)  # (n, 3, T, h, w)
        torch.testing.assert_close(features, backbone(inputs.contiguous()), rtol=1e-4, atol=1e-4)
        logits = model(clips)
        assert logits.shape == (2, C + 1)
        rows = torch.stack([model.features(clips[i]).mean(0) for i in range(2)])
        torch.testing.assert_close(logits, model.head.linear(rows), rtol=1e-4, atol=1e-4)
    model.train()
    model(clips).sum().backward()  # the last stage learns, the frozen ones keep no gradient
    assert backbone.body.layer4[0].conv1[0].weight.grad is not None
    assert backbone.body.stem[0].weight.grad is None


def test_accuracy_and_per_class_accuracy():
    from soccerspot.pipeline.training.snippets import SnippetLoss

    loss = SnippetLoss()
    names = ["a", "b", "c", "background"]
    logits = torch.tensor([[5.0, 0, 0, 0], [0, 5.0, 0, 0], [5.0, 0, 0, 0], [0, 0, 0, 5.0], [0, 0, 5.0, 0]])
    labels = torch.tensor([0, 0, 2, 3, 2])
    with torch.no_grad():
        value = loss(logits, labels)
    torch.testing.assert_close(value, torch.nn.functional.cross_entropy(logits, labels))
    result = loss.accuracy(names)
    assert result["accuracy"] == pytest.approx(3 / 5) and result["snippets"] == 5
    assert result["per_class_accuracy"] == {"a": 0.5, "c": 0.5, "background": 1.0}
    loss(logits, labels)  # with autograd (training): not tallied
    assert loss.accuracy(names)["snippets"] == 5


# --- end to end ------------------------------------------------------------------------------------------

GAMES = ["league/season/train-a", "league/season/train-b", "league/season/valid-a"]
LOOP = ["--batch-size", "4", "--precision", "fp32", "--no-progress", "--epochs", "1"]


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> Path:
    from soccerspot.data.synthetic.broadcast import BroadcastConfig, plan_game, render_games

    root = tmp_path_factory.mktemp("snippet_season")
    config = BroadcastConfig(width=160, height=96, fps=10.0, duration_s=40.0)
    plans = [plan_game(root / game, seed=index + 1, config=config, url=game) for index, game in enumerate(GAMES)]
    render_games(plans, config)
    (root / "train.txt").write_text("\n".join(GAMES[:2]) + "\n")
    (root / "valid.txt").write_text(GAMES[2] + "\n")
    return root


def snippet_args(season: Path, out: Path, *extra: str) -> list[str]:
    return ["finetune", "--recipe", "snippets", "--videos", str(season), "--train-split", str(season / "train.txt"),
            "--valid-split", str(season / "valid.txt"), "--out", str(out), "--cache-dir", str(out.parent / "cache"),
            *LOOP, *extra]


@pytest.mark.slow
@pytest.mark.parametrize("backbone, extra", [
    ("resnet18", ["--input-size", "32", "--snippet-seconds", "3", "--max-batches", "3"]),
    ("video:r3d_18", ["--input-size", "32", "--fps", "1", "--snippet-seconds", "2", "--max-batches", "2"]),
])
def test_snippet_recipe_trains_exports_and_extracts(season, tmp_path, capsys, backbone, extra):
    from soccerspot.data.features import load_features
    from soccerspot.pipeline.cli import main

    run = tmp_path / "run"
    assert main(snippet_args(season, run, "--backbone", backbone, "--weights", "none", *extra)) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["recipe"] == "snippets" and printed["epochs"] == 1 and printed["best_epoch"] == 1
    (metrics,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert 0.0 <= metrics["valid_accuracy"] <= 1.0 and metrics["valid_loss"] > 0
    assert metrics["valid_per_class_accuracy"] and printed["best_valid_accuracy"] == metrics["valid_accuracy"]
    assert set(metrics["valid_per_class_accuracy"]) <= set(json.loads((run / "best" / "snippet_model.json")
                                                                      .read_text())["labels"])
    described = json.loads((run / "best" / "snippet_model.json").read_text())
    fps = float(extra[extra.index("--fps") + 1]) if "--fps" in extra else 2.0
    assert described["backbone"] == backbone and described["fps"] == fps and described["input_size"] == 32
    assert described["transform"] == "short-side" and len(described["labels"]) == 18
    if backbone.startswith("video:"):
        assert (described["clip_frames"], described["clip_fps"]) == (16, 15.0)
        assert described["snippet_rows"] == 2
    else:
        assert described["clip_frames"] is None and described["snippet_rows"] == 6

    features = tmp_path / "features"
    assert main(["extract", str(season / GAMES[2]), "--out", str(features), "--backbone", backbone, "--weights",
                 str(run / "best" / "backbone.pt"), "--transform", described["transform"], "--input-size", "32",
                 "--fps", str(fps), "--duration", "12", "--precision", "fp32", "--no-progress"]) == 0
    capsys.readouterr()
    extracted = [p for p in features.rglob("1_*.npy")]
    assert extracted, "extract wrote nothing"
    half = load_features(extracted[0].parent, 1, extracted[0].stem[2:])
    assert half.meta.weights == described["weights"] and half.array.shape[1] == described["feature_dim"]
    assert np.isfinite(half.array).all()


@pytest.mark.slow
def test_snippet_recipe_resume_is_exact(season, tmp_path, capsys):
    from soccerspot.pipeline.cli import main

    small = ["--backbone", "resnet18", "--weights", "none", "--input-size", "32", "--snippet-seconds", "2",
             "--max-batches", "1"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"

    def args(out, epochs, *extra):
        found = snippet_args(season, out, *small, *extra)
        found[found.index("--epochs") + 1] = str(epochs)
        return found

    assert main(args(straight, 2)) == 0
    assert main(args(resumed, 1)) == 0
    assert main(args(resumed, 2, "--resume")) == 0
    assert main(args(resumed, 3, "--resume", "--snippet-seconds", "3")) == 1  # another snippet length
    assert "snippet_seconds" in capsys.readouterr().err
    a = torch.load(straight / "state.pt", weights_only=True)["model"]
    b = torch.load(resumed / "state.pt", weights_only=True)["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    lines = lambda run: [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert [m["train_loss"] for m in lines(straight)] == [m["train_loss"] for m in lines(resumed)]
    assert [m["valid_accuracy"] for m in lines(straight)] == [m["valid_accuracy"] for m in lines(resumed)]

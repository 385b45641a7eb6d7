"""`soccerspot demo`: the whole chain on a synthetic season, from pixels to Average-mAP, in minutes.

1. generate a small season of synthetic broadcasts (`data.synthetic`): H.264 halves + `Labels-v2.json`
   in SoccerNet layout, training games and held-out games;
2. extract features with a small backbone with random weights (nothing can be downloaded here);
3. train a head (NetVLAD++ by default, any head a training preset trains) on the training games
   (`soccerspot.pipeline.training.loop`);
4. spot the held-out games (`soccerspot.pipeline.inference.spot`) and score them with SoccerNet's Average-mAP over the
   season's own classes (the official scorer averages over all 17 SoccerNet-v2 classes and gives a
   class without ground truth 0, which would cap a 10-class season at 10/17);
5. spot one held-out raw video the way `soccerspot spot MATCH.mkv --model CKPT` does
   (`soccerspot.pipeline.inference.video_spot`: features re-extracted with the checkpoint's recorded settings) and
   check it agrees with step 4.

The out folder holds `season/`, `model/`, `predictions/`, `video_spot/` and `summary.json`. A folder
the demo did not make is refused unless empty; one it made (marked by `.soccerspot-demo.json`) is reused:
its season and features are kept when the generation settings are unchanged, the rest is redone.
"""
from __future__ import annotations

import dataclasses
import json
import random
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from soccerspot.data.atomic import write_json_atomic
from soccerspot.data.games import HALVES, LABELS_FILE, PREDICTIONS_FILE
from soccerspot.data.labels import Event, GameLabels, read_labels, read_predictions, write_labels
from soccerspot.data.synthetic.broadcast import (
    SYNTHETIC_CLASSES, VIDEO_NAME, BroadcastConfig, game_is_complete, plan_game, render_games,
    season_game_names,
)
from soccerspot.errors import DataError
from soccerspot.pipeline.evaluation.average_map import evaluate_games
from soccerspot.pipeline.reports.highlights import make_highlight_reel
from soccerspot.pipeline.reports.timeline import write_timeline_plots
from soccerspot.pipeline.reports.windows import HighlightOptions
from soccerspot.pipeline.training.presets import PRESETS, get_preset
from soccerspot.pipeline.training.run_folder import LAST

MARKER_FILE = ".soccerspot-demo.json"
SUMMARY_FILE = "summary.json"
SEASON_DIR, MODEL_DIR, PREDICTIONS_DIR, VIDEO_SPOT_DIR, REPORT_DIR = "season", "model", "predictions", "video_spot", "report"
# The reel of the demo's held-out game: the big moments, a few seconds around each.
REEL_CLASSES = ("Goal", "Penalty", "Red card", "Yellow card")
REEL_BEFORE_S, REEL_AFTER_S, REEL_MIN_CONFIDENCE = 6.0, 8.0, 0.5


@dataclass
class DemoConfig:
    """A demo run. The defaults finish in a few minutes on 2 CPU cores."""

    train_games: int = 4  # two halves each
    test_games: int = 1
    half_seconds: float = 180.0
    video_fps: float = 25.0
    seed: int = 0
    # features: a small ImageNet architecture with random (seeded) weights
    backbone: str = "timm:regnety_002"
    weights: str = "none"
    transform: str = "crop"
    feature_fps: float = 2.0
    precision: str = "fp32"
    extract_batch: int = 32
    # head and training
    head: str = "netvlad++"  # trained with its preset's head settings (`preset_for_head`)
    window_seconds: float = 10.0  # the scripts span ~10 s around each anchor
    sampling: str = "events"
    epochs: int = 100
    batch_size: int = 64
    lr: float = 3e-3
    nms_window: float = 20.0
    # control experiment: train on labels with classes and positions shuffled
    shuffle_labels: bool = False
    workers: int = 2  # processes rendering halves in parallel
    spot_video: bool = True
    report: bool = True  # timeline plots and a highlight reel of the first held-out game

    def generation(self) -> dict:
        """What the season's videos and labels depend on: reused only when it is unchanged (features are
        kept or redone by the extractor itself, which compares their settings)."""
        keys = ("train_games", "test_games", "half_seconds", "video_fps", "seed")
        return {key: getattr(self, key) for key in keys}

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong) for each setting the demo cannot run with."""
        found = []
        for name in ("train_games", "test_games", "epochs", "batch_size", "extract_batch", "workers"):
            if getattr(self, name) < 1:
                found.append((name, f"must be >= 1, got {getattr(self, name)}"))
        if not self.half_seconds >= 60:
            found.append(("half_seconds", f"must be >= 60 (the events' scripts need room), got {self.half_seconds:g}"))
        for name in ("video_fps", "feature_fps", "window_seconds", "lr", "nms_window"):
            if not getattr(self, name) > 0:
                found.append((name, f"must be > 0, got {getattr(self, name)}"))
        if self.head not in demo_heads():
            found.append(("head", f"no training preset trains {self.head!r}; heads: {', '.join(demo_heads())}"))
        return found

    def validate(self) -> "DemoConfig":
        """Raise ValueError naming the first setting the demo cannot run with."""
        for name, reason in self.problems():
            raise ValueError(f"{name} {reason}")
        return self


def demo_heads() -> list[str]:
    """The spotting heads the demo can train: those some training preset trains."""
    from soccerspot.models.heads import list_heads

    return sorted({preset.head for preset in PRESETS.values()} & set(list_heads("spotting")))


def preset_for_head(head: str) -> str:
    """The preset the demo starts from: `<head>-paper` where it exists (the pooling family), else the
    first preset of that head by name (`baidu-transformer` for the transformer)."""
    paper = head.replace("+", "p") + "-paper"
    if paper in PRESETS:
        return paper
    for name in sorted(PRESETS):
        if PRESETS[name].head == head:
            return name
    raise ValueError(f"no training preset for the head {head!r}; heads: {', '.join(demo_heads())}")


# ------------------------------------------------------------------------------------------------ folder


def prepare_out_dir(out: Path, config: DemoConfig) -> bool:
    """Create or reuse the demo folder; returns True when a previous demo's season is reused."""
    marker = out / MARKER_FILE
    if out.exists() and not out.is_dir():
        raise DataError(out, "exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not marker.is_file():
        raise DataError(out, f"holds files that soccerspot demo did not make (no {MARKER_FILE}); choose an empty or "
                             "new --out folder: nothing was changed")
    reuse = False
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except ValueError as error:
            raise DataError(marker, f"unreadable demo marker ({error}); remove the folder or choose another --out") from None
        reuse = previous.get("generation") == config.generation()
        for name in ((MODEL_DIR, PREDICTIONS_DIR, VIDEO_SPOT_DIR, SUMMARY_FILE) + (() if reuse else (SEASON_DIR,))):
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, {"made_by": "soccerspot demo", "generation": config.generation(),
                               "config": dataclasses.asdict(config)})
    return reuse


# ------------------------------------------------------------------------------------------------ stages


def game_seed(config: DemoConfig, index: int) -> int:
    return config.seed * 1000 + index


def generate_season(season: Path, config: DemoConfig, progress: bool = True) -> tuple[list[str], list[str]]:
    """Render every half (in `workers` processes) and write each game's labels; complete games are kept."""
    train_games = season_game_names(config.train_games, "train")
    test_games = season_game_names(config.test_games, "test")
    broadcast = BroadcastConfig(duration_s=config.half_seconds, fps=config.video_fps)
    plans = [plan_game(season / game, game_seed(config, index), broadcast, url=f"synthetic/{game}")
             for index, game in enumerate(train_games + test_games) if not game_is_complete(season / game)]
    render_games(plans, broadcast, workers=config.workers, progress=progress)
    return train_games, test_games


def extract_season(season: Path, games: list[str], config: DemoConfig, progress: bool = True) -> tuple[str, int]:
    """Features of every half beside its video; returns (feature name, frames extracted)."""
    from tqdm import tqdm

    from soccerspot.extract.extractor import ExtractConfig, Extractor
    from soccerspot.models.backbones import BackboneWeightsError

    try:
        extractor = Extractor(ExtractConfig(backbone=config.backbone, weights=config.weights, fps=config.feature_fps,
                                            transform=config.transform, precision=config.precision,
                                            batch_size=config.extract_batch, device="cpu", progress=False))
    except (ValueError, BackboneWeightsError) as error:  # an unknown backbone, weights not available offline
        raise DataError(None, f"cannot extract the season's features: {error}") from error
    frames = 0
    jobs = [(game, half) for game in games for half in HALVES]
    for game, half in tqdm(jobs, desc=f"extract {extractor.name}", unit="half", disable=not progress):
        result = extractor.extract(season / game / VIDEO_NAME.format(half=half), season / game, half)
        frames += result.frames
    return extractor.name, frames


def shuffled_labels(season: Path, games: list[str], out_root: Path, seed: int) -> Path:
    """A labels tree for the control run: every event gets a random class of the season and a random
    position in its half (same number of events per half), so nothing in the pixels predicts them."""
    rng = random.Random(seed)
    for game in games:
        labels = read_labels(season / game / LABELS_FILE)
        classes = [e.label for e in labels.events]
        rng.shuffle(classes)
        duration_ms = max(e.position_ms for e in labels.events) + 10_000
        events = [Event(e.half, rng.randrange(0, duration_ms), label, e.team) for e, label in zip(labels.events, classes)]
        (out_root / game).mkdir(parents=True, exist_ok=True)
        write_labels(out_root / game / LABELS_FILE, GameLabels(url=labels.url, events=events))
    return out_root


def train_config(config: DemoConfig):
    preset = get_preset(preset_for_head(config.head))
    return dataclasses.replace(
        preset, preset=f"demo-{preset.preset}",
        source=f"{preset.source} | soccerspot demo: synthetic season, {config.sampling} windows of "
               f"{config.window_seconds} s, {config.epochs} epochs at constant lr, last checkpoint",
        window_seconds=config.window_seconds, sampling=config.sampling, max_epochs=config.epochs,
        scheduler="none", eval_every=0, batch_size=config.batch_size, lr=config.lr, nms_window=config.nms_window,
        seed=config.seed,
    )


def train_head(season: Path, feature_name: str, games: list[str], run_dir: Path, config: DemoConfig,
               labels_root: Path | None = None, progress: bool = True) -> Path:
    """Train the head; returns its last checkpoint folder."""
    from soccerspot.pipeline.training.tasks.features import load_train_data, train

    recipe = train_config(config)
    data = load_train_data(recipe, season, feature_name, games, [], labels_root=labels_root)
    train(recipe, data, run_dir, progress=False, epoch_bar=progress)
    return run_dir / LAST


def spot_games(checkpoint: Path, season: Path, feature_name: str, games: list[str], out_root: Path) -> None:
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint
    from soccerspot.pipeline.inference.spot import SpotOptions, spot_features

    head = load_checkpoint(checkpoint)
    for game in games:
        spot_features(head, season / game, feature_name, out_root / game / PREDICTIONS_FILE,
                      options=SpotOptions(overwrite=True, save_scores=True), url=game, game=game)


def evaluate_season(season: Path, predictions_root: Path, games: list[str]) -> dict:
    """Average-mAP (loose and tight) over the season's classes; predictions of other classes (the head
    scores all 17) have no ground truth here and are left out."""
    labels = {game: read_labels(season / game / LABELS_FILE) for game in games}
    predictions = {}
    for game in games:
        found = read_predictions(predictions_root / game / PREDICTIONS_FILE)
        found.predictions = [p for p in found.predictions if p.label in SYNTHETIC_CLASSES]
        predictions[game] = found
    results = {}
    for metric in ("loose", "tight"):
        scored = evaluate_games(labels, predictions, SYNTHETIC_CLASSES, metric=metric)
        results[metric] = {"a_mAP": float(scored["a_mAP"]),
                           "per_class": {c: float(v) for c, v in zip(SYNTHETIC_CLASSES, scored["a_mAP_per_class"])}}
    return results


def spot_raw_video(checkpoint: Path, video: Path, out_dir: Path, reference: Path, half: int,
                   precision: str = "fp32") -> dict:
    """What `soccerspot spot VIDEO --model CKPT --out DIR --precision P` does (re-extract the checkpoint's
    features from the video, spot them), then a comparison with the features path's spots of the same
    half (equal when `precision` is the one the season's features were extracted at)."""
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint
    from soccerspot.pipeline.inference.video_spot import spot_video

    record: dict = {"command": f"soccerspot spot {video} --model {checkpoint} --out {out_dir} --precision {precision}",
                    "error": None}
    try:
        report = spot_video(video, load_checkpoint(checkpoint), out_dir=out_dir, device="cpu", precision=precision,
                            progress=False)
    except DataError as error:
        record["error"] = str(error)
        return record
    if report.errors:
        record["error"] = "; ".join(str(result.error) for result in report.errors)
        return record
    from_video = read_predictions(out_dir / PREDICTIONS_FILE).predictions
    from_features = [p for p in read_predictions(reference).predictions if p.half == half]
    key = lambda p: (p.label, p.position_ms, round(p.confidence, 5))  # noqa: E731
    record.update(predictions=len(from_video), results=str(out_dir / PREDICTIONS_FILE),
                  same_as_features_path=sorted(map(key, from_video)) == sorted(map(key, from_features)))
    return record


# ------------------------------------------------------------------------------------------------ run


def write_report(season: Path, game: str, results: Path, out_dir: Path, progress: bool = True) -> dict:
    """Timeline plots (score curves, spots, ground truth) and a highlight reel of one held-out game."""
    plots = write_timeline_plots(results, out_dir, labels=season / game)
    options = HighlightOptions(classes=REEL_CLASSES, min_confidence=REEL_MIN_CONFIDENCE,
                               before_s=REEL_BEFORE_S, after_s=REEL_AFTER_S)
    report = {"game": game, "timeline_plots": [str(p) for p in plots]}
    try:
        reel = make_highlight_reel(season / game, results, out_dir / "highlights.mp4", options, progress=progress)
    except DataError as error:  # e.g. a head that spotted none of the reel's classes: the demo still reports
        return {**report, "reel": None, "reel_error": str(error)}
    return {**report, "reel": str(reel.path), "reel_seconds": round(reel.duration, 2),
            "reel_chapters": str(reel.chapters_text)}


def run_demo(out: str | Path, config: DemoConfig = DemoConfig(), progress: bool = True) -> dict:
    """Run every stage; returns (and writes to `summary.json`) the results and timings."""
    import torch

    config.validate()
    torch.manual_seed(config.seed)
    out = Path(out)
    began = time.perf_counter()
    reused = prepare_out_dir(out, config)
    season, timings = out / SEASON_DIR, {}

    def timed(name: str, step):
        started = time.perf_counter()
        value = step()
        timings[name] = round(time.perf_counter() - started, 2)
        return value

    train_games, test_games = timed("generate", lambda: generate_season(season, config, progress))
    feature_name, frames = timed("extract", lambda: extract_season(season, train_games + test_games, config, progress))
    labels_root = None
    if config.shuffle_labels:
        labels_root = shuffled_labels(season, train_games, out / "shuffled_labels", config.seed)
    checkpoint = timed("train", lambda: train_head(season, feature_name, train_games, out / MODEL_DIR, config,
                                                   labels_root, progress))
    timed("spot", lambda: spot_games(checkpoint, season, feature_name, test_games, out / PREDICTIONS_DIR))
    scores = timed("evaluate", lambda: evaluate_season(season, out / PREDICTIONS_DIR, test_games))
    video_spot = None
    if config.spot_video:
        game = test_games[0]
        video_spot = timed("video_spot", lambda: spot_raw_video(
            checkpoint, season / game / VIDEO_NAME.format(half=1), out / VIDEO_SPOT_DIR,
            out / PREDICTIONS_DIR / game / PREDICTIONS_FILE, half=1, precision=config.precision))
    report = None
    if config.report:
        game = test_games[0]
        report = timed("report", lambda: write_report(season, game, out / PREDICTIONS_DIR / game / PREDICTIONS_FILE,
                                                      out / REPORT_DIR, progress))
    timings["total"] = round(time.perf_counter() - began, 2)
    summary = {
        "a_mAP_loose": scores["loose"]["a_mAP"],
        "a_mAP_tight": scores["tight"]["a_mAP"],
        "a_mAP_per_class_loose": scores["loose"]["per_class"],
        "a_mAP_per_class_tight": scores["tight"]["per_class"],
        "classes": SYNTHETIC_CLASSES,
        "games": {"train": train_games, "test": test_games},
        "feature_name": feature_name,
        "frames_extracted": frames,
        "season_reused": reused,
        "checkpoint": str(checkpoint),
        "predictions": str(out / PREDICTIONS_DIR),
        "video_spot": video_spot,
        "report": report,
        "timings_s": timings,
        "config": dataclasses.asdict(config),
    }
    write_json_atomic(out / SUMMARY_FILE, summary)
    return summary


def format_summary(summary: dict, out: Path) -> str:
    timings = summary["timings_s"]
    lines = [
        f"soccerspot demo: {len(summary['games']['train'])} training games, {len(summary['games']['test'])} held-out "
        f"game(s), {len(summary['classes'])} classes",
        f"  held-out Average-mAP  loose {summary['a_mAP_loose']:.3f}   tight {summary['a_mAP_tight']:.3f}",
        "  per class (loose): " + ", ".join(f"{c} {v:.2f}" for c, v in summary["a_mAP_per_class_loose"].items()),
        "  time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()),
        f"  season (videos, labels, features): {out / SEASON_DIR}",
        f"  model: {summary['checkpoint']}",
        f"  predictions: {summary['predictions']}",
    ]
    video = summary.get("video_spot")
    if video:
        same = video.get("same_as_features_path")
        outcome = (f"error: {video['error']}" if video["error"] else
                   f"{video['predictions']} spots, identical to the features path: {same}")
        lines.append(f"  raw video: {video['command']} -> {outcome}")
    report = summary.get("report")
    if report:
        lines.append(f"  timeline plots: {', '.join(report['timeline_plots'])}")
        lines.append(f"  highlight reel: {report['reel']} ({report['reel_seconds']:.0f} s; chapters "
                     f"{report['reel_chapters']})" if report["reel"] else f"  no highlight reel: {report['reel_error']}")
    lines.append(f"  summary: {out / SUMMARY_FILE}")
    lines.append(f"  watch and correct its spots: soccerspot view {shlex.quote(str(out / PREDICTIONS_DIR / summary['games']['test'][0]))} --labels {shlex.quote(str(out / SEASON_DIR))}")
    return "\n".join(lines)


def print_summary(summary: dict, out: Path) -> None:
    print(format_summary(summary, out), file=sys.stdout)

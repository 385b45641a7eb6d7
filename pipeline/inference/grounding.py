"""Replay grounding on features: for each replay of a half, where is the action it shows?

Two methods, one post-processing (Zhou et al., arXiv 2106.14447, replay grounding; `GroundingOptions`):

- a trained grounding head (`model_detections`): Baidu's grounding transformer (`models.heads.grounding`)
  or the CALF-based baseline of SoccerNet-v2 (`models.heads.calf_grounding`): candidate chunks of
  `window_frames` rows every `stride_s` covering the span from `search_before_s` before the replay's start
  up to its start; each gives a probability and the action's row in it -> one detection (chunk start +
  row, score); CALF's count only in the chunk's central rows.
- `"similarity"` (training-free baseline, ours): cosine similarity between the replay's mean feature and
  every candidate row of the same span, mapped to [0, 1].

The report's post-processing, step by step (`ground_halves`), for each method of a game (one head, or
several merged):

1. filtering (`keep_window`): detections after the replay's end or more than `keep_before_s` before its
   end dropped (the report counts from the end; `keep_before_anchor` "start" counts from the start);
2. fusion (`fusion_detections`, where `fusion` is on and the game has spotting results): the spotting
   results of the report's three most replayed classes (`FUSION_CLASSES`) scoring above S, inside
   [T - W, T] (T the replay's start): the nearest to T becomes a detection scored confidence x beta1, the
   second-nearest confidence x beta2 (W 42 s, S 0.02, beta1 1.25, beta2 0.8). Ours where the report is
   silent: the two are nearest and second-nearest over the three classes together (not per class);
   equal distances go to the higher confidence first; both ends of [T - W, T] count; they join the
   head's detections (the report: "we use the spotting confidence score as the replay grounding
   confidence score").
3. merging (`normalised`, `nms`): each method's detections of the game (all its replays, after 1 and 2)
   min-max normalised to [0, 1] (ours: per game and method, as the report normalises "all event scores"
   without saying over what) when several methods are merged, or fusion is on and the game has spotting
   results (after x beta1 a score may exceed 1, where the official metric's thresholds stop), then all
   methods' detections of a replay together through hard NMS over `nms_window_s` (the report's window of
   25, read as seconds: its spotting NMS windows, 30 and 20, are seconds as in NetVLAD++, and its features
   run at 1 fps, where 25 rows are 25 s too); a kept detection suppresses those less than half the
   window from it, as SoccerNet's NMS does.
4. (ours) the k-th best detection of a replay is scored x `rank_decay`^k: the official metric pools every
   replay's detections, so a replay's runner-up candidates would otherwise compete with the other replays'
   best ones (on bench_grounding's season 0.5 lifted the held-out loose Average-AP of a transformer
   checkpoint from 0.77 to 0.86 and of the similarity baseline from 0.38 to 0.52; 1 turns it off).

The result is the `Detection-replays.json` of a game (`data.cameras.ReplayDetections`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from soccerspot.data.cameras import (
    CAMERAS_FILE, Replay, ReplayDetections, read_camera_labels, replays_of, write_replay_detections,
)
from soccerspot.data.combined_features import combine_half
from soccerspot.data.features import load_features
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.data.labels import Prediction, read_predictions
from soccerspot.errors import DataError


# The report's fusion classes ("top-3 most frequent labels of replay actions: Foul, Goal, Shots-off target"),
# as the v2 class set names them (`data.classes.EVENT_DICTIONARY_V2`).
FUSION_CLASSES = ("Foul", "Goal", "Shots off target")
# `--fusion baidu`: the report's W (s), S, beta1, beta2
BAIDU_FUSION = {"fusion_span_s": 42.0, "fusion_min_score": 0.02, "fusion_nearest_weight": 1.25,
                "fusion_second_weight": 0.8}


def fusion_options(value: str) -> dict:
    """`baidu`, `off` or `W,S,BETA1,BETA2` (the `--fusion` flags) as grounding options; ValueError saying why not."""
    if value == "off":
        return {"fusion": False}
    if value == "baidu":
        return {"fusion": True, **BAIDU_FUSION}
    try:
        w, s, b1, b2 = (float(part) for part in value.split(","))
    except ValueError:
        raise ValueError("expected baidu, off or four numbers W,S,BETA1,BETA2") from None
    if not w > 0 or not 0 <= s <= 1 or not (b1 >= 0 and b2 >= 0):
        raise ValueError("W must be > 0, S in [0, 1], BETA1 and BETA2 >= 0")
    return {"fusion": True, "fusion_span_s": w, "fusion_min_score": s, "fusion_nearest_weight": b1,
            "fusion_second_weight": b2}


@dataclass(frozen=True)
class GroundingOptions:
    """The post-processing of the report (defaults: its values where it gives them, else ours; see
    `models.heads.grounding.GroundingInference`, which stores them with a trained head)."""

    search_before_s: float = 120.0
    keep_before_s: float = 100.0
    keep_before_anchor: str = "end"
    drop_after_end: bool = True
    stride_s: float = 1.0
    nms_window_s: float = 25.0
    fusion: bool = True
    fusion_span_s: float = BAIDU_FUSION["fusion_span_s"]
    fusion_min_score: float = BAIDU_FUSION["fusion_min_score"]
    fusion_nearest_weight: float = BAIDU_FUSION["fusion_nearest_weight"]
    fusion_second_weight: float = BAIDU_FUSION["fusion_second_weight"]
    rank_decay: float = 0.5

    @classmethod
    def of_head(cls, head_config) -> "GroundingOptions":
        return cls(**{f.name: getattr(head_config, f.name) for f in fields(cls)})


@dataclass
class HalfTrack:
    """A half's features with the time of each row."""

    array: np.ndarray  # (rows, dim)
    times: np.ndarray  # (rows,) seconds

    @property
    def step(self) -> float:
        return float(np.median(np.diff(self.times))) if self.times.shape[0] > 1 else 0.5

    def row(self, seconds: float) -> int:
        """The row nearest `seconds`, clipped to the half."""
        index = int(np.searchsorted(self.times, seconds))
        index = min(max(index, 0), self.times.shape[0] - 1)
        if index > 0 and abs(self.times[index - 1] - seconds) <= abs(self.times[index] - seconds):
            index -= 1
        return index


def replay_rows(track: HalfTrack, replay: Replay, frames: int) -> np.ndarray:
    """`frames` rows spread evenly over the replay shot [start, end)."""
    first, last = track.row(replay.start), max(track.row(replay.end) - 1, track.row(replay.start))
    return np.linspace(first, last, frames).round().astype(np.int64)


def tiled_replay_rows(track: HalfTrack, replay: Replay, frames: int) -> np.ndarray:
    """The replay shot's rows (at most `frames`) repeated to fill `frames` rows."""
    first = track.row(replay.start)
    last = max(track.row(replay.end), first + 1)
    shot = np.arange(first, min(last, first + frames))
    return np.resize(shot, frames).astype(np.int64)


REPLAY_FILLS = {"resample": replay_rows, "tile": tiled_replay_rows}


def replay_clip(track: HalfTrack, replay: Replay, frames: int, fill: str = "resample") -> np.ndarray:
    """The replay's `frames` rows of features, resampled over the shot or its rows repeated (`REPLAY_FILLS`)."""
    return np.asarray(track.array[REPLAY_FILLS[fill](track, replay, frames)], dtype=np.float32)


def search_span(track: HalfTrack, replay: Replay, options: GroundingOptions) -> tuple[int, int]:
    """Rows [first, last) where the replayed action is looked for: `search_before_s` before the replay's start
    up to its start."""
    first = track.row(max(replay.start - options.search_before_s, float(track.times[0])))
    return first, max(track.row(replay.start), first + 1)


def candidate_starts(track: HalfTrack, replay: Replay, length: int, options: GroundingOptions,
                     margin: int = 0) -> np.ndarray:
    """Starts of the candidate chunks covering the search span, every `stride_s` (the last ends at its end);
    with a `margin`, each row of the span lies `margin` rows or more inside some chunk."""
    first, last = search_span(track, replay, options)
    stride = max(1, int(round(options.stride_s / track.step)))
    low = first - margin
    high = max(last - length + margin, low)
    starts = np.arange(low, high + 1, stride)
    if starts[-1] != high:
        starts = np.append(starts, high)
    return np.unique(starts.clip(0, max(track.array.shape[0] - length, 0)))


def kept_positions(starts: np.ndarray, positions: np.ndarray, rows: int, length: int, margin: int) -> np.ndarray:
    """Which chunk detections count: those `margin` rows or more inside their chunk, or nearer a border of
    the half (its first and last chunk keep theirs there); all of them when `margin` is 0."""
    if margin <= 0:
        return np.ones(len(starts), dtype=bool)
    low = np.where(starts <= 0, 0, margin)
    high = np.where(starts + length >= rows, length, length - margin)
    return (positions >= low) & (positions < high)


def chunks(track: HalfTrack, starts: np.ndarray, length: int) -> np.ndarray:
    rows = np.clip(starts[:, None] + np.arange(length), 0, track.array.shape[0] - 1)
    return np.asarray(track.array[rows], dtype=np.float32)


# -------------------------------------------------------------------------------------------- training


def training_samples(track: HalfTrack, replay: Replay, length: int, positives: int, negatives: int,
                     rng: np.random.Generator, options: GroundingOptions, other_actions: Sequence[int] = (),
                     hard_fraction: float = 0.0) -> list[tuple[int, float, float]]:
    """(chunk start, holds the action, offset) samples of one replay: `positives` chunks with the action at a
    uniform row of the chunk, `negatives` chunks of the search span without it (the report: 4 + 4). Each
    negative is, with probability `hard_fraction` (ours), a chunk holding another action of the span
    (`other_actions`: rows of the half's labelled actions), else any chunk of the span."""
    action = track.row(replay.link.position_ms / 1000.0)
    first, last = search_span(track, replay, options)
    samples = []
    for _ in range(positives):
        offset = int(rng.integers(0, length))
        samples.append((action - offset, 1.0, offset / length))
    outside = [s for s in range(first, max(last - length, first) + 1) if not s <= action < s + length]
    if not outside:  # a short span: chunks anywhere in the half away from the action
        outside = [s for s in range(0, max(track.array.shape[0] - length, 0) + 1) if not s <= action < s + length]
    others = [row for row in other_actions if first <= row < last and abs(row - action) >= length]
    for _ in range(negatives if outside else 0):
        if others and rng.random() < hard_fraction:
            row = others[int(rng.integers(0, len(others)))]
            start = row - int(rng.integers(0, length))
            if not start <= action < start + length:
                samples.append((start, 0.0, 0.0))
                continue
        samples.append((int(outside[int(rng.integers(0, len(outside)))]), 0.0, 0.0))
    return samples


# ------------------------------------------------------------------------------------------- inference


def model_detections(model, track: HalfTrack, replay: Replay, options: GroundingOptions,
                     batch_size: int = 256) -> list[tuple[float, float]]:
    """(seconds, score) of every candidate chunk of a grounding head (`ground_chunks`: its probability at
    its start + the row it points to), the chunks and replay clip laid out as the head's config says."""
    import torch

    config = model.config
    length, margin = config.window_frames, config.central_margin
    starts = candidate_starts(track, replay, length, options, margin)
    clip = torch.from_numpy(replay_clip(track, replay, config.replay_rows, config.replay_fill))
    rows = track.array.shape[0]
    found = []
    with torch.no_grad():
        for begin in range(0, starts.shape[0], batch_size):
            part = starts[begin:begin + batch_size]
            candidates = torch.from_numpy(chunks(track, part, length))
            outputs = model.ground_chunks(candidates, clip.unsqueeze(0).expand(len(part), -1, -1)).numpy()
            positions = np.round(outputs[:, 1]).astype(np.int64)
            keep = kept_positions(part, positions, rows, length, margin)
            at = np.clip(part[keep] + positions[keep], 0, rows - 1)
            found += [(float(track.times[row]), float(p)) for row, p in zip(at, outputs[keep, 0])]
    return found


def similarity_detections(track: HalfTrack, replay: Replay, options: GroundingOptions, frames: int = 16
                          ) -> list[tuple[float, float]]:
    """(seconds, (cosine + 1) / 2) of every row of the search span against the replay's mean feature."""
    query = replay_clip(track, replay, frames).mean(axis=0)
    first, last = search_span(track, replay, options)
    rows = np.asarray(track.array[first:last], dtype=np.float32)
    cosine = rows @ query / (np.linalg.norm(rows, axis=1) * np.linalg.norm(query) + 1e-12)
    return [(float(t), float((c + 1) / 2)) for t, c in zip(track.times[first:last], cosine)]


def keep_window(detections: list[tuple[float, float]], replay: Replay, options: GroundingOptions) -> list:
    """The report's filter: nothing after the replay's end, nothing more than `keep_before_s` before its end
    (before its start with `keep_before_anchor` "start")."""
    anchor = replay.end if options.keep_before_anchor == "end" else replay.start
    low = anchor - options.keep_before_s
    high = replay.end if options.drop_after_end else np.inf
    return [(t, s) for t, s in detections if low <= t <= high]


def fusion_detections(spots: Sequence[Prediction], replay: Replay, options: GroundingOptions
                      ) -> list[tuple[float, float]]:
    """The report's fusion: of the replay's half's spotting results of `FUSION_CLASSES` with a confidence
    above `fusion_min_score` (S) inside [T - W, T] (T the replay's start, W `fusion_span_s`), the nearest to
    T as (its time, confidence x `fusion_nearest_weight`) and the second-nearest as (its time, confidence x
    `fusion_second_weight`). Equal distances: the higher confidence first (ours). None when fusion is off."""
    if not options.fusion:
        return []
    start = replay.start
    inside = [(p.position_ms / 1000.0, p.confidence) for p in spots
              if p.half == replay.half and p.label in FUSION_CLASSES and p.confidence > options.fusion_min_score
              and start - options.fusion_span_s <= p.position_ms / 1000.0 <= start]
    nearest = sorted(inside, key=lambda spot: (start - spot[0], -spot[1]))[:2]
    weights = (options.fusion_nearest_weight, options.fusion_second_weight)
    return [(t, confidence * weight) for (t, confidence), weight in zip(nearest, weights)]


def normalised(per_replay: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
    """Every score min-max mapped to [0, 1] over all the lists (one method's detections of a game): the
    lowest becomes 0, the highest 1; all equal: all 1."""
    scores = [s for detections in per_replay for _, s in detections]
    if not scores:
        return per_replay
    low, high = min(scores), max(scores)
    span = high - low
    return [[(t, (s - low) / span if span > 0 else 1.0) for t, s in detections] for detections in per_replay]


def nms(detections: list[tuple[float, float]], window_s: float) -> list[tuple[float, float]]:
    """Hard NMS: the best detection, then the best farther than window_s / 2 from every kept one, …"""
    kept: list[tuple[float, float]] = []
    for t, s in sorted(detections, key=lambda d: (-d[1], d[0])):
        if all(abs(t - k) >= window_s / 2 for k, _ in kept):
            kept.append((t, s))
    return sorted(kept)


def rank_scores(detections: list[tuple[float, float]], decay: float) -> list[tuple[float, float]]:
    """The k-th best detection's score x decay^k (k from 0), in time order."""
    ranked = sorted(detections, key=lambda d: (-d[1], d[0]))
    return sorted((t, s * decay ** k) for k, (t, s) in enumerate(ranked))


def method_detections(track: HalfTrack, replay: Replay, options: GroundingOptions, model=None,
                      spots: Sequence[Prediction] = ()) -> list[tuple[float, float]]:
    """One method's detections of a replay after filtering and fusion (steps 1 and 2): a grounding head's
    (`model`) or the similarity baseline's (`model` None)."""
    raw = (model_detections(model, track, replay, options) if model is not None
           else similarity_detections(track, replay, options))
    return keep_window(raw, replay, options) + fusion_detections(spots, replay, options)


def merged_detections(per_method: list[list[list[tuple[float, float]]]], replays: Sequence[Replay],
                      options: GroundingOptions, normalise: bool) -> list[ReplayDetections]:
    """Steps 3 and 4: `per_method[m][r]` (method m's detections of replay r), each method normalised over
    the game when `normalise`, then each replay's detections of every method through NMS and rank decay."""
    if normalise:
        per_method = [normalised(found) for found in per_method]
    out = []
    for index, replay in enumerate(replays):
        kept = nms([d for found in per_method for d in found[index]], options.nms_window_s)
        kept = rank_scores(kept, options.rank_decay)
        out.append(ReplayDetections(replay.half, replay.start, replay.end, [(round(t, 3), s) for t, s in kept]))
    return out


def ground_replay(track: HalfTrack, replay: Replay, options: GroundingOptions, model=None,
                  spots: Sequence[Prediction] = ()) -> ReplayDetections:
    """One replay through one method (a grounding head, or the similarity baseline when `model` is None),
    as `ground_halves` would ground a game holding only this replay."""
    return ground_halves({replay.half: track}, [replay], options, [model], spots)[0]


def fusion_applies(options: GroundingOptions, spots: Sequence[Prediction]) -> bool:
    """Fusion is on and the game has spotting results."""
    return options.fusion and len(spots) > 0


def ground_halves(tracks: dict[int, HalfTrack], replays: Sequence[Replay], options: GroundingOptions,
                  models: Sequence = (None,), spots: Sequence[Prediction] = ()) -> list[ReplayDetections]:
    """Every replay of a game, by every method of `models` (grounding heads; None is the similarity
    baseline) merged (the module's steps 1-4; halves without features are a `KeyError` the caller names)."""
    if not models:
        raise ValueError("ground_halves needs at least one method (a grounding head or None for similarity)")
    per_method = []
    for model in models:
        if model is not None:
            model.eval()
        per_method.append([method_detections(tracks[replay.half], replay, options, model, spots)
                           for replay in replays])
    return merged_detections(per_method, replays, options, len(models) > 1 or fusion_applies(options, spots))


def load_half_tracks(game_dir, features_name: str, halves: Sequence[int]) -> dict[int, HalfTrack]:
    """The halves' features (memory-mapped); a missing file is a `DataError` naming it."""
    tracks = {}
    for half in sorted(set(halves)):
        features = load_features(game_dir, half, features_name)
        tracks[half] = HalfTrack(features.array, features.meta.frame_times())
    return tracks


OUTSIDE_TOLERANCE_S = 2.0


def check_replays_fit(tracks: dict[int, HalfTrack], replays: Sequence[Replay], where) -> None:
    """A replay ending past its half's features (by more than `OUTSIDE_TOLERANCE_S`) is a `DataError`
    (labels of another game or features of another video)."""
    for replay in replays:
        times = tracks[replay.half].times
        if replay.end > times[-1] + OUTSIDE_TOLERANCE_S or replay.end < replay.start:
            raise DataError(where, f"replay {replay.start}-{replay.end} s of half {replay.half} lies outside the "
                                   f"half's features (0-{times[-1]:.0f} s)")


def ground_game(game_dir, features_name: str, replays: Sequence[Replay], options: GroundingOptions,
                models: Sequence = (None,), spots: Sequence[Prediction] = (), where=None) -> list[ReplayDetections]:
    """Detection-replays of a game folder's replays from its `<half>_<features_name>.npy` (`models`: as
    `ground_halves`)."""
    tracks = load_half_tracks(game_dir, features_name, [replay.half for replay in replays])
    check_replays_fit(tracks, replays, where or game_dir)
    return ground_halves(tracks, replays, options, models, spots)


# ------------------------------------------------------------------------------------ `soccerspot ground`

SIMILARITY = "similarity"  # --model value of the training-free baseline


@dataclass
class GroundResult:
    game: str
    path: object  # the Detection-replays.json written (or skipped)
    status: str  # "grounded" | "skipped" | "failed" | "no camera labels"
    replays: int = 0
    reason: str = ""


@dataclass
class Grounder:
    """What grounds: the grounding head of a checkpoint (`head`) or the similarity baseline (`head` None),
    and the methods merged with it (`merged`: more checkpoints' heads, None for the similarity baseline),
    all through the first one's post-processing `options`."""

    options: GroundingOptions
    head: object = None  # pipeline.inference.checkpoints.LoadedHead
    feature_name: str | None = None
    merged: tuple = ()  # LoadedHead or None (similarity), merged with the first method

    @property
    def model(self):
        return None if self.head is None else self.head.model

    @property
    def models(self) -> list:
        """Every method's model (None: the similarity baseline), the first one first."""
        return [self.model] + [None if head is None else head.model for head in self.merged]


def load_grounding_head(model: str):
    """A checkpoint's grounding head (a `LoadedHead`); a spotting head is a `DataError` naming it."""
    from soccerspot.models.heads import head_entry
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint

    head = load_checkpoint(model)
    if head_entry(head.config.kind).task != "grounding":
        raise DataError(head.path, f"a {head.config.kind} head spots actions; grounding needs a replay grounding "
                                   "head (soccerspot train --preset baidu-grounding) or --model similarity")
    return head


def head_feature_name(head) -> str | None:
    return head.feature_name or head.training.get("features")


def load_grounder(model: str, feature_name: str | None = None, overrides: dict | None = None,
                  merge_with: Sequence[str] = ()) -> Grounder:
    """`--model CKPT` (a trained grounding head) or `--model similarity`; `overrides` replace options;
    `merge_with`: more checkpoints (or "similarity") whose detections are merged with the first one's (the
    report's merge step), each on the same features as the first."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if model == SIMILARITY:
        grounder = Grounder(dataclasses.replace(GroundingOptions(), **overrides), None, feature_name)
    else:
        head = load_grounding_head(model)
        options = dataclasses.replace(GroundingOptions.of_head(head.config), **overrides)
        grounder = Grounder(options, head, feature_name or head_feature_name(head))
    merged = []
    for other in merge_with:
        if other == SIMILARITY:
            merged.append(None)
            continue
        head = load_grounding_head(other)
        check_same_features(grounder, head)
        if grounder.feature_name is None:
            grounder.feature_name = head_feature_name(head)
        merged.append(head)
    grounder.merged = tuple(merged)
    return grounder


def check_same_features(grounder: Grounder, head) -> None:
    """A head merged into `grounder` reads the same features: same name (where both name theirs) and width."""
    name = head_feature_name(head)
    if grounder.feature_name is not None and name is not None and name != grounder.feature_name:
        raise DataError(head.path, f"trained on features {name!r}, the grounding it is merged with reads "
                                   f"{grounder.feature_name!r}: merged heads must read the same features")
    first = grounder.head
    if first is not None and first.config.input_dim != head.config.input_dim:
        raise DataError(head.path, f"a head for {head.config.input_dim}-d features merged with one for "
                                   f"{first.config.input_dim}-d features: merged heads must read the same features")


def game_replays_for(game_dir, replays_file=None) -> list[Replay]:
    path = Path(replays_file) if replays_file is not None else Path(game_dir) / CAMERAS_FILE
    return replays_of(read_camera_labels(path))


def spots_for(game_dir, grounder: Grounder, warnings: list[str]) -> list[Prediction]:
    """The game's results_spotting.json when fusion is on (a warning and no fusion without it)."""
    if not grounder.options.fusion:
        return []
    path = Path(game_dir) / PREDICTIONS_FILE
    if not path.is_file():
        warnings.append(f"{path}: not found; grounded without fusion with spotting results (soccerspot spot "
                        "writes it; --fusion off turns fusion off)")
        return []
    return read_predictions(path).predictions


def ground_folder(game_dir, grounder: Grounder, out_path, replays_file=None, overwrite: bool = False,
                  warnings: list[str] | None = None, game: str = ".", halves: Sequence[int] | None = None
                  ) -> GroundResult:
    """Ground one game folder holding the features (of `halves`: the replays of those halves only);
    writes `out_path` (Detection-replays.json)."""
    out_path = Path(out_path)
    if out_path.exists() and not overwrite:
        return GroundResult(game, out_path, "skipped", reason="exists (--overwrite replaces it)")
    if grounder.feature_name is None:
        raise DataError(game_dir, "which features? the checkpoint does not name them: pass --features NAME")
    replays = [r for r in game_replays_for(game_dir, replays_file) if halves is None or r.half in halves]
    found = ground_game(game_dir, grounder.feature_name, replays, grounder.options, grounder.models,
                        spots_for(game_dir, grounder, warnings if warnings is not None else []),
                        where=replays_file or Path(game_dir) / CAMERAS_FILE)
    write_replay_detections(out_path, found, game=game)
    return GroundResult(game, out_path, "grounded", len(replays))


def extract_video_features(input_path, grounder: Grounder, out_dir=None, progress: bool = True):
    """For video input: the checkpoint's features extracted (or reused) as `spot VIDEO` does; returns the
    game folder and the halves extracted."""
    from soccerspot.pipeline.inference.video_spot import extract_half, plan_extraction, plan_video_input, reusable_precision

    if grounder.head is None:
        raise DataError(input_path, "video input needs a checkpoint (its feature settings say what to extract); "
                                    "the similarity baseline grounds features: extract them first")

    game_dir, jobs = plan_video_input(Path(input_path), Path(out_dir) if out_dir is not None else None)
    plan = plan_extraction(grounder.head, progress=progress, feature_name=grounder.feature_name)
    for job in jobs:
        for extractor in plan.extractors:
            if reusable_precision(extractor, job.video, game_dir, job.half) is None:
                extract_half(extractor, job.video, game_dir, job.half)
        if plan.combine is not None:
            combine_half(game_dir, job.half, plan.combine)
    grounder.feature_name = plan.name
    return game_dir, [job.half for job in jobs]

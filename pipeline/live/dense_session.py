"""One live run of a dense frame model (E2E-Spot, T-DEED): the model's frames -> final per-frame probabilities ->
event lines, then the files `soccerspot spot VIDEO --model DIR` writes.

The loop (caller's thread): take the frames of the model's recipe that arrived (`dense_frames.LiveRecipeFrames`),
run the clips that can be cut and take the frames that became final (`dense_scoring.IncrementalDenseProbabilities`:
a frame is final at most one clip after it arrived), and turn them into event lines (`events.EventTracker` with
the peer's NMS kind and window, in the model's frames; a team model's events are (class, team)). The bound on a
decision is a clip plus the NMS radius (`events.latency_bound_s` with the clip length as the rows a frame's score
waits for); an undecided event is emitted at `max_latency_s` (default: that bound + 2 s). Each line goes to the
run's log first, then to --events / the webhook, as in `session`.

When the source ends, the remaining clips run, the half's per-frame probabilities are written as `spot
--save-scores` writes them (`<half>_scores.npy`, the model's frames and their times) and `results_spotting.json`
is made by the offline dense code (`dense_spot.half_spots`, `data.labels.write_predictions` at the peer's
evaluation rate) from every half whose scores are in the folder: what `spot` writes for the same recording. The
tracker then settles its events against those spots (late events, retractions).

Not resumable as the feature heads' run is: the frames a clip needs are not stored (hundreds of MB a half). A
restarted run on a file or HLS playlist reads it again from its start and skips the event ids the earlier run
emitted; a stream URL, which cannot replay, is refused with the earlier run's state present.
"""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np

from soccerspot.data.atomic import write_json_atomic
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.data.labels import GamePredictions, read_predictions, write_predictions
from soccerspot.data.scores import read_scores, scores_path, write_scores
from soccerspot.errors import DataError
from soccerspot.extract.extractor import resolve_device
from soccerspot.extract.precision import resolve_precision
from soccerspot.pipeline.inference.dense_spot import SIDES, DenseHalf, DenseSpotter, half_spots, scores_meta
from soccerspot.pipeline.live.dense_frames import LiveRecipeFrames
from soccerspot.pipeline.live.dense_scoring import IncrementalDenseProbabilities
from soccerspot.pipeline.live.events import (
    EventTracker, default_max_latency_s, latency_bound_s, waited_by_next_turn,
)
from soccerspot.pipeline.live.session import LiveOptions, LiveReport, MAX_BATCH, Status
from soccerspot.pipeline.live.publisher import open_publisher
from soccerspot.pipeline.live.sources import LiveSource, source_kind
from soccerspot.pipeline.live.state import STATE_DIR, recorded_identity

DENSE_CLIPS_PER_BATCH = 4  # `spot`'s default for a dense model (both peers' INFERENCE_BATCH_SIZE)


def state_path(out_dir: Path, half: int) -> Path:
    return out_dir / STATE_DIR / f"{half}_dense.json"


def claim_state(out_dir: Path, half: int, identity: dict) -> None:
    """Check the folder for an earlier run of this half (refusing what cannot go on), then record this one."""
    marker = state_path(out_dir, half)
    if marker.is_file():
        if recorded_identity(marker) != identity:
            raise DataError(marker, "a live run of another source or model left its state here; remove the .live "
                                    "folder or use another --out")
        if source_kind(identity["source"]) == "url":
            raise DataError(marker, "a dense model's live run of a stream URL cannot resume (its clips need the "
                                    "frames before the cut, which are not kept): use another --out")
    elif scores_path(out_dir, half).is_file():
        raise DataError(scores_path(out_dir, half), f"half {half} was already spotted here (its scores exist); "
                                                    "remove them or use another --out")
    marker.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, identity)


def remove_state(out_dir: Path, half: int) -> None:
    state_path(out_dir, half).unlink(missing_ok=True)
    folder = out_dir / STATE_DIR
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


class DenseStatus(Status):
    """`session.Status` counting the model's frames."""

    def __init__(self, options: LiveOptions, report: LiveReport, source: LiveSource, frames: LiveRecipeFrames):
        super().__init__(options, report, source, frames)

    def _fps(self) -> float:
        return self.live.model_fps() or 1.0


def all_halves_spots(spotter: DenseSpotter, out_dir: Path, half: int, probabilities: np.ndarray,
                     times: np.ndarray) -> list:
    """This half's spots, and those of the other halves whose scores this folder holds (a live run of each)."""
    predictions = half_spots(probabilities, times, spotter, half)
    for other in (1, 2):
        if other != half and scores_path(out_dir, other).is_file():
            saved = read_scores(out_dir, other)
            if saved.classes != spotter.score_names():
                raise DataError(saved.path, f"half {other}'s scores have other columns than this model's "
                                            f"({', '.join(spotter.score_names())}): spotted with another model")
            with_background = np.concatenate([np.zeros((len(saved.times), 1), np.float32), saved.probabilities], 1)
            predictions += half_spots(with_background, saved.times, spotter, other)
    return predictions


def run_dense_live(spotter: DenseSpotter, options: LiveOptions, stop: threading.Event | None = None,
                   clips_per_batch: int = DENSE_CLIPS_PER_BATCH) -> LiveReport:
    stop = stop or threading.Event()
    out_dir, half = Path(options.out_dir), options.half
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(options.device)
    precision = resolve_precision(options.precision, device)
    spotter.model.to(device)
    source = LiveSource(options.source, idle_s=options.idle_s, stop=stop)  # a missing file: refused before any state
    claim_state(out_dir, half, {"source": options.source, "model": str(spotter.path), "kind": spotter.kind})
    report = LiveReport()
    frames = LiveRecipeFrames(source, spotter.frames)
    clip_len = int(spotter.model.clip_len)
    scorer = IncrementalDenseProbabilities(spotter.model, clip_len, spotter.rule, spotter.model.input_spec,
                                           clips_per_batch=clips_per_batch, precision=precision)
    nms = spotter.nms
    tracker = EventTracker(spotter.classes, half, nms.kind, nms.window, nms.threshold, math.inf,
                           options.min_confidence, teams=SIDES if spotter.team else ())
    status = DenseStatus(options, report, source, frames)
    times: list[float] = []
    arrivals: list[float] = []

    publisher = open_publisher(out_dir, half, options, tracker, report, times, arrivals)
    publish = publisher.publish

    def bound(fps: float) -> None:
        """The decision bound once the model's frame rate is known (the source's first frame)."""
        report.bound_s = latency_bound_s(nms.window, clip_len, fps, nms.kind)
        report.max_latency_s = options.max_latency_s if options.max_latency_s is not None else \
            default_max_latency_s(nms.window, clip_len, fps, nms.kind)
        tracker.max_latency_s = report.max_latency_s

    began = time.time()
    frames.start()
    try:
        turn_s, turn_began = 0.0, time.perf_counter()  # the loop's last turn: deadlines look one turn ahead
        while True:
            turn_s, turn_began = time.perf_counter() - turn_began, time.perf_counter()
            batch = frames.take(MAX_BATCH, wait_s=0.2)
            if batch is None:
                break
            if len(batch.times):
                if not report.rows:
                    bound(frames.model_fps())
                busy_from = time.perf_counter()
                times.extend(float(t) for t in batch.times)
                arrivals.extend(float(a) for a in batch.arrivals)
                report.rows += len(batch.times)
                if len(scorer.add(batch.frames)):
                    final = scorer.array()
                    publish(tracker.update(final[:, 1:], np.asarray(times[: len(final)]), times[-1],
                                           waited=waited_by_next_turn(arrivals[: len(final)], time.time(), turn_s)))
                report.busy_s += time.perf_counter() - busy_from
                report.end_lag_s = time.time() - arrivals[-1]
            if tracker.pending:
                publish(tracker.overdue(waited_by_next_turn(arrivals, time.time(), turn_s)))
            status.tick(times)
    finally:
        report.wall_s = time.time() - began
        report.gaps = [gap.to_json() for gap in source.gaps]
        report.stream_s = report.rows / frames.model_fps() if frames.model_fps() else 0.0
        report.times, report.arrivals = times, arrivals
    if not times:
        publisher.close(sinks=False)
        remove_state(out_dir, half)  # nothing was spotted: the same command may start afresh
        raise DataError(options.source, "no video frames arrived from the source")
    probabilities = scorer.finish()
    frame_times = np.asarray(times)
    spotted = DenseHalf(half, probabilities, frame_times)
    location = source.path if source.kind == "file" else Path(source.spec)
    meta = scores_meta(spotter, spotted, location, frames.video_fps)
    report.features = write_scores(out_dir, half, probabilities[:, 1:], meta, spotter.score_names(),
                                   feature_name=spotter.frames.name, model=str(spotter.path))
    report.results = out_dir / PREDICTIONS_FILE
    predictions = all_halves_spots(spotter, out_dir, half, probabilities, frame_times)
    write_predictions(report.results, GamePredictions(url=source.name, predictions=predictions),
                      framerate=spotter.eval_framerate)
    publish(tracker.finish(read_predictions(report.results).predictions, frame_times))
    publisher.close()
    remove_state(out_dir, half)
    status.done(times)
    return report

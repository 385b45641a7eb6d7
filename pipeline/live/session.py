"""One live run: a source's frames -> feature rows -> final per-row scores -> event lines, then the usual files.

The loop (caller's thread): take the rows of the frames that arrived (`extraction.LiveFeatures`), append
them to the resume store (`state`), score the rows that became final (`scoring.IncrementalScores`), turn
them into event lines (`events.EventTracker`; an undecided event is emitted `max_latency_s` after its
frame arrived, by default the head's own bound + 2 s, checked on every turn of the loop), write each line to the run's log first and then to
--events / the webhook, and print a status line. When the source ends (idle, end of playlist) or is
stopped (Ctrl-C, SIGTERM) the half's features are written and `results_spotting.json` is made by the
offline code (`pipeline.inference.spot.spot_features`) from them: the files `soccerspot spot` writes for the same
recording; the tracker then settles its events against those spots (late events, retractions). Features of
SoccerNet's FrameCV rule are first settled against the finished file's rule (`framecv.settle_framecv`: rows
re-made where its rate check changes the frames kept).
"""
from __future__ import annotations

import dataclasses
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soccerspot.data.features import sidecar_path, write_features
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.data.labels import read_predictions
from soccerspot.errors import DataError
from soccerspot.pipeline.inference.checkpoints import LoadedHead
from soccerspot.pipeline.inference.nms import window_in_frames
from soccerspot.pipeline.inference.spot import SpotOptions, resolve_nms, spot_features
from soccerspot.pipeline.inference.video_spot import plan_extraction
from soccerspot.pipeline.live.events import (
    EventTracker, default_max_latency_s, latency_bound_s, waited_by_next_turn,
)
from soccerspot.pipeline.live.extraction import LiveFeatures
from soccerspot.pipeline.live.framecv import settle_framecv
from soccerspot.pipeline.live.scoring import IncrementalScores
from soccerspot.pipeline.live.publisher import open_publisher
from soccerspot.pipeline.live.sources import LiveSource, source_kind
from soccerspot.pipeline.live.state import STATE_DIR, open_row_store, remove_state

MAX_BATCH = 16  # frames per backbone pass at most (a backlog is worked off in batches of this size)


@dataclass
class LiveOptions:
    source: str
    out_dir: Path
    half: int = 1
    idle_s: float = 10.0
    max_latency_s: float | None = None  # None: the head's own bound + 2 s (`events.default_max_latency_s`)
    min_confidence: float = 0.0
    events: str | None = None  # a file, or "-" for stdout
    webhook: str | None = None
    status_every_s: float = 2.0  # 0: no status lines
    behind_s: float = 5.0  # stream seconds waiting for the backbone before "falling behind" is said
    spot: SpotOptions = field(default_factory=SpotOptions)
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 32  # `spot`'s extraction batch (its last batch decides one row's rounding)
    weights_file: str | None = None
    pca_file: str | None = None
    feature_name: str | None = None


@dataclass
class LiveReport:
    rows: int = 0
    resumed_rows: int = 0
    events: int = 0
    corrections: int = 0
    skipped_ids: int = 0  # events a previous run had already emitted
    gaps: list = field(default_factory=list)
    stream_s: float = 0.0
    wall_s: float = 0.0
    busy_s: float = 0.0  # seconds spent extracting, scoring and emitting (not waiting for the source)
    end_lag_s: float = 0.0  # from the last frame's arrival to its row's features
    behind_warnings: int = 0
    features: Path | None = None
    results: Path | None = None
    bound_s: float = 0.0  # the head's own bound (`events.latency_bound_s`)
    max_latency_s: float = 0.0  # what the run used
    framecv: dict | None = None  # FrameCV sampling: the numbers its keep rule ran on for the final rows
    remade_rows: int = 0  # FrameCV sampling: rows re-made from the finished file at its corrected rate
    latencies: list = field(default_factory=list)  # (id, seconds from the event's frame arriving to its line)
    times: list = field(default_factory=list)  # each row's stream time
    arrivals: list = field(default_factory=list)  # each row's frame arrival (time.time(); nan: a resumed row)

    @property
    def realtime_factor(self) -> float:
        """Stream seconds per second of processing: >= 1 keeps up with a real-time source."""
        return self.stream_s / self.busy_s if self.busy_s > 0 else float("nan")


class Growing:
    """A (rows, dim) float32 array that grows by appending, with amortised copies."""

    def __init__(self, dim: int):
        self.data = np.zeros((256, dim), np.float32)
        self.count = 0

    def extend(self, rows: np.ndarray) -> None:
        needed = self.count + len(rows)
        if needed > len(self.data):
            bigger = np.zeros((max(needed, 2 * len(self.data)), self.data.shape[1]), np.float32)
            bigger[: self.count] = self.data[: self.count]
            self.data = bigger
        self.data[self.count : needed] = rows
        self.count = needed

    def view(self) -> np.ndarray:
        return self.data[: self.count]


def plan_extractor(head: LoadedHead, options: LiveOptions):
    plan = plan_extraction(head, device=options.device, precision=options.precision, batch_size=options.batch_size,
                           weights_file=options.weights_file, pca_file=options.pca_file,
                           feature_name=options.feature_name, progress=False)
    if plan.combine is not None:
        raise DataError(head.path, "live spotting with a head trained on combined features is not supported yet")
    extractor = plan.extractors[0]
    if extractor.is_clip:
        raise DataError(head.path, f"live spotting with a video backbone ({extractor.backbone.name}: clips of frames "
                                   "around each row) is not supported yet")
    return extractor


def run_live(head: LoadedHead, options: LiveOptions, stop: threading.Event | None = None) -> LiveReport:
    stop = stop or threading.Event()
    out_dir, half = Path(options.out_dir), options.half
    out_dir.mkdir(parents=True, exist_ok=True)
    extractor = plan_extractor(head, options)
    name, fps = extractor.name, float(extractor.config.fps)
    if sidecar_path(out_dir, half, name).is_file() and not (out_dir / STATE_DIR / f"{half}_{name}.json").is_file():
        raise DataError(sidecar_path(out_dir, half, name), f"half {half} was already spotted live here (its features "
                                                           "exist); remove them or use another --out")
    identity = {"source": options.source, "settings": extractor.meta_template().settings(),
                "raw_dim": int(extractor.backbone.feature_dim)}
    store = open_row_store(out_dir, half, name, identity, int(extractor.backbone.feature_dim))
    stored_times, stored_raw = store.read()
    report = LiveReport(resumed_rows=len(stored_times))
    resume_live = bool(len(stored_times)) and source_kind(options.source) == "url"  # a URL cannot replay
    source = LiveSource(options.source, idle_s=options.idle_s, stop=stop,
                        continue_after=len(stored_times) / fps if resume_live else None)
    live = LiveFeatures(extractor, source, skip_rows=0 if resume_live else len(stored_times),
                        start_s=len(stored_times) / fps if resume_live else 0.0,
                        rows_before=len(stored_times) if resume_live else 0)

    raw = Growing(int(extractor.backbone.feature_dim))
    features = Growing(int(extractor.dim))
    times: list[float] = []
    arrivals: list[float] = []

    def add(new_times, new_raw, new_arrivals):
        raw.extend(new_raw)
        features.extend(extractor.pca.transform(new_raw) if extractor.pca is not None else new_raw)
        times.extend(float(t) for t in new_times)
        arrivals.extend(float(a) for a in new_arrivals)

    add(stored_times, stored_raw, np.full(len(stored_times), np.nan))
    nms = resolve_nms(head, options.spot)
    scorer = IncrementalScores(head.model, head.config.window_frames, method=options.spot.method,
                               batch_size=options.spot.batch_size)
    nms_frames = window_in_frames(nms.window_seconds, fps)
    report.bound_s = latency_bound_s(nms_frames, scorer.context.future, fps)
    report.max_latency_s = options.max_latency_s if options.max_latency_s is not None else \
        default_max_latency_s(nms_frames, scorer.context.future, fps)
    tracker = EventTracker(head.classes, half, nms.kind, nms_frames, nms.threshold, report.max_latency_s,
                           options.min_confidence)
    status = Status(options, report, source, live)

    publisher = open_publisher(out_dir, half, options, tracker, report, times, arrivals)
    publish = publisher.publish

    began = time.time()
    live.start()
    try:
        turn_s, turn_began = 0.0, time.perf_counter()  # the loop's last turn: deadlines look one turn ahead
        while True:
            turn_s, turn_began = time.perf_counter() - turn_began, time.perf_counter()
            rows = live.take(MAX_BATCH, wait_s=0.2)
            if rows is None:
                break
            if len(rows.times):
                report.busy_s += live.forward_s
                busy_from = time.perf_counter()
                store.append(rows.times, rows.features)
                add(rows.times, rows.features, rows.arrivals)
                report.rows += len(rows.times)
                fresh = scorer.update(features.view())
                if len(fresh):
                    final = scorer.array()
                    publish(tracker.update(final[:, 1:], np.asarray(times[: len(final)]), times[-1],
                                           waited=waited_by_next_turn(arrivals[: len(final)], time.time(), turn_s)))
                report.busy_s += time.perf_counter() - busy_from
                report.end_lag_s = time.time() - arrivals[-1]
            if tracker.pending:  # undecided events whose frame arrived max_latency_s ago go out now
                publish(tracker.overdue(waited_by_next_turn(arrivals, time.time(), turn_s)))
            status.tick(times)
    finally:
        report.wall_s = time.time() - began
        report.gaps = [gap.to_json() for gap in source.gaps]
        report.stream_s = report.rows / fps
        report.times, report.arrivals = times, arrivals
    if not times:
        publisher.close(sinks=False)
        raise DataError(options.source, "no video frames arrived from the source")
    final_raw = raw.view().copy()
    if len(times) % options.batch_size == 1 and live.last_image is not None:
        final_raw[-1] = live.last_row_alone()
    final_features = extractor.pca.transform(final_raw) if extractor.pca is not None else final_raw
    final_times = times
    if extractor.config.sampling == "framecv":
        settled = settle_framecv(extractor, source, live, final_features, times, stopped=stop.is_set(),
                                 progress=bool(options.status_every_s))
        if settled.note:
            print(f"soccerspot live: warning: {settled.note}", file=sys.stderr, flush=True)
        final_features, final_times, report.framecv = settled.features, settled.times, settled.timing
        report.remade_rows = len(settled.times) if settled.remade else 0
    report.features = write_features(out_dir, half, name, final_features.astype(np.float32, copy=False),
                                     final_meta(extractor, source, final_times, report))
    result = spot_features(head, out_dir, name, options=dataclasses.replace(options.spot, overwrite=True),
                           url=source.name)
    report.results = result.output
    predictions = read_predictions(out_dir / PREDICTIONS_FILE).predictions
    publish(tracker.finish(predictions, np.asarray(final_times)))
    publisher.close()
    remove_state(out_dir, half, name)
    status.done(times)
    return report


def final_meta(extractor, source: LiveSource, times: list[float], report: LiveReport):
    meta = extractor.meta_template()
    meta.timestamps = [float(t) for t in times]
    meta.source = str(source.path.resolve()) if source.kind == "file" else source.spec
    meta.source_size = source.path.stat().st_size if source.kind == "file" else None
    meta.extra = {"duration": None, "decoder": "pyav", "source_fps": source.average_fps, "device": extractor.device.type,
                  "allocator": extractor.allocator, "seconds": round(report.wall_s, 3), "live": True,
                  "gaps": report.gaps, "resumed_rows": report.resumed_rows}
    if report.framecv is not None:
        meta.extra.update(framecv=report.framecv, remade_rows=report.remade_rows)
    return meta


class Status:
    """The status line on stderr: stream time, lag behind the live edge, real-time factor, events so far."""

    def __init__(self, options: LiveOptions, report: LiveReport, source: LiveSource, live: LiveFeatures):
        self.options, self.report, self.source, self.live = options, report, source, live
        self.last_print = time.time()
        self.last_rows = report.rows
        self.last_busy = report.busy_s
        self.warned_backlog = options.behind_s

    def tick(self, times: list[float]) -> None:
        now = time.time()
        every = self.options.status_every_s
        backlog_s = self.live.backlog / self._fps()
        if backlog_s >= self.warned_backlog:
            print(f"soccerspot live: warning: processing falls behind real time: {backlog_s:.1f} s of stream "
                  f"({self.live.backlog} frames) wait for the backbone; none is dropped", file=sys.stderr)
            self.report.behind_warnings += 1
            self.warned_backlog *= 2
        if not every or now - self.last_print < every:
            return
        busy = self.report.busy_s - self.last_busy
        rtf = (self.report.rows - self.last_rows) / self._fps() / busy if busy > 0 else float("nan")
        self.last_print, self.last_rows, self.last_busy = now, self.report.rows, self.report.busy_s
        print(self.line(times, rtf), file=sys.stderr, flush=True)

    def _fps(self) -> float:
        return float(self.live.extractor.config.fps)

    def line(self, times: list[float], rtf: float) -> str:
        stream = times[-1] if times else 0.0
        edge = self.source.last_time if self.source.last_time is not None else stream
        return (f"live half {self.options.half}: stream {int(stream) // 60:02d}:{stream % 60:04.1f} | lag "
                f"{max(0.0, edge - stream):.1f} s | processing at {rtf:.2f}x real time | {self.report.events} events | "
                f"{len(self.source.gaps)} gaps")

    def done(self, times: list[float]) -> None:
        if self.options.status_every_s:
            print(self.line(times, self.report.realtime_factor) + " | ended", file=sys.stderr, flush=True)

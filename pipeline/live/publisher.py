"""Where a live run's event lines go: the run's own log first, then `--events` / the webhook.

Both live paths (feature heads, `session`; dense frame models, `dense_session`) publish through one
`EventPublisher`: it takes the lines an earlier run of the same command wrote (resume: no event id twice,
a retracted one may come again), stamps each event line with its latency (seconds from its row's frame
arriving, where known) and counts what went out in the run's report.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soccerspot.pipeline.live.events import EventLine, EventTracker
from soccerspot.pipeline.live.sinks import JsonLinesSink, WebhookSink
from soccerspot.pipeline.live.state import EventLog, events_log_path, read_event_log


@dataclass
class EventPublisher:
    log: EventLog
    sinks: list
    report: object  # the run's report: events, corrections, skipped_ids, latencies
    times: list  # the rows' stream times, appended to by the run as rows arrive
    arrivals: list  # when each row's frame arrived (time.time(); NaN: unknown)
    already: set = field(default_factory=set)  # ids out before this run

    def publish(self, lines: list[EventLine]) -> None:
        for event in lines:
            line = event.to_json()
            row = int(np.searchsorted(self.times, event.stream_time_s - 1e-6))
            if event.kind == "event" and row < len(self.arrivals) and np.isfinite(self.arrivals[row]):
                line["latency_s"] = round(time.time() - self.arrivals[row], 3)
                self.report.latencies.append((event.id, line["latency_s"]))
            if event.kind == "event" and event.id in self.already:
                self.report.skipped_ids += 1
                continue
            if event.reason == "retracted":  # out no more: emitting it again is not a repeat
                self.already.discard(event.id)
            self.log.write(line)
            for sink in self.sinks:
                sink.send(line)
            self.report.events += event.kind == "event"
            self.report.corrections += event.kind == "correction"

    def close(self, sinks: bool = True) -> None:
        self.log.close()
        if sinks:
            for sink in self.sinks:
                sink.close()


def open_publisher(out_dir: Path, half: int, options, tracker: EventTracker, report, times: list,
                   arrivals: list) -> EventPublisher:
    """The run's publisher; `tracker` first takes the lines an earlier run wrote to this half's log."""
    log_path = events_log_path(out_dir, half)
    for line in read_event_log(log_path):
        tracker.remember(line)
    sinks = ([JsonLinesSink(options.events)] if options.events else []) + \
            ([WebhookSink(options.webhook)] if options.webhook else [])
    return EventPublisher(EventLog(log_path), sinks, report, times, arrivals, set(tracker.emitted))

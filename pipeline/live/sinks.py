"""Where event lines go besides the run's own log: a JSON-lines file or stdout, and a webhook.

`WebhookSink` POSTs each line as JSON from its own thread, in order, retrying a failed POST with a
doubling back-off (0.5 s, 1 s, 2 s, ... up to `retries` tries; a line that still fails is counted, reported
on stderr, and the next one is sent): decoding and scoring never wait for the network.
"""
from __future__ import annotations

import json
import queue
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import TextIO

_END = object()


class JsonLinesSink:
    def __init__(self, target: str):
        self.stream: TextIO = sys.stdout if target == "-" else open(Path(target), "a", encoding="utf-8")
        self.owned = target != "-"

    def send(self, line: dict) -> None:
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.owned:
            self.stream.close()


class WebhookSink:
    def __init__(self, url: str, *, retries: int = 5, backoff_s: float = 0.5, timeout_s: float = 5.0):
        self.url, self.retries, self.backoff_s, self.timeout_s = url, retries, backoff_s, timeout_s
        self.queue: queue.Queue = queue.Queue()
        self.delivered = 0
        self.failed = 0
        self.thread = threading.Thread(target=self._run, name="soccerspot-webhook", daemon=True)
        self.thread.start()

    def send(self, line: dict) -> None:
        self.queue.put(line)

    def _post(self, line: dict) -> None:
        request = urllib.request.Request(self.url, data=json.dumps(line).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read()

    def _run(self) -> None:
        while True:
            line = self.queue.get()
            if line is _END:
                return
            for attempt in range(self.retries):
                try:
                    self._post(line)
                    self.delivered += 1
                    break
                except Exception as error:  # noqa: BLE001  network errors of every kind: retry
                    if attempt == self.retries - 1:
                        self.failed += 1
                        print(f"soccerspot live: warning: webhook {self.url}: {line.get('id')} not delivered "
                              f"after {self.retries} tries ({error})", file=sys.stderr)
                    else:
                        time.sleep(self.backoff_s * 2 ** attempt)

    def close(self, wait_s: float = 30.0) -> None:
        """Deliver what is queued (at most `wait_s` seconds), then stop."""
        self.queue.put(_END)
        self.thread.join(wait_s)

"""`soccerspot archive --engine ray` on a local Ray instance: a worker killed mid-game makes that game
retry, and the results equal the local engine's byte for byte."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the Ray engine needs the ray extra: pip install -e '.[dev,ray]' (make install)")

from soccerspot.data.games import PREDICTIONS_FILE

from test_archive import GAMES, archive, checkpoint, cli, game_records, local_run, statuses  # noqa: E402,F401

ACTOR_TASK = b"GameActor.process_game"


def busy_actor_pids() -> list[int]:
    """Ray names a worker process after the actor method it is running (`ray::GameActor.process_game`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if ACTOR_TASK in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_ray_worker_killed_mid_game_retries_it_and_results_equal_the_local_engine(archive, checkpoint, local_run,
                                                                                   tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(cli(str(archive), "--model", str(checkpoint), "--out", str(out), "--engine", "ray"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed = None
    deadline = time.monotonic() + 90
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        pids = busy_actor_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.01)
    output, _ = process.communicate(timeout=180)
    assert killed is not None, output.decode(errors="replace")[-2000:]
    assert process.returncode == 0, output.decode(errors="replace")[-2000:]
    assert statuses(out, "done") == GAMES  # the game whose worker died is not lost
    attempts = {r["game"]: r["attempts"] for r in game_records(out) if r["status"] == "done"}
    assert sorted(attempts.values()) == [1, 1, 2]
    for game in GAMES:
        assert (out / game / PREDICTIONS_FILE).read_bytes() == (local_run / game / PREDICTIONS_FILE).read_bytes()

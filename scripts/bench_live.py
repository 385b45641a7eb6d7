"""Live spotting latency, corrections and real-time factor on a synthetic broadcast streamed to loopback UDP.

A synthetic half (`--seconds`, 398x224, 25 fps) is sent by the imageio-ffmpeg wheel's ffmpeg to
udp://127.0.0.1 at `--speed` x real time while `pipeline.live.session.run_live` spots it with the head a user
runs: by default the demo's trained head (`soccerspot demo`'s NetVLAD++ on `timm:regnety_002` features, 10 s
windows, NMS 20 s), trained here once on the demo's synthetic season and kept in `--demo-dir`; `--model CKPT`
for another trained head; `--random-head` for a seeded random NetVLAD++ of the same window and NMS on
`--backbone` features (weights none). Then offline `spot` on the same recording.

The latency depends on the head: an event goes out at once when NMS has decided it (after the head's own
bound, `pipeline.live.events.latency_bound_s`: the rows that could suppress it and the rows their scores read
must exist), but hard NMS holds an event while rival spots form a chain, which a random head's noisy scores
do often and a trained head's peaks rarely; such an event goes out at `max_latency_s` (default: the bound
+ 2 s, in stream time or since its frame arrived) and a correction line follows if NMS overturns it. When
NMS overturns the other way (a row it did not keep at its deadline is kept later, its rival suppressed since),
that row goes out then, as an event line marked `"reason": "late"`: a correction of the deadline's decision.

Measured: per emitted event, the time from its frame's arrival (decoded from the socket) to its line
(`latency_s`; median, p95), over the events emitted while the broadcast ran and over all (with a trained
head the headline figures are per ground-truth event found by an emitted event of its class within
`--match-s`); per emitted event, `latency_p95_s` is over the events emitted on time (not "late") and
`latency_all_p95_s` over every event line; `bound_s` and `max_latency_s` beside them, and whether p95 <=
max_latency_s; the corrections, the late event lines (`late_events`: NMS kept them after their deadline, or
the end of the half settled them) and `correction_rate` ((correction lines + late event lines) per event
line); the real-time factor (stream seconds / wall seconds
of the run); the backbone's own throughput; whether the final results equal offline spot's. Latency
figures include the machine's load: on a shared machine they are noisy. Last line: JSON.

    python scripts/bench_live.py                 # the demo's trained head (trains it first: minutes)
    python scripts/bench_live.py --random-head   # a seeded random head: many chains, many corrections
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="timm:regnety_002")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=23950)
    parser.add_argument("--sender-delay", type=float, default=10.0, help="seconds before the sender starts")
    parser.add_argument("--work", default=None)
    parser.add_argument("--model", default=None,
                        help="a trained head (e.g. demo_out/model/best): latency per ground-truth event (default: the "
                             "demo's head, trained in --demo-dir)")
    parser.add_argument("--random-head", action="store_true",
                        help="a seeded random NetVLAD++ head on --backbone features: latency per emitted event")
    parser.add_argument("--demo-dir", default=str(Path(tempfile.gettempdir()) / "soccerspot_bench" / "live_demo"),
                        help="where the demo's season and head are made once and kept (default: the temp folder)")
    parser.add_argument("--max-latency", type=float, default=None,
                        help="live's --max-latency (default: live's own, the head's bound + 2 s)")
    parser.add_argument("--window-s", type=float, default=10.0, help="random head: window seconds (default 10)")
    parser.add_argument("--nms-window", type=float, default=20.0, help="random head: NMS window s (default 20)")
    parser.add_argument("--match-s", type=float, default=None,
                        help="a ground-truth event is found when an event of its class lies this close (default: "
                             "half the NMS window)")
    args = parser.parse_args(argv)

    from soccerspot.data.labels import read_predictions
    from soccerspot.data.synthetic.broadcast import SYNTHETIC_CLASSES, BroadcastConfig, make_game
    from soccerspot.extract.extractor import ExtractConfig, Extractor
    from soccerspot.models.heads import create_head, head_config
    from soccerspot.pipeline.inference.checkpoints import NmsSettings, load_checkpoint, save_checkpoint
    from soccerspot.pipeline.cli import main as cli
    from soccerspot.pipeline.live.broadcast import send_udp, to_mpegts
    from soccerspot.pipeline.live.session import LiveOptions, run_live

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_live_"))
    game = work / "game"
    if not (game / "1_224p.mkv").is_file():
        make_game(game, 101, BroadcastConfig(duration_s=args.seconds), halves=(1,))  # a game no demo season holds
    ts = to_mpegts(game / "1_224p.mkv", work / "half.ts")
    if not args.model and not args.random_head:
        args.model = str(demo_head(Path(args.demo_dir)))
    if args.model:
        model_dir = Path(args.model)
        trained = load_checkpoint(model_dir)
        settings = trained.feature_settings
        args.backbone, args.input_size = settings["backbone"], int(settings["input_size"])
        window, nms_window = trained.config.window_frames, trained.nms.window_seconds
        fps = trained.fps
    else:  # the demo head's window and NMS (10 s, 20 s): the same bound as a trained demo head
        window, nms_window, fps = int(round(args.window_s * 2.0)), args.nms_window, 2.0
    extractor = Extractor(ExtractConfig(backbone=args.backbone, weights="none", input_size=args.input_size,
                                        device="cpu", progress=False))
    if not args.model:
        settings = extractor.meta_template().settings()
        torch.manual_seed(0)
        config = head_config("netvlad++", input_dim=settings["dim"], num_classes=len(SYNTHETIC_CLASSES),
                             window_frames=window, projection_dim=64, clusters=8)
        model_dir = save_checkpoint(work / f"model-{args.backbone.replace(':', '_')}", create_head(config), config,
                                    classes=SYNTHETIC_CLASSES, feature_settings=settings, fps=fps,
                                    nms=NmsSettings("hard", nms_window, 0.0), extra={"features": "bench"})
    batch = torch.zeros(8, 3, args.input_size, args.input_size, dtype=torch.uint8)
    extractor.forward(batch)
    began = time.perf_counter()
    extractor.forward(batch)
    images_per_s = 8 / (time.perf_counter() - began)

    head = load_checkpoint(model_dir)
    out = work / f"live-{args.backbone.replace(':', '_')}"
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    options = LiveOptions(source=f"udp://127.0.0.1:{args.port}", out_dir=out, idle_s=5.0, status_every_s=10.0,
                          max_latency_s=args.max_latency)
    # the sender starts once live listens (it builds its backbone first): a receiver joining mid-stream would
    # start at the next keyframe and not see the same recording as offline spot
    threading.Timer(args.sender_delay, lambda: send_udp(ts, args.port, speed=args.speed)).start()
    report = run_live(head, options)
    lines = [json.loads(line) for line in (out / "1_live_events.jsonl").read_text().splitlines()]
    during = np.array([line["latency_s"] for line in lines if line["type"] == "event" and line.get("reason") != "late"
                       and "latency_s" in line])
    every = np.array([line["latency_s"] for line in lines if line["type"] == "event" and "latency_s" in line])
    offline = work / f"offline-{args.backbone.replace(':', '_')}"
    shutil.rmtree(offline, ignore_errors=True)
    cli(["spot", str(ts), "--model", str(model_dir), "--out", str(offline), "--no-progress"])
    equal = read_predictions(out / "results_spotting.json").predictions == \
        read_predictions(offline / "results_spotting.json").predictions
    bound = report.bound_s
    event_lines = sum(1 for line in lines if line["type"] == "event")
    late_lines = sum(1 for line in lines if line["type"] == "event" and line.get("reason") == "late")
    truth = ground_truth_latencies(game / "Labels-v2.json", lines, report,
                                   args.match_s if args.match_s is not None else nms_window / 2)
    if args.model:  # the measure: per ground-truth event
        during = every = truth
    result = {
        "backbone": args.backbone, "input_size": args.input_size, "seconds": args.seconds, "speed": args.speed,
        "backbone_images_per_s": round(images_per_s, 2),
        "latency_p50_s": round(float(np.median(during)), 2) if len(during) else None,
        "latency_p95_s": round(float(np.percentile(during, 95)), 2) if len(during) else None,
        "latency_all_p50_s": round(float(np.median(every)), 2) if len(every) else None,
        "latency_all_p95_s": round(float(np.percentile(every, 95)), 2) if len(every) else None,
        "bound_s": bound, "max_latency_s": report.max_latency_s,
        "p95_within_max_latency": bool(len(during)) and float(np.percentile(during, 95)) <= report.max_latency_s,
        "realtime_factor": round(report.realtime_factor, 3),
        "events": int(len(every)), "events_during": int(len(during)), "event_lines": event_lines,
        "corrections": report.corrections, "late_events": late_lines,
        "correction_rate": round((report.corrections + late_lines) / event_lines, 3) if event_lines else None,
        "head": "random" if args.random_head else str(model_dir),
        "per": "ground-truth event" if args.model else "emitted event (random head)",
        "ground_truth_found": int(len(truth)),
        "ground_truth_events": sum(1 for e in read_labels_events(game / "Labels-v2.json") if e.half == 1),
        "behind_warnings": report.behind_warnings, "gaps": report.gaps, "equal_to_offline": bool(equal),
        "cpu_threads": torch.get_num_threads(),
    }
    print(f"{args.backbone}: {len(during)} events while live, latency median {result['latency_p50_s']} s, "
          f"p95 {result['latency_p95_s']} s (bound {bound} s, max latency {report.max_latency_s} s); "
          f"{report.corrections} corrections and {late_lines} late events for {event_lines} event lines; real-time factor "
          f"{result['realtime_factor']}; equal to offline: {equal}", file=sys.stderr)
    print(json.dumps(result))
    return 0


def demo_head(folder: Path) -> Path:
    """The demo's trained head (`soccerspot demo`'s defaults, without its raw-video check and report), made
    in `folder` unless a finished demo is there already."""
    from soccerspot.pipeline.demo import SUMMARY_FILE, DemoConfig, run_demo

    summary = folder / SUMMARY_FILE
    if summary.is_file():
        checkpoint = Path(json.loads(summary.read_text())["checkpoint"])
        if (checkpoint / "model.pt").is_file():
            return checkpoint
    print(f"training the demo's head in {folder} (once)", file=sys.stderr)
    return Path(run_demo(folder, DemoConfig(spot_video=False, report=False), progress=False)["checkpoint"])


def read_labels_events(path: Path):
    from soccerspot.data.labels import read_labels

    return read_labels(path).events


def ground_truth_latencies(labels_path: Path, lines: list[dict], report, match_s: float) -> np.ndarray:
    """Per ground-truth event of half 1 found by an emitted event of its class within `match_s`: the line's
    emission time minus the arrival of the event's own frame (the row at its time)."""
    from datetime import datetime

    from soccerspot.data.labels import read_labels

    times, arrivals = np.asarray(report.times), np.asarray(report.arrivals)
    emitted = [line for line in lines if line["type"] == "event"]
    found = []
    for event in read_labels(labels_path).events:
        if event.half != 1:
            continue
        near = [line for line in emitted if line["label"] == event.label
                and abs(line["position"] - event.position_ms) <= match_s * 1000]
        row = int(np.searchsorted(times, event.seconds - 1e-6))
        if not near or row >= len(times) or not np.isfinite(arrivals[row]):
            continue
        first = min(datetime.fromisoformat(line["emitted_at"].replace("Z", "+00:00")).timestamp() for line in near)
        found.append(first - arrivals[row])
    return np.array(found)


if __name__ == "__main__":
    sys.exit(main())

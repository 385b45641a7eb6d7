"""Our Ball Action Spotting Team mAP@1 against sn-teamspotting's `mAPevaluateCodabench`, same run, on a
synthetic nine-game set (the official Ball games' names, one 45-minute video each, with teams).

Both sides score each official split (train, valid, test, challenge: 4 + 1 + 2 + 2 games) from the same
folders, file reading included. The last line is one JSON object: ours_s, official_s (sums over the
splits), speedup, max_abs_diff (over every result key of every split) and the test split's scores.

    .venv/bin/python scripts/bench_evaluate_ball.py [--actions-per-minute 25] [--repeat 3] [--peer DIR]

`--peer` is a checkout of github.com/SoccerNet/sn-teamspotting (default: unpacked from the bare mirror
/work/.mirror/SoccerNet+sn-teamspotting/repo at HEAD into a temporary folder).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from soccerspot.data.classes import CLASS_NAMES_BALL
from soccerspot.data.games import official_split_games
from soccerspot.pipeline.evaluation.average_map import load_folders
from soccerspot.pipeline.evaluation.ball import TEAM_RESULT_KEYS, evaluate_ball_teams

SPLITS = {"train": "train", "valid": "val", "test": "test", "challenge": "challenge"}  # ours -> theirs
MIRROR = Path("/work/.mirror/SoccerNet+sn-teamspotting/repo")


def write_season(root: Path, games: list[str], minutes: float, per_minute: float, seed: int) -> tuple[Path, Path]:
    """Labels every ~1/per_minute minutes of every class and team; predictions near most of them (some with the
    wrong team or class), and false alarms."""
    rng = np.random.default_rng(seed)
    labels_root, predictions_root = root / "labels", root / "predictions"
    span = int(minutes * 60_000)
    for game in games:
        count = int(minutes * per_minute)
        positions = np.sort(rng.integers(0, span, size=count))
        classes = rng.integers(0, len(CLASS_NAMES_BALL), size=count)
        teams = rng.choice(["left", "right"], size=count)
        annotations, predictions = [], []
        for position, cls, team in zip(positions.tolist(), classes.tolist(), teams.tolist()):
            annotations.append({"gameTime": f"1 - {position // 60_000:02d}:{position // 1000 % 60:02d}",
                                "label": CLASS_NAMES_BALL[cls], "position": str(position), "team": team,
                                "visibility": "not shown" if rng.random() < 0.05 else "visible"})
            for _ in range(int(rng.integers(0, 4))):
                guess_team = team if rng.random() < 0.8 else str(rng.choice(["left", "right"]))
                guess_cls = cls if rng.random() < 0.9 else int(rng.integers(0, len(CLASS_NAMES_BALL)))
                predictions.append({"position": max(0, position + int(rng.normal(0, 400))),
                                    "label": CLASS_NAMES_BALL[guess_cls], "team": guess_team, "half": 1,
                                    "confidence": float(rng.random())})
        for _ in range(count // 2):
            predictions.append({"position": int(rng.integers(0, span)),
                                "label": CLASS_NAMES_BALL[int(rng.integers(0, len(CLASS_NAMES_BALL)))],
                                "team": str(rng.choice(["left", "right"])), "half": 1,
                                "confidence": float(rng.random())})
        for folder, name, key, entries in ((labels_root, "Labels-ball.json", "annotations", annotations),
                                           (predictions_root, "results_spotting.json", "predictions", predictions)):
            (folder / game).mkdir(parents=True, exist_ok=True)
            (folder / game / name).write_text(json.dumps({"UrlLocal": game, key: entries}))
    return labels_root, predictions_root


def unpack_peer(out: Path) -> Path:
    if not MIRROR.is_dir():
        sys.exit(f"sn-teamspotting not found at {MIRROR}: pass --peer DIR (a checkout of it)")
    archive = subprocess.run(["git", f"--git-dir={MIRROR}", "archive", "HEAD", "util"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def ours(labels_root: Path, predictions_root: Path, games: list[str]) -> dict:
    loaded = load_folders(labels_root, predictions_root, games, classes=CLASS_NAMES_BALL,
                          labels_file="Labels-ball.json", progress=False, any_label=True, ignore_prediction_half=True)
    return evaluate_ball_teams(loaded.labels, loaded.predictions)


def max_abs_diff(a: dict, b: dict) -> float:
    worst = 0.0
    for key in TEAM_RESULT_KEYS:
        x, y = np.asarray(a[key], dtype=np.float64), np.asarray(b[key], dtype=np.float64)
        if x.shape != y.shape or not np.array_equal(np.isnan(x), np.isnan(y)):
            return float("inf")
        worst = max(worst, float(np.nanmax(np.abs(x - y), initial=0.0)))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=45.0, help="length of each game's video (default 45)")
    parser.add_argument("--actions-per-minute", type=float, default=25.0,
                        help="labelled ball actions per minute of each game (default 25)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours per split (the median is kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer", type=Path, help="a checkout of sn-teamspotting (default: from the mirror)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        peer = args.peer or unpack_peer(tmp)
        games = [game for split in SPLITS for game in official_split_games(split, "spotting-ball")]
        labels_root, predictions_root = write_season(tmp / "season", games, args.minutes, args.actions_per_minute,
                                                     args.seed)
        sys.path.insert(0, str(peer))
        from util.eval import mAPevaluateCodabench

        ours_s, official_s, diffs, scores = 0.0, 0.0, [], {}
        for split, their_split in SPLITS.items():
            split_games = official_split_games(split, "spotting-ball")
            times = []
            for _ in range(max(1, args.repeat)):
                start = time.perf_counter()
                result = ours(labels_root, predictions_root, split_games)
                times.append(time.perf_counter() - start)
            start = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):  # their tqdm bars
                official = mAPevaluateCodabench(str(labels_root), str(predictions_root), split=their_split)
            elapsed = time.perf_counter() - start
            ours_s += float(np.median(times))
            official_s += elapsed
            diffs.append(max_abs_diff(result, official))
            print(f"{split} ({len(split_games)} games): ours {np.median(times):.3f} s (median of {len(times)}), "
                  f"official {elapsed:.2f} s, Team mAP@1 {result['mAP']:.5f} vs {official['mAP']:.5f}, "
                  f"mAP@1 {result['mAP_no_team']:.5f} vs {official['mAP_no_team']:.5f}, max |diff| {diffs[-1]:.3g}")
            if split == "test":
                scores = {"team_map_ours": round(result["mAP"], 6), "team_map_official": round(float(official["mAP"]), 6),
                          "map_ours": round(result["mAP_no_team"], 6),
                          "map_official": round(float(official["mAP_no_team"]), 6)}
    print(json.dumps({"games": len(games), "ours_s": round(ours_s, 4), "official_s": round(official_s, 3),
                      "speedup": round(official_s / ours_s, 1), "max_abs_diff": max(diffs), **scores}))


if __name__ == "__main__":
    main()

"""Dense frame models on raw video: what skipping the peers' JPEG files changes.

On a synthetic 398x224, 25 fps H.264 video (`scripts/bench_extract.py`'s, 2 minutes by default), with a
registered dense model (`e2e-spot`: RegNetY-200MF + GSM + GRU by default) of seeded random weights and its
SoccerNet-v2 frames (`e2e-soccernetv2`: every 12th frame, 2.083 a second): the peers extracted frames to JPEG
files (`cv2.imwrite`, quality 95 by default) and read them back (`torchvision.io.read_image`); soccerspot feeds
the decoded frames. Both frame sets go through the same whole-half inference: `jpeg_prob_max_abs_diff` /
`jpeg_prob_mean_abs_diff` are the per-frame probabilities' differences (`prob_frame_std`, how much a
probability varies from frame to frame, is the scale to read them against), `jpeg_pixel_mean_abs_diff` /
`jpeg_psnr_db` the frames'. The whole chain's speed against the model alone is `scripts/bench_dense.py`'s
`infer_ratio`.

`--trained RUN/last --season ROOT --games A,B` measures a trained model instead (one of `bench_dense.py`'s runs:
`--width`/`--height` register its bench frame recipe): each game's halves decoded as `spot` decodes them, and the
same frames after the JPEG round trip, through the same inference and the model's own NMS; besides the
probabilities' differences, each side's spots scored (`decoded_tight` / `jpeg_tight`, loose likewise) and the
spots that differ between the two (`spots_changed`: predictions of one side with no equal one, same class,
frame and confidence within 1e-3, on the other).

Last line: one JSON object.

    python scripts/bench_dense_jpeg.py [--minutes 2] [--model e2e-spot] [--clip-len 100] [--quality 95] [--work DIR]
    python scripts/bench_dense_jpeg.py --trained WORK/runs/dense-0/model/last --season WORK/season \
        --games synthetic_league/season/test-game-00,synthetic_league/season/test-game-01 [--width 224 --height 128]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import types
from pathlib import Path

import numpy as np


def jpeg_round_trip(frames: np.ndarray, quality: int) -> np.ndarray:
    """Each RGB frame written as OpenCV writes the peers' files (BGR, `cv2.imwrite`'s JPEG at `quality`)
    and read back as their datasets read them (`torchvision.io.read_image`: RGB)."""
    import cv2
    import torch
    from torchvision.io import decode_jpeg

    out = np.empty_like(frames)
    for index, frame in enumerate(frames):
        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(frame[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        out[index] = decode_jpeg(torch.from_numpy(encoded.ravel())).permute(1, 2, 0).numpy()
    return out


def batches(frames: np.ndarray, times: np.ndarray, size: int = 16):
    for begin in range(0, len(frames), size):
        yield types.SimpleNamespace(frames=frames[begin: begin + size], times=times[begin: begin + size])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--model", default="e2e-spot", help="a registered dense model (models.dense)")
    parser.add_argument("--clip-len", type=int, default=100)
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (cv2.imwrite's default: 95)")
    parser.add_argument("--precision", default="fp32", help="fp32 | bf16 | fp16 | auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--trained", type=Path, default=None, help="a trained dense model folder (bench_dense's)")
    parser.add_argument("--season", type=Path, default=None, help="with --trained: the season's root")
    parser.add_argument("--games", default="", help="with --trained: comma-separated game folders under --season")
    parser.add_argument("--width", type=int, default=224, help="with --trained: bench_dense's frame size")
    parser.add_argument("--height", type=int, default=128)
    args = parser.parse_args()
    if args.trained is not None:
        if args.season is None or not args.games:
            parser.error("--trained needs --season and --games")
        return trained(args)

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_extract import make_video

    from soccerspot.data.classes import CLASS_NAMES_V2
    from soccerspot.extract.decode import probe
    from soccerspot.extract.extractor import resolve_device
    from soccerspot.extract.frame_recipes import E2E_SOCCERNETV2, iter_recipe_frames
    from soccerspot.extract.precision import resolve_precision
    from soccerspot.models.dense import create_dense_model
    from soccerspot.pipeline.inference.dense_half import half_probabilities
    from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_dense_"))
    video = make_video(work / f"bench_dense_{args.minutes:g}min.mkv", args.minutes)

    torch.manual_seed(args.seed)
    model = create_dense_model(args.model, clip_len=args.clip_len, num_classes=len(CLASS_NAMES_V2)).eval().to(device)
    inference = PEER_INFERENCE[("E2E-Spot", E2E_SOCCERNETV2.name)]
    options = dict(clip_len=args.clip_len, rule=inference.rule, spec=model.input_spec, precision=precision)

    decoded = list(iter_recipe_frames(probe(video), E2E_SOCCERNETV2))
    frames = np.concatenate([b.frames for b in decoded])
    times = np.concatenate([b.times for b in decoded])
    jpeg = jpeg_round_trip(frames, args.quality)
    pixel_error = np.abs(frames.astype(np.int16) - jpeg.astype(np.int16))
    mse = float(np.mean(pixel_error.astype(np.float64) ** 2))

    ours = half_probabilities(model, batches(frames, times), **options)
    theirs = half_probabilities(model, batches(jpeg, times), **options)
    difference = np.abs(ours.probabilities - theirs.probabilities)

    result = {
        "model": args.model, "clip_len": args.clip_len, "frames": int(len(frames)), "clips": ours.clips,
        "precision": precision, "device": str(device), "threads": args.threads, "jpeg_quality": args.quality,
        "jpeg_pixel_mean_abs_diff": round(float(pixel_error.mean()), 4),
        "jpeg_pixel_max_abs_diff": int(pixel_error.max()),
        "jpeg_psnr_db": round(10 * np.log10(255.0 ** 2 / mse), 2) if mse > 0 else None,
        "jpeg_prob_max_abs_diff": float(difference.max()),
        "jpeg_prob_mean_abs_diff": float(difference.mean()),
        # the scale to read the difference against: how much a frame's probabilities vary along the half
        "prob_frame_std": float(ours.probabilities.std(axis=0).mean()),
        "jpeg_argmax_agreement": float(np.mean(ours.probabilities.argmax(1) == theirs.probabilities.argmax(1))),
    }
    print(json.dumps(result))
    return 0


def changed_spots(ours: list, theirs: list) -> int:
    """Predictions of either side with no equal one on the other (class, team, position, confidence +- 1e-3)."""
    def keys(predictions):
        return {(p.half, p.label, p.team, p.position_ms): p.confidence for p in predictions}

    a, b = keys(ours), keys(theirs)
    return sum(1 for key in a.keys() ^ b.keys()) + sum(1 for key in a.keys() & b.keys() if abs(a[key] - b[key]) > 1e-3)


def trained(args) -> int:
    """A trained model's spots and scores from decoded frames and from their JPEG round trip."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_dense import register_bench_recipe

    from soccerspot.data.games import PREDICTIONS_FILE, half_videos
    from soccerspot.data.labels import GamePredictions, deduplicate_bins, write_predictions
    from soccerspot.extract.decode import probe
    from soccerspot.extract.frame_recipes import iter_recipe_frames
    from soccerspot.pipeline.demo import evaluate_season
    from soccerspot.pipeline.inference.dense_half import half_probabilities
    from soccerspot.pipeline.inference.dense_models import load_dense_spotter
    from soccerspot.pipeline.inference.dense_spot import half_spots

    torch.set_num_threads(args.threads)
    register_bench_recipe(args.width, args.height)
    spotter = load_dense_spotter(args.trained)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_dense_jpeg_"))
    options = dict(clip_len=spotter.model.clip_len, rule=spotter.rule, spec=spotter.model.input_spec,
                   precision=args.precision)
    games = [game for game in args.games.split(",") if game]
    sides = ("decoded", "jpeg")
    spots = {side: {game: [] for game in games} for side in sides}
    differences, pixel_errors, frame_count = [], [], 0
    for game in games:
        for half, video in half_videos(args.season / game).items():
            decoded = list(iter_recipe_frames(probe(video), spotter.frames))
            frames = np.concatenate([b.frames for b in decoded])
            times = np.concatenate([b.times for b in decoded])
            jpeg = jpeg_round_trip(frames, args.quality)
            frame_count += len(frames)
            pixel_errors.append(np.abs(frames.astype(np.int16) - jpeg.astype(np.int16)).ravel())
            probabilities = {side: half_probabilities(spotter.model, batches(f, times), **options).probabilities
                             for side, f in zip(sides, (frames, jpeg))}
            differences.append(np.abs(probabilities["decoded"] - probabilities["jpeg"]).ravel())
            for side in sides:
                spots[side][game] += half_spots(probabilities[side], times, spotter, half)
    scores = {}
    for side in sides:
        for game in games:
            found = deduplicate_bins(spots[side][game], spotter.eval_framerate)
            spots[side][game] = found
            write_predictions(work / side / game / PREDICTIONS_FILE, GamePredictions(url=game, predictions=found),
                              framerate=spotter.eval_framerate)
        scores[side] = evaluate_season(args.season, work / side, games)
    difference, pixels = np.concatenate(differences), np.concatenate(pixel_errors)
    print(json.dumps({
        "trained": str(args.trained), "games": games, "frames_per_side": frame_count,
        "jpeg_quality": args.quality, "precision": args.precision,
        "jpeg_pixel_mean_abs_diff": round(float(pixels.mean()), 4), "jpeg_pixel_max_abs_diff": int(pixels.max()),
        "jpeg_prob_max_abs_diff": float(difference.max()), "jpeg_prob_mean_abs_diff": float(difference.mean()),
        "decoded_tight": scores["decoded"]["tight"]["a_mAP"], "jpeg_tight": scores["jpeg"]["tight"]["a_mAP"],
        "decoded_loose": scores["decoded"]["loose"]["a_mAP"], "jpeg_loose": scores["jpeg"]["loose"]["a_mAP"],
        "spots": {side: sum(len(v) for v in spots[side].values()) for side in sides},
        "spots_changed": sum(changed_spots(spots["decoded"][g], spots["jpeg"][g]) for g in games),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

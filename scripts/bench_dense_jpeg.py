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

Last line: one JSON object.

    python scripts/bench_dense_jpeg.py [--minutes 2] [--model e2e-spot] [--clip-len 100] [--quality 95] [--work DIR]
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    sys.exit(main())

"""Spotting straight from raw video: extract the features a head was trained on, then spot them.

`soccerspot spot MATCH.mkv --model CKPT` (or a game folder holding `1_224p.mkv` / `2_224p.mkv`) lands
here. The checkpoint records the settings of its training features (`FeatureMeta.settings()`: backbone,
weights identity, fps, transform, input size, precision, PCA, width); the extractor is configured from
exactly those, so the features it writes are the ones the head expects. `spot` then checks them again.

Refusals, each a `DataError` naming the file:

- a checkpoint without feature settings (the SoccerNet baselines' `model.pth.tar`, trained on the
  official feature files, which cannot be re-made from video here);
- settings this machine cannot reproduce: weights from a file or a PCA whose file is not given (or
  whose identity differs from the one recorded), a precision this device cannot run;
- features already on disk under the same name made with other settings or from another video: they
  are never overwritten silently (remove them, or spot into another `--out`).

Where things go: a game folder keeps its features and `results_spotting.json` inside it (SoccerNet
layout) unless `out_dir` is given; a lone `MATCH.mkv` uses `<its folder>/MATCH/` (what `soccerspot
extract` would make), a half-named `game/1_224p.mkv` uses `game/`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soccerspot.data.errors import DataError
from soccerspot.data.features import feature_path, sidecar_path
from soccerspot.data.labels import PREDICTIONS_FILE, GamePredictions, write_predictions
from soccerspot.pipeline.checkpoints import LoadedHead
from soccerspot.pipeline.spot import GameResult, SpotOptions, SpotReport, resolve_nms, spot_half

SETTINGS_KEYS = ("backbone", "weights", "fps", "transform", "input_size", "precision", "pca", "dim")


@dataclass
class VideoJob:
    video: Path
    half: int


def _video_helpers():
    from soccerspot.extract.jobs import PREFERRED_QUALITY, half_of, is_video_name

    return PREFERRED_QUALITY, half_of, is_video_name


def half_videos(folder: Path) -> list[VideoJob]:
    """The half videos directly inside a game folder (`224p` preferred where a half has several)."""
    preferred_quality, half_of, _ = _video_helpers()
    by_half: dict[int, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        half = half_of(path) if path.is_file() else None
        if half is not None:
            by_half.setdefault(half, []).append(path)
    return [VideoJob(next((v for v in videos if preferred_quality in v.stem), videos[0]), half)
            for half, videos in sorted(by_half.items())]


def is_video_input(path: str | Path) -> bool:
    """A video file, or a game folder holding half videos and no feature files yet."""
    path = Path(path)
    _, _, is_video_name = _video_helpers()
    if path.is_file():
        return is_video_name(path)
    if path.is_dir():
        return bool(half_videos(path)) and not any(path.glob("[12]_*.npy"))
    return False


def plan_video_input(path: Path, out_dir: Path | None) -> tuple[Path, list[VideoJob]]:
    """(game folder for features and results, half videos) for a video file or a game folder."""
    _, half_of, _ = _video_helpers()
    if path.is_dir():
        jobs = half_videos(path)
        if not jobs:
            raise DataError(path, "no half videos here (expected 1_<quality>.mkv / 2_<quality>.mkv, e.g. 1_224p.mkv)")
        return (out_dir or path), jobs
    if not path.is_file():
        raise DataError(path, "no such video file or folder")
    half = half_of(path)
    if half is not None:
        return (out_dir or path.parent), [VideoJob(path, half)]
    return (out_dir or path.parent / path.stem), [VideoJob(path, 1)]


def extract_config_for(head: LoadedHead, *, device: str = "auto", batch_size: int = 32,
                       weights_file: str | None = None, pca_file: str | None = None, progress: bool = True):
    """The `ExtractConfig` that re-makes the head's training features, or a `DataError` saying why not."""
    from soccerspot.extract.extractor import ExtractConfig

    settings = head.feature_settings
    if not settings:
        raise DataError(head.path, "this checkpoint records no feature settings (a SoccerNet baseline trained on the "
                                   "official feature files?): extract features yourself and spot those, not a video")
    missing = [key for key in SETTINGS_KEYS if key not in settings]
    if missing:
        raise DataError(head.path, f"the checkpoint's feature settings lack {', '.join(missing)}; cannot re-extract")
    weights = str(settings["weights"])
    if weights.startswith("file:"):
        if not weights_file:
            raise DataError(head.path, f"the head was trained on features of backbone weights from a file ({weights}); "
                                       "pass that file (--weights FILE) to extract the same features")
        weights = weights_file
    pca = settings.get("pca")
    if pca and not pca_file:
        raise DataError(head.path, f"the head was trained on PCA-reduced features ({pca}); pass the PCA file "
                                   "(--pca FILE) to extract the same features")
    return ExtractConfig(
        backbone=str(settings["backbone"]), weights=weights, fps=float(settings["fps"]),
        transform=str(settings["transform"]), input_size=int(settings["input_size"]),
        precision=str(settings["precision"]), pca=pca_file if pca else None, batch_size=batch_size,
        device=device, progress=progress,
    )


def build_extractor(head: LoadedHead, config):
    """An `Extractor` whose features match the head's settings exactly (else `DataError`)."""
    from soccerspot.extract.extractor import Extractor
    from soccerspot.models.backbones import BackboneWeightsError

    try:
        extractor = Extractor(config)
    except (ValueError, BackboneWeightsError) as error:  # a precision this device cannot run, weights offline
        raise DataError(head.path, f"cannot re-extract the head's features here: {error}") from error
    wanted = extractor.meta_template().settings()
    if wanted != head.feature_settings:
        differences = "; ".join(f"{key}: extractor {wanted.get(key)!r}, head {head.feature_settings.get(key)!r}"
                                for key in SETTINGS_KEYS if wanted.get(key) != head.feature_settings.get(key))
        raise DataError(head.path, f"the features extracted here would differ from the head's ({differences})")
    return extractor


def check_no_conflict(extractor, video: Path, game_dir: Path, half: int) -> None:
    """Refuse to overwrite features made differently (other settings or another video)."""
    if not sidecar_path(game_dir, half, extractor.name).is_file():
        return
    reason = extractor.stale_reason(video, game_dir, half)
    if reason is not None:
        raise DataError(feature_path(game_dir, half, extractor.name),
                        f"already exists, {reason}; it is not overwritten: remove it or spot into another --out")


def spot_video(input_path: str | Path, head: LoadedHead, *, out_dir: str | Path | None = None,
               options: SpotOptions | None = None, device: str = "auto", batch_size: int = 32,
               weights_file: str | None = None, pca_file: str | None = None, progress: bool = True) -> SpotReport:
    """Extract (or reuse, when complete and identical) the head's features for a video or game folder,
    then spot those halves; results go to `<game folder>/results_spotting.json` (an existing one is
    skipped unless `options.overwrite`)."""
    input_path = Path(input_path)
    game_dir, jobs = plan_video_input(input_path, Path(out_dir) if out_dir is not None else None)
    config = extract_config_for(head, device=device, batch_size=batch_size, weights_file=weights_file,
                                pca_file=pca_file, progress=progress)
    extractor = build_extractor(head, config)
    for job in jobs:
        check_no_conflict(extractor, job.video, game_dir, job.half)
    out_path = game_dir / PREDICTIONS_FILE
    options = options or SpotOptions()
    if out_path.exists() and not options.overwrite:
        return SpotReport([GameResult(".", out_path, "skipped")])
    nms = resolve_nms(head, options)
    for job in jobs:
        extractor.extract(job.video, game_dir, job.half)
    predictions = []
    for job in jobs:  # only the halves of this input, whatever else the folder holds
        predictions += spot_half(head, game_dir, job.half, extractor.name, nms, options)
    write_predictions(out_path, GamePredictions(url=input_path.name, predictions=predictions))
    return SpotReport([GameResult(".", out_path, "spotted", len(predictions), [job.half for job in jobs])])

"""Combined features: several feature sets of the same halves, each normalised, concatenated into one.

Baidu's SoccerNet-v2 challenge entry (Zhou et al. 2021, "Feature Combination Meets Attention: Baidu Soccer
Embeddings and Transformer based Temporal Detection", arXiv 2106.14447) fed its temporal head one embedding
per timestamp: the features of several fine-tuned video models, concatenated. That much is from the report.
How each part is normalised before concatenation we could not confirm from the report or its released code
(the SoccerNet-v2 DevKit's issue #51 notes the same gap), so the normalisation is a named option and
the default is our choice:

- `l2` (default, ours): each part's row divided by its Euclidean norm, so every part weighs the same in
  the embedding whatever its width or activation scale (a 2048-d ResNet part would otherwise drown a
  368-d RegNet part);
- `none`: parts concatenated as they are.

A combined half is `<game>/<half>_<name>.npy` with a sidecar whose `FeatureMeta` has backbone `combined`,
`components` (each part's identity, `FeatureMeta.identity()`, in column order) and `normalize`, so
`FeatureMeta.identity()` tells different combinations apart; `extra` records each part's feature name,
precision and a fingerprint of its files, so a combined half whose parts were re-made is redone.
Parts must be the same halves: identical row counts and row times (within `TIME_TOLERANCE` seconds).
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from soccerspot.errors import DataError
from soccerspot.files import soccerspot_version
from soccerspot.data.features import FeatureMeta, HalfFeatures, check_finite, feature_path, load_features, sidecar_path, write_features
from soccerspot.data.games import HALVES

COMBINED_BACKBONE = "combined"
TIME_TOLERANCE = 1e-6  # seconds: parts' rows must be sampled at the same times
L2_EPSILON = 1e-12  # an all-zero row stays zero instead of dividing by zero


def l2_rows(array: np.ndarray) -> np.ndarray:
    """Each row divided by its Euclidean norm (rows of zeros stay zeros), in float32."""
    rows = np.asarray(array, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float64))
    return (rows / np.maximum(norms, L2_EPSILON)[:, None]).astype(np.float32)


def unchanged(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)


# name -> how one part's (rows, dim) array is normalised before concatenation
NORMALIZERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"l2": l2_rows, "none": unchanged}
DEFAULT_NORMALIZE = "l2"


def combine_arrays(parts: Sequence[np.ndarray], normalize: str = DEFAULT_NORMALIZE) -> np.ndarray:
    """(rows, sum of dims) float32: each part normalised by `NORMALIZERS[normalize]`, concatenated in order."""
    if normalize not in NORMALIZERS:
        raise ValueError(f"unknown normalisation {normalize!r}; choose one of {', '.join(NORMALIZERS)}")
    if not parts:
        raise ValueError("nothing to combine")
    rows = {int(part.shape[0]) for part in parts}
    if len(rows) != 1 or any(part.ndim != 2 for part in parts):
        raise ValueError(f"parts must be 2-D arrays with the same rows, got shapes {[part.shape for part in parts]}")
    return np.concatenate([NORMALIZERS[normalize](part) for part in parts], axis=1)


@dataclass
class CombineConfig:
    """What to combine: feature names, in column order, into feature `name`, each part normalised."""

    parts: list[str]
    name: str
    normalize: str = DEFAULT_NORMALIZE

    def problems(self) -> list[tuple[str, str]]:
        """(field, reason) for settings that cannot work, whatever the data."""
        found = []
        if len(self.parts) < 2:
            found.append(("parts", f"needs at least two feature names, got {len(self.parts)}"))
        if any(not part or "/" in part for part in self.parts):
            found.append(("parts", f"feature names must be non-empty and hold no '/', got {self.parts}"))
        repeated = sorted({part for part in self.parts if self.parts.count(part) > 1})
        if repeated:
            found.append(("parts", f"{', '.join(repeated)} given more than once"))
        if not self.name or "/" in self.name:
            found.append(("name", f"must be a non-empty feature name without '/', got {self.name!r}"))
        elif self.name in self.parts:
            found.append(("name", f"{self.name!r} is one of the parts; choose another name"))
        if self.normalize not in NORMALIZERS:
            found.append(("normalize", f"{self.normalize!r} unknown; choose one of {', '.join(NORMALIZERS)}"))
        return found


def component_identity(meta: FeatureMeta) -> dict:
    """What a part contributes to the combined identity: its own identity (precision left out)."""
    return meta.identity()


def combined_precision(metas: Sequence[FeatureMeta]) -> str:
    precisions = [str(meta.precision) for meta in metas]
    return precisions[0] if len(set(precisions)) == 1 else "mixed:" + "+".join(precisions)


def fingerprint(part: HalfFeatures) -> str:
    """Changes whenever the part is written again: its sidecar's sha256 (sidecar-less official files: none) and
    its array file's size and modification time (cheap: resuming an archive reads no feature data)."""
    side = part.path.with_suffix(".json")
    stat = part.path.stat()
    sidecar = hashlib.sha256(side.read_bytes()).hexdigest()[:16] if side.is_file() else "none"
    return f"sidecar:{sidecar} size:{stat.st_size} mtime_ns:{stat.st_mtime_ns}"


def combined_template(metas: Sequence[FeatureMeta], normalize: str) -> FeatureMeta:
    """How the combination of parts made as `metas` is made (settings, identity), before any rows exist."""
    return FeatureMeta(
        backbone=COMBINED_BACKBONE, weights=COMBINED_BACKBONE, fps=metas[0].fps, transform=COMBINED_BACKBONE,
        input_size=0, precision=combined_precision(metas), pca=None, dim=sum(int(meta.dim) for meta in metas),
        version=soccerspot_version(), components=[component_identity(meta) for meta in metas], normalize=normalize,
    )


def combined_meta(parts: Sequence[HalfFeatures], names: Sequence[str], normalize: str) -> FeatureMeta:
    """The sidecar of the combination of `parts` (already checked to be the same rows): the first part's row
    times and source."""
    first = parts[0].meta
    metas = [part.meta for part in parts]
    return dataclasses.replace(
        combined_template(metas, normalize), start=first.start, step=first.step,
        timestamps=None if first.timestamps is None else [float(t) for t in first.timestamps],
        source=first.source, source_size=first.source_size,
        extra={"parts": list(names), "part_precisions": [str(meta.precision) for meta in metas],
               "part_fingerprints": [fingerprint(part) for part in parts]},
    )


def check_same_rows(parts: Sequence[HalfFeatures]) -> None:
    """`DataError` naming both files when a part's rows differ in count or time from the first part's."""
    first = parts[0]
    first_times = first.meta.frame_times()
    for part in parts[1:]:
        if part.array.shape[0] != first.array.shape[0]:
            raise DataError(part.path, f"has {part.array.shape[0]} rows but {first.path} has {first.array.shape[0]}: "
                                       "parts must be features of the same halves at the same times")
        times = part.meta.frame_times()
        gap = np.abs(times - first_times)
        if gap.size and float(gap.max()) > TIME_TOLERANCE:
            row = int(np.argmax(gap))
            raise DataError(part.path, f"row {row} is at {times[row]:.6f} s but row {row} of {first.path} is at "
                                       f"{first_times[row]:.6f} s: parts must be sampled at the same times")


def load_parts(game_dir: Path, half: int, names: Sequence[str]) -> list[HalfFeatures]:
    """Each named part of one half (`DataError` naming a missing or unreadable one, or a combined part)."""
    parts = []
    for name in names:
        if not feature_path(game_dir, half, name).is_file():
            raise DataError(feature_path(game_dir, half, name), f"part {name!r} missing for half {half}")
        part = load_features(game_dir, half, name)
        if part.meta.components is not None:
            raise DataError(part.path, "is itself combined features; combine its parts instead")
        parts.append(part)
    return parts


@dataclass
class CombineResult:
    path: Path
    skipped: bool = False
    reason: str = ""  # why it was (re)done


def stale_reason(game_dir: Path, half: int, config: CombineConfig, wanted: FeatureMeta) -> str | None:
    """None when the combined half on disk is complete and made from these very parts; else why not."""
    if not sidecar_path(game_dir, half, config.name).is_file():
        exists = feature_path(game_dir, half, config.name).is_file()
        return "array without its sidecar (interrupted run)" if exists else "not combined yet"
    try:
        meta = load_features(game_dir, half, config.name).meta
    except DataError as error:
        return f"incomplete ({error.reason})"
    if meta.settings() != wanted.settings():
        return "made with other parts or settings"
    if meta.extra.get("parts") != wanted.extra["parts"] or \
            meta.extra.get("part_fingerprints") != wanted.extra["part_fingerprints"]:
        return "its parts were made again"
    return None


def combine_half(game_dir: str | Path, half: int, config: CombineConfig) -> CombineResult:
    """Combine one half's parts into `<half>_<config.name>.npy` + sidecar, unless it is complete and current.
    Raises `DataError` naming the file for a missing part, mismatched rows or non-finite values."""
    game_dir = Path(game_dir)
    parts = load_parts(game_dir, half, config.parts)
    check_same_rows(parts)
    meta = combined_meta(parts, config.parts, config.normalize)
    reason = stale_reason(game_dir, half, config, meta)
    path = feature_path(game_dir, half, config.name)
    if reason is None:
        return CombineResult(path, skipped=True)
    for part in parts:
        check_finite(part.array, part.path)
    array = combine_arrays([part.array for part in parts], config.normalize)
    write_features(game_dir, half, config.name, array, meta)
    return CombineResult(path, reason=reason)


@dataclass
class HalfJob:
    game_dir: Path
    half: int


@dataclass
class CombineSummary:
    done: list[CombineResult] = field(default_factory=list)
    skipped: list[CombineResult] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def find_halves(root: str | Path, parts: Sequence[str]) -> list[HalfJob]:
    """Every (game folder, half) below `root` (or `root` itself) holding at least one of the parts, sorted:
    a half with some parts but not all is a job that fails naming the missing one."""
    root = Path(root)
    found = {(path.parent, half) for half in HALVES for name in parts for path in root.rglob(f"{half}_{name}.npy")}
    return [HalfJob(game_dir, half) for game_dir, half in sorted(found)]

"""PCA of features: fit incrementally over many games, apply, save/load `.npz`, import SoccerNet's pickles.

`y = (x - mean) @ components.T` (whitening, if the source had it, is folded into `components`).

Fitting accumulates the sum and the sum of outer products in float64 (shifted by the first chunk's mean for
stability), so any number of games streams through in O(dim^2) memory and the result is the exact PCA of
all rows. It refuses to fit on fewer than `min_games` sources: a projection fitted per game makes every
game's features incomparable (the peers' users got garbage that way), so extraction never fits one.

SoccerNet's `pca_512_TF2.pkl` (a pickled scikit-learn PCA) and `average_512_TF2.pkl` (an array subtracted
before it) are read through `extract.restricted_pickle`, never with plain `pickle.load`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from soccerspot.data.atomic import atomic_open
from soccerspot.errors import DataError
from soccerspot.extract.restricted_pickle import load_pickled_array, load_pickled_pca


@dataclass
class PCA:
    mean: np.ndarray  # (input_dim,) float32
    components: np.ndarray  # (output_dim, input_dim) float32, rows are principal axes
    explained_variance: np.ndarray | None = None  # (output_dim,)
    source: str = ""

    @property
    def input_dim(self) -> int:
        return int(self.components.shape[1])

    @property
    def output_dim(self) -> int:
        return int(self.components.shape[0])

    @property
    def identity(self) -> str:
        """Content hash: two PCAs with the same numbers have the same identity, wherever they came from."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.mean, dtype=np.float32).tobytes())
        digest.update(np.ascontiguousarray(self.components, dtype=np.float32).tobytes())
        return f"pca{self.output_dim}:{digest.hexdigest()[:16]}"

    def transform(self, features: np.ndarray) -> np.ndarray:
        if features.shape[-1] != self.input_dim:
            raise ValueError(f"PCA expects {self.input_dim}-d features, got {features.shape[-1]}-d")
        centred = np.asarray(features, dtype=np.float32) - self.mean
        return (centred @ self.components.T).astype(np.float32)


class PCAFitter:
    """Streams feature arrays (one or more per game) into running moments; `fit` solves once."""

    def __init__(self):
        self.count = 0
        self.shift: np.ndarray | None = None
        self.total: np.ndarray | None = None
        self.outer: np.ndarray | None = None
        self.sources: set[str] = set()

    def update(self, features: np.ndarray, source: str, chunk: int = 4096) -> None:
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[0] == 0:
            return
        if self.shift is None:
            self.shift = features[:chunk].astype(np.float64).mean(axis=0)
            self.total = np.zeros_like(self.shift)
            self.outer = np.zeros((self.shift.size, self.shift.size))
        if features.shape[1] != self.shift.size:
            raise ValueError(f"{source}: {features.shape[1]}-d features, earlier ones were {self.shift.size}-d")
        for begin in range(0, features.shape[0], chunk):
            block = np.asarray(features[begin : begin + chunk], dtype=np.float64) - self.shift
            self.total += block.sum(axis=0)
            self.outer += block.T @ block
            self.count += block.shape[0]
        self.sources.add(source)

    def fit(self, output_dim: int, *, min_games: int = 2) -> PCA:
        if len(self.sources) < min_games:
            raise ValueError(
                f"refusing to fit a PCA on {len(self.sources)} game(s) (< {min_games}): a per-game PCA makes "
                "features incomparable across games; fit on the training games, or lower min_games knowingly"
            )
        if self.count <= output_dim:
            raise ValueError(f"need more than {output_dim} rows to fit {output_dim} components, got {self.count}")
        centred_mean = self.total / self.count
        covariance = (self.outer - self.count * np.outer(centred_mean, centred_mean)) / (self.count - 1)
        values, vectors = np.linalg.eigh(covariance)
        order = np.argsort(values)[::-1][:output_dim]
        components = vectors[:, order].T
        # Deterministic signs: the largest-magnitude entry of each axis is positive.
        signs = np.sign(components[np.arange(output_dim), np.abs(components).argmax(axis=1)])
        components *= signs[:, None]
        return PCA(
            mean=(centred_mean + self.shift).astype(np.float32), components=components.astype(np.float32),
            explained_variance=values[order].astype(np.float32), source=f"fit:{len(self.sources)} games",
        )


def fit_pca(games: Iterable[tuple[str, np.ndarray]], output_dim: int = 512, *, min_games: int = 2) -> PCA:
    """Fit over (game name, features) pairs - pass every half of every training game."""
    fitter = PCAFitter()
    for name, features in games:
        fitter.update(features, name)
    return fitter.fit(output_dim, min_games=min_games)


def save_pca(path: str | Path, pca: PCA) -> None:
    with atomic_open(path, "wb") as handle:
        np.savez(
            handle, mean=pca.mean, components=pca.components, source=np.array(pca.source),
            explained_variance=pca.explained_variance if pca.explained_variance is not None else np.zeros(0),
        )


def load_pca(path: str | Path) -> PCA:
    """A `.npz` written by `save_pca`, or SoccerNet's `pca_*.pkl` (with its `average_*.pkl` beside it)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "PCA file not found")
    if path.suffix == ".pkl":
        average = path.with_name(path.name.replace("pca_", "average_", 1))
        if average == path or not average.is_file():
            raise DataError(path, f"SoccerNet's PCA needs its average file beside it (expected {average.name})")
        return import_soccernet_pca(path, average)
    try:
        with np.load(path, allow_pickle=False) as archive:
            variance = archive["explained_variance"] if "explained_variance" in archive else np.zeros(0)
            pca = PCA(
                mean=archive["mean"].astype(np.float32), components=archive["components"].astype(np.float32),
                explained_variance=variance if variance.size else None,
                source=str(archive["source"]) if "source" in archive else str(path),
            )
    except (ValueError, KeyError, OSError) as error:
        raise DataError(path, f"not a PCA .npz (needs arrays 'mean' and 'components'): {error}") from error
    if pca.mean.shape != (pca.input_dim,):
        raise DataError(path, f"mean has shape {pca.mean.shape}, components {pca.components.shape}")
    return pca


def import_soccernet_pca(pca_pkl: str | Path, average_pkl: str | Path | None = None) -> PCA:
    """SoccerNet applies `pca.transform(features - average)`; fold both into one mean."""
    fields = load_pickled_pca(pca_pkl)
    mean = np.asarray(fields["mean_"], dtype=np.float64)
    components = np.asarray(fields["components_"], dtype=np.float64)
    if components.ndim != 2 or mean.shape != (components.shape[1],):
        raise DataError(pca_pkl, f"PCA shapes disagree: mean_ {mean.shape}, components_ {components.shape}")
    variance = fields.get("explained_variance_")
    if fields.get("whiten"):
        if not isinstance(variance, np.ndarray):
            raise DataError(pca_pkl, "whitened PCA without explained_variance_")
        components = components / np.sqrt(variance)[:, None]
    if average_pkl is not None:
        average = load_pickled_array(average_pkl).astype(np.float64).reshape(-1)
        if average.shape != mean.shape:
            raise DataError(average_pkl, f"average has {average.size} values, the PCA expects {mean.size}")
        mean = mean + average
    return PCA(
        mean=mean.astype(np.float32), components=components.astype(np.float32),
        explained_variance=np.asarray(variance, dtype=np.float32) if isinstance(variance, np.ndarray) else None,
        source=f"soccernet:{Path(pca_pkl).name}",
    )

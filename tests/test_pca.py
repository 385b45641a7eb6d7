"""PCA: incremental fit equals a direct fit, refusal on one game, .npz round trip, SoccerNet pickles."""
from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest

from soccerspot.errors import DataError
from soccerspot.extract.pca import PCA, PCAFitter, fit_pca, import_soccernet_pca, load_pca, save_pca
from soccerspot.extract.restricted_pickle import load_restricted


def correlated_features(rng, rows: int, dim: int = 16) -> np.ndarray:
    mixing = np.linspace(0.2, 3.0, dim)[:, None] * rng.normal(size=(dim, dim))
    return (rng.normal(size=(rows, dim)) @ mixing + 5.0).astype(np.float32)


def test_incremental_fit_over_games_equals_direct_pca():
    rng = np.random.default_rng(0)
    games = [(f"game{i}", correlated_features(rng, 300 + 50 * i)) for i in range(4)]
    pca = fit_pca(games, output_dim=4)
    everything = np.concatenate([features for _, features in games]).astype(np.float64)
    mean = everything.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(everything, rowvar=False))
    top = vectors[:, np.argsort(values)[::-1][:4]].T
    np.testing.assert_allclose(pca.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(np.abs(pca.components @ top.T), np.eye(4), atol=1e-4)  # same axes up to sign
    np.testing.assert_allclose(pca.explained_variance, np.sort(values)[::-1][:4], rtol=1e-4)
    projected = pca.transform(everything[:5])
    np.testing.assert_allclose(projected, (everything[:5] - mean) @ pca.components.T, rtol=1e-3, atol=1e-3)


def test_fit_on_a_single_game_is_refused_by_default():
    rng = np.random.default_rng(1)
    fitter = PCAFitter()
    fitter.update(correlated_features(rng, 500), "only-game")
    fitter.update(correlated_features(rng, 500), "only-game")  # both halves of one game: still one game
    with pytest.raises(ValueError, match="1 game"):
        fitter.fit(4)
    assert fitter.fit(4, min_games=1).output_dim == 4  # only when asked for explicitly


def test_npz_round_trip_and_identity(tmp_path):
    rng = np.random.default_rng(2)
    pca = fit_pca([("a", correlated_features(rng, 200)), ("b", correlated_features(rng, 200))], output_dim=3)
    path = tmp_path / "pca.npz"
    save_pca(path, pca)
    loaded = load_pca(path)
    np.testing.assert_array_equal(loaded.components, pca.components)
    assert loaded.identity == pca.identity and loaded.identity.startswith("pca3:")
    changed = PCA(mean=pca.mean + 1, components=pca.components)
    assert changed.identity != pca.identity


# -------------------------------------------------------------------------------- SoccerNet's pickles


@pytest.fixture
def fake_sklearn(monkeypatch):
    """A stand-in `sklearn.decomposition._pca.PCA` class, so this test can write a pickle shaped like
    scikit-learn's (scikit-learn is not installed, and the loader must not need it)."""
    sklearn = types.ModuleType("sklearn")
    decomposition = types.ModuleType("sklearn.decomposition")
    pca_module = types.ModuleType("sklearn.decomposition._pca")

    class FakePCA:  # sklearn estimators pickle as NEWOBJ + BUILD(__dict__)
        pass

    FakePCA.__module__, FakePCA.__qualname__, FakePCA.__name__ = "sklearn.decomposition._pca", "PCA", "PCA"
    pca_module.PCA = FakePCA
    for name, module in [("sklearn", sklearn), ("sklearn.decomposition", decomposition),
                         ("sklearn.decomposition._pca", pca_module)]:
        monkeypatch.setitem(sys.modules, name, module)
    return FakePCA


def write_soccernet_like_pickles(tmp_path, fake_class, whiten=False, protocol=4):
    rng = np.random.default_rng(3)
    estimator = fake_class()
    components = np.linalg.qr(rng.normal(size=(8, 8)))[0][:3].astype(np.float32)
    estimator.__dict__.update({
        "n_components": 3, "copy": True, "whiten": whiten, "svd_solver": "auto", "tol": 0.0,
        "iterated_power": "auto", "random_state": None, "n_features_in_": 8, "n_samples_": 1000,
        "mean_": rng.normal(size=8).astype(np.float32), "components_": components,
        "explained_variance_": np.array([3.0, 2.0, 1.0], dtype=np.float32),
        "explained_variance_ratio_": np.array([0.5, 0.3, 0.2]), "singular_values_": np.ones(3),
        "noise_variance_": np.float64(0.01), "n_components_": 3, "_sklearn_version": "0.23.2",
    })
    pca_path = tmp_path / "pca_512_TF2.pkl"
    pca_path.write_bytes(pickle.dumps(estimator, protocol=protocol))
    average = rng.normal(size=8).astype(np.float32)
    (tmp_path / "average_512_TF2.pkl").write_bytes(pickle.dumps(average, protocol=protocol))
    return pca_path, estimator, average


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_import_soccernet_pickles_without_sklearn(tmp_path, fake_sklearn, protocol):
    pca_path, estimator, average = write_soccernet_like_pickles(tmp_path, fake_sklearn, protocol=protocol)
    sys.modules.pop("sklearn.decomposition._pca")  # the loader must not look the class up
    pca = load_pca(pca_path)  # finds average_512_TF2.pkl beside it
    features = np.random.default_rng(4).normal(size=(5, 8)).astype(np.float32)
    expected = ((features - average) - estimator.mean_) @ estimator.components_.T  # SoccerNet's recipe
    np.testing.assert_allclose(pca.transform(features), expected, rtol=1e-5, atol=1e-5)
    save_pca(tmp_path / "soccernet_pca.npz", pca)
    np.testing.assert_allclose(load_pca(tmp_path / "soccernet_pca.npz").transform(features), expected, atol=1e-5)


def test_whitened_pca_folds_the_scaling(tmp_path, fake_sklearn):
    pca_path, estimator, average = write_soccernet_like_pickles(tmp_path, fake_sklearn, whiten=True)
    pca = import_soccernet_pca(pca_path, tmp_path / "average_512_TF2.pkl")
    features = np.ones((1, 8), dtype=np.float32)
    expected = ((features - average) - estimator.mean_) @ estimator.components_.T / np.sqrt([3.0, 2.0, 1.0])
    np.testing.assert_allclose(pca.transform(features), expected, rtol=1e-5, atol=1e-5)


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "pca_512_TF2.pkl"
    path.write_bytes(pickle.dumps(Exploit(marker)))
    with pytest.raises(DataError, match=r"refusing to load (posix|os|nt)\.system"):
        load_restricted(path)
    assert not marker.exists()
    hidden = tmp_path / "average_512_TF2.pkl"  # a callable smuggled inside an otherwise fine dict
    hidden.write_bytes(pickle.dumps({"mean_": np.zeros(2), "hook": print}))
    with pytest.raises(DataError, match="builtins.print"):
        load_restricted(hidden)


def test_pickle_of_the_wrong_kind_is_refused(tmp_path, fake_sklearn):
    _, _, _ = write_soccernet_like_pickles(tmp_path, fake_sklearn)
    with pytest.raises(DataError, match="expected a pickled scikit-learn PCA"):
        import_soccernet_pca(tmp_path / "average_512_TF2.pkl")

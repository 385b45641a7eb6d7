"""Read SoccerNet's PCA pickles (`average_512_TF2.pkl`, `pca_512_TF2.pkl`) without trusting them.

A pickle can run any code it names. This unpickler resolves only the globals needed to rebuild numpy
arrays, numpy scalars and dtypes, and scikit-learn's `PCA` - which is mapped to `SklearnPCAFields`, a
plain holder of its fields, so scikit-learn is neither needed nor imported. Anything else (os.system,
builtins.eval, other classes) is refused with an error naming the global.
"""
from __future__ import annotations

import copyreg
import importlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from soccerspot.errors import DataError

PCA_CLASSES = {("sklearn.decomposition._pca", "PCA"), ("sklearn.decomposition.pca", "PCA")}
# (module, name) -> where it lives in this numpy (numpy 2 moved numpy.core to numpy._core).
NUMPY_GLOBALS = {
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
}
# Plain values a PCA's fields may hold besides arrays.
PLAIN_TYPES = (type(None), bool, int, float, str, np.ndarray, np.generic, np.dtype)


class SklearnPCAFields:
    """Stands in for `sklearn.decomposition.PCA` while unpickling: keeps its fields, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.fields: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"PCA state should be a dict of fields, got {type(state).__name__}")
        for key, value in state.items():
            if not isinstance(key, str) or not isinstance(value, PLAIN_TYPES + (tuple, list)):
                raise pickle.UnpicklingError(f"PCA field {key!r} holds an unexpected {type(value).__name__}")
        self.fields = dict(state)


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in PCA_CLASSES:
            return SklearnPCAFields
        if (module, name) in NUMPY_GLOBALS:
            where, attr = NUMPY_GLOBALS[(module, name)]
            return getattr(_import_numpy_module(where, module), attr)
        if (module, name) == ("copyreg", "_reconstructor"):  # protocol 0/1 object creation
            return _safe_reconstructor
        if (module, name) == ("builtins", "object"):
            return object
        if (module, name) == ("_codecs", "encode"):  # how protocol-2 pickles store bytes
            return _latin1_encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays and a PCA's fields are allowed")


def _import_numpy_module(preferred: str, original: str):
    try:
        return importlib.import_module(preferred)
    except ImportError:  # numpy 1.x
        return importlib.import_module(original)


def _safe_reconstructor(cls: type, base: type, state: Any) -> Any:
    if cls is not SklearnPCAFields or base is not object:
        raise pickle.UnpicklingError(f"refusing to reconstruct {getattr(cls, '__name__', cls)}")
    return copyreg._reconstructor(cls, base, state)


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with {encoding!r}")
    return text.encode("latin1")


def load_restricted(path: str | Path) -> Any:
    """Unpickle `path` allowing only numpy arrays/scalars/dtypes and scikit-learn PCA fields."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return RestrictedUnpickler(handle).load()
    except FileNotFoundError as error:
        raise DataError(path, "file not found") from error
    except pickle.UnpicklingError as error:
        raise DataError(path, f"unsafe or unsupported pickle: {error}") from error
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise DataError(path, f"not a readable pickle ({error})") from error


def load_pickled_array(path: str | Path) -> np.ndarray:
    value = load_restricted(path)
    if not isinstance(value, np.ndarray):
        raise DataError(path, f"expected a pickled numpy array, found {type(value).__name__}")
    return value


def load_pickled_pca(path: str | Path) -> dict[str, Any]:
    """The fields of a pickled scikit-learn PCA (mean_, components_, explained_variance_, whiten, ...)."""
    value = load_restricted(path)
    if not isinstance(value, SklearnPCAFields):
        raise DataError(path, f"expected a pickled scikit-learn PCA, found {type(value).__name__}")
    for key in ("mean_", "components_"):
        if not isinstance(value.fields.get(key), np.ndarray):
            raise DataError(path, f"the pickled PCA has no {key} array (was it fitted?)")
    return value.fields

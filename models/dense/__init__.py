"""Dense frame models: a small image network with a temporal shift inside it and a temporal layer that scores
every frame of a clip (background included). One file per family, each registering itself
(`registry.register_dense_model`); the package imports every module in this folder, so a new model is one
new file here.

- `registry` — `DenseOutput`, `DenseModel` (what every dense model exposes), `DenseInput` (how its frames
  are normalised and padded), `register_dense_model` / `create_dense_model` / `list_dense_models`; peers'
  published model folders: `register_dense_peer_format` / `load_dense_peer_folder` -> `PeerDenseModel`.
- `temporal_shift` — TSM, GSM and GSF inserted into a timm RegNetY's blocks for a fixed clip length
  (`ShiftedRegNet`).
- `e2e_spot` — E2E-Spot (Hong et al., ECCV 2022) and its peer checkpoint converter.

Each module's `__all__` is offered here as well.
"""
import importlib
import pkgutil

from soccerspot.models.dense.registry import (  # noqa: F401
    PAD_BLACK, PAD_NORMALISED_ZERO, DenseInput, DenseModel, DenseModelEntry, DenseOutput, PeerDenseFormat,
    PeerDenseModel, create_dense_model, dense_model_entry, list_dense_models, list_dense_peer_formats,
    load_dense_peer_folder, register_dense_model, register_dense_peer_format,
)

for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)

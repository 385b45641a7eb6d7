"""Backbones, one module per source, each registering itself (`registry.register_backbone`, or a prefixed
`BackboneFamily`); the package imports every module in this folder, so a new backbone source is one new
file here. The registry API (`create_backbone`, `list_backbones`, `backbone_entry`) and each module's
`__all__` are offered here.
"""
import importlib
import pkgutil

from soccerspot.models.backbones.registry import (  # noqa: F401
    IMAGENET_MEAN, IMAGENET_STD, Backbone, BackboneEntry, BackboneFamily, PretrainedWeights, backbone_entry,
    create_backbone, list_backbones, normalize_images, register_backbone, register_backbone_family,
)
from soccerspot.models.backbones.weights import BackboneWeightsError, load_weights_file, weights_file_id  # noqa: F401

for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)

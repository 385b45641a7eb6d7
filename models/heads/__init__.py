"""Spotting heads, one file per family, each registering itself (`registry.register_head`); the package
imports every module in this folder, so a new head is one new file here.

- `pooling_head` — NetVLAD++, NetRVLAD++, MaxPool++, AvgPool++ and their single-window forms (Giancola &
  Ghanem, CVPR-W 2021; the SoccerNet-v2 pooling baselines), with the exact window-sum whole-half path and
  the SoccerNet baselines' checkpoint conversion.
- `transformer` — Baidu's transformer encoder (Zhou et al. 2021).
- `calf` — CALF's context-aware segmentation + spotting head (Cioppa et al., CVPR 2020).
- `rmsnet` — RMS-Net's class + offset head (Tomei et al., ICPR 2020).
- `snippet` — the snippet classifier of the snippet fine-tuning recipe (not a spotting head; not registered).

Each module's `__all__` is offered here as well. The registry API (`create_head`, `list_heads`, `head_config`, `head_entry`, `head_config_from_json`,
`convert_peer_checkpoint`) is re-exported here.
"""
import importlib
import pkgutil

from soccerspot.models.heads.registry import (  # noqa: F401
    BaseHeadConfig, HeadEntry, PeerHead, WindowHead, as_head_config, convert_peer_checkpoint, create_head,
    head_config, head_config_from_json, head_entry, list_heads, register_head, register_peer_converter,
)

# Discovery: every module of this folder registers its heads on import; its public names (`__all__`)
# are offered here too, as timm's package offers its models.
for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)

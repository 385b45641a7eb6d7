"""T-DEED (Xarles et al., CVPR-W 2024) as a dense model: a RegNetY with Gate-Shift-Fuse in its last two
stages gives one embedding per frame; a learned temporal encoding is added; the SGP encoder-decoder
(`models.dense.sgp`) mixes them over the clip; per frame, a class head (C + 1, background first), a
displacement head (the frame's offset to its event, in frames, trained within `radi_displacement`) and,
in SoccerNet/sn-teamspotting, a team head (logit of "the team on the right of the video").

Exact to the authors' `model/model.py` (`TDEEDModel.Impl`): the backbone is timm's `regnety_002` /
`regnety_008` with its classifier removed, the shift (`_gsf`, `_gsm`, or none) in every block of stages s3
and s4 (`models.dense.temporal_shift`). Their inference scales frames to [0, 1] and normalises them with
ImageNet's mean and std, and pads clips with black frames before that: `input_spec` says so and the caller
applies it; `forward` centre-crops to `crop_dim` when set, as theirs does (a crop commutes with the
per-channel normalisation).

`TDEEDConfig` carries their JSON config's keys (`feature_arch`, `clip_len`, `n_layers`, `sgp_ks`, `sgp_r`,
`radi_displacement`, `event_team`, `crop_dim`, `num_classes`, `dataset`) and what their evaluation does with
the model, which inference reproduces: the class order, the frames (`source_fps`, `frame_stride`,
`frame_width` x `frame_height`), the clips' overlap and the padding before the first frame.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import torch
import torchvision.transforms.functional as TF

from soccerspot.errors import SettingsError
from soccerspot.models.backbones.registry import IMAGENET_MEAN, IMAGENET_STD
from soccerspot.models.dense.registry import PAD_BLACK, DenseInput, DenseModel, DenseOutput, register_dense_model
from soccerspot.models.dense.sgp import TDEEDTemporal
from soccerspot.models.dense.tdeed_classes import SOCCERNET_BALL_CLASSES, SOCCERNET_V2_CLASSES
from soccerspot.models.dense.temporal_shift import create_shifted_regnet
from soccerspot.models.papers import TDEED_PAPER, TEAM_SPOTTING_PAPER

__all__ = ["TDEED", "TDEEDConfig", "OVERLAP_RULES", "TDEED_REGNETS", "TDEED_SHIFT_STAGES", "TDEED_TEMPORAL_ARCHS",
           "parse_feature_arch"]

# Their feature_arch prefix -> timm model.
TDEED_REGNETS = {"rny002": "regnety_002", "rny008": "regnety_008"}
TDEED_SHIFT_STAGES = ("s3", "s4")  # "Only later 2 stages have temporal shift" (their model/shift.py)
TDEED_TEMPORAL_ARCHS = ("ed_sgp_mixer",)
# How many frames consecutive test clips share: sn-teamspotting always, and arturxe2 except on SoccerNet-v2,
# clip_len // 4 * 3; arturxe2 on SoccerNet-v2, clip_len // 2.
OVERLAP_RULES = {"3/4": lambda clip_len: clip_len // 4 * 3, "1/2": lambda clip_len: clip_len // 2}
_FEATURE_ARCH = re.compile(r"^(?P<regnet>rny\d{3})(?:_(?P<shift>[a-z]+))?$")


def parse_feature_arch(feature_arch: str) -> tuple[str, str | None]:
    """"rny008_gsf" -> ("regnety_008", "gsf"); "rny002" -> ("regnety_002", None). SettingsError otherwise."""
    match = _FEATURE_ARCH.match(feature_arch)
    shift = match.group("shift") if match else None
    if match is None or match.group("regnet") not in TDEED_REGNETS or (shift is not None and shift not in ("gsm", "gsf")):
        known = ", ".join(f"{r}{s}" for r in TDEED_REGNETS for s in ("_gsf", "_gsm", ""))
        raise SettingsError("feature_arch", f"T-DEED has no feature_arch {feature_arch!r}; known: {known}")
    return TDEED_REGNETS[match.group("regnet")], shift


@dataclass
class TDEEDConfig:
    """A T-DEED network (their JSON keys) and how their evaluation runs it over a video."""

    feature_arch: str = "rny002_gsf"
    temporal_arch: str = "ed_sgp_mixer"
    clip_len: int = 100
    num_classes: int = 12
    n_layers: int = 2  # encoder-decoder levels
    sgp_ks: int = 9  # SGP kernel size
    sgp_r: float = 4  # SGP's long-window factor: kw kernel = round((sgp_ks + 1) * sgp_r), made odd
    radi_displacement: int = 4  # 0: no displacement head
    event_team: bool = False  # sn-teamspotting's team head
    crop_dim: int | None = None  # centre crop (square) at inference; their -1 is None
    pretrained: bool = False  # ImageNet weights for the RegNet (their training starts from them)
    # What their evaluation does with the model (inference reproduces it):
    dataset: str = "soccernetball"
    classes: tuple[str, ...] = SOCCERNET_BALL_CLASSES
    source_fps: float = 25.0  # their frame numbers count the frames of the 25 fps broadcast
    frame_stride: int = 2  # one model frame every `frame_stride` source frames (STRIDE_SNB 2, STRIDE_SN 12)
    overlap_rule: str = "3/4"  # consecutive clips share clip_len // 4 * 3 frames ("3/4") or clip_len // 2 ("1/2")
    start_pad: int = 5  # the first clip starts this many model frames before frame 0 (DEFAULT_PAD_LEN)
    frame_width: int = 796  # their frames (extract_frames_*.py: 720p resized to 796 x 448)
    frame_height: int = 448

    def validate(self) -> "TDEEDConfig":
        """Raise SettingsError naming the first setting that cannot work; returns self."""
        parse_feature_arch(self.feature_arch)
        if self.temporal_arch not in TDEED_TEMPORAL_ARCHS:
            raise SettingsError("temporal_arch", f"T-DEED has no temporal_arch {self.temporal_arch!r}; "
                                                 f"known: {', '.join(TDEED_TEMPORAL_ARCHS)}")
        for name in ("clip_len", "num_classes", "n_layers", "frame_stride", "frame_width", "frame_height"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.sgp_ks < 3 or self.sgp_ks % 2 != 1:
            raise SettingsError("sgp_ks", f"must be odd and at least 3, got {self.sgp_ks}")
        if self.sgp_r <= 0:
            raise SettingsError("sgp_r", f"must be positive, got {self.sgp_r}")
        if self.radi_displacement < 0:
            raise SettingsError("radi_displacement", f"must be 0 (no head) or more, got {self.radi_displacement}")
        if self.crop_dim is not None and self.crop_dim < 1:
            raise SettingsError("crop_dim", f"must be positive or None, got {self.crop_dim}")
        if len(self.classes) != self.num_classes:
            raise SettingsError("classes", f"{len(self.classes)} class names for num_classes={self.num_classes}")
        if self.overlap_rule not in OVERLAP_RULES:
            raise SettingsError("overlap_rule", f"{self.overlap_rule!r} is not one of {', '.join(OVERLAP_RULES)}")
        if self.start_pad < 0 or self.source_fps <= 0:
            raise SettingsError("start_pad" if self.start_pad < 0 else "source_fps", "must not be negative")
        return self

    @property
    def clip_overlap(self) -> int:
        """Model frames shared by consecutive test clips, by their evaluation's integer formula."""
        return OVERLAP_RULES[self.overlap_rule](self.clip_len)

    @property
    def frame_fps(self) -> float:
        """The model's frame rate: source_fps / frame_stride (12.5 for SoccerNet Ball, 2.083 for SoccerNet-v2)."""
        return self.source_fps / self.frame_stride

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TDEEDConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SettingsError(unknown[0], f"not a T-DEED setting (known: {', '.join(sorted(names))})")
        values = dict(data)
        if "classes" in values:
            values["classes"] = tuple(values["classes"])
        return cls(**values).validate()


class TDEED(DenseModel):
    """T-DEED: (B, clip_len, 3, H, W) normalised frames -> `DenseOutput` (logits, displacement, team)."""

    def __init__(self, config: TDEEDConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.clip_len = config.clip_len
        self.num_classes = config.num_classes
        self.classes = tuple(config.classes)
        self.has_displacement = config.radi_displacement > 0
        self.has_team = config.event_team
        self.displacement_radius = config.radi_displacement
        self.task_head_prefixes = ("temporal.class_head.", "temporal.team_head.")
        self.input_spec = DenseInput(mean=IMAGENET_MEAN, std=IMAGENET_STD, padding=PAD_BLACK)
        regnet, shift = parse_feature_arch(config.feature_arch)
        self.backbone = create_shifted_regnet(regnet, kind=shift, clip_len=config.clip_len,
                                              stages=TDEED_SHIFT_STAGES, pretrained=config.pretrained)
        self.temporal = TDEEDTemporal(
            self.backbone.feature_dim, config.clip_len, config.num_classes, num_layers=config.n_layers,
            kernel_size=config.sgp_ks, window_factor=config.sgp_r, radi_displacement=config.radi_displacement,
            event_team=config.event_team)

    def forward(self, x: torch.Tensor) -> DenseOutput:
        """Normalised clips (B, clip_len, 3, H, W) -> per-frame outputs. With `crop_dim`, the centre crop of
        their inference (their training crops at random instead, before the model: no soccerspot recipe does
        that yet; every published config has no crop)."""
        if x.dim() != 5 or x.shape[1] != self.clip_len:
            raise ValueError(f"T-DEED takes clips (B, {self.clip_len}, 3, H, W), got {tuple(x.shape)}")
        if self.config.crop_dim is not None:
            x = TF.center_crop(x, [self.config.crop_dim, self.config.crop_dim])
        out = self.temporal(self.backbone(x))
        return DenseOutput(logits=out.logits, displacement=out.displacement, team=out.team)


# Their published configs as data (config/SoccerNetBall/*.json, config/SoccerNet/*.json of arturxe2/T-DEED;
# config/SoccerNetBall/SoccerNetBall_baseline.json of sn-teamspotting). Paths, batch sizes and training
# schedules are not the network's; the clip overlap is what their evaluation uses for that dataset.
_BALL = dict(dataset="soccernetball", classes=SOCCERNET_BALL_CLASSES, num_classes=12, clip_len=100,
             n_layers=2, sgp_ks=9, sgp_r=4, radi_displacement=4, frame_stride=2, overlap_rule="3/4")
_SOCCERNET = dict(dataset="soccernet", classes=SOCCERNET_V2_CLASSES, num_classes=17, clip_len=100,
                  n_layers=3, sgp_r=4, radi_displacement=3, frame_stride=12, overlap_rule="1/2")
TDEED_PUBLISHED_CONFIGS: dict[str, dict[str, Any]] = {
    "tdeed-soccernetball-challenge1": dict(_BALL, feature_arch="rny002_gsf"),
    "tdeed-soccernetball-challenge2": dict(_BALL, feature_arch="rny008_gsf"),
    "tdeed-soccernet-small": dict(_SOCCERNET, feature_arch="rny002_gsf", sgp_ks=9),
    "tdeed-soccernet-big": dict(_SOCCERNET, feature_arch="rny008_gsf", sgp_ks=11),
    "tdeed-soccernetball-baseline": dict(_BALL, feature_arch="rny002_gsf", event_team=True),
}
__all__.append("TDEED_PUBLISHED_CONFIGS")


def build_tdeed(**settings: Any) -> TDEED:
    """A T-DEED from config fields (a registry builder)."""
    if "classes" in settings:
        settings["classes"] = tuple(settings["classes"])
    return TDEED(TDEEDConfig(**settings))


for _name, _defaults in TDEED_PUBLISHED_CONFIGS.items():
    register_dense_model(_name, paper=TEAM_SPOTTING_PAPER if _defaults.get("event_team") else TDEED_PAPER,
                         pretrained=False, **_defaults)(build_tdeed)

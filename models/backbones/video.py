"""Video backbones cut before their classifier: normalised (n, 3, frames, h, w) float clips -> (n, feature_dim).

torchvision's Kinetics-400 action-recognition models, registered as ``video:<name>`` beside the image
backbones (`models.backbones.create_backbone("video:r2plus1d_18")`). What a clip is for each model is data
read from torchvision's own weights metadata (`VideoBackboneEntry.from_torchvision`): the clip length
and frame rate its accuracy was measured with (`clip_len`, `frame_rate` in the weights' docs), the crop
size and the mean/std of its transforms, its minimum input sizes.

- ``video:r3d_18``, ``video:mc3_18``, ``video:r2plus1d_18``: Tran et al., "A Closer Look at
  Spatiotemporal Convolutions for Action Recognition", CVPR 2018 (16 frames at 15 fps, 112 px, 512-d).
- ``video:s3d``: Xie et al., "Rethinking Spatiotemporal Feature Learning", ECCV 2018 (128 frames at 15 fps,
  224 px, 1024-d).
- ``video:mvit_v1_b``, ``video:mvit_v2_s``: Fan et al. 2021 / Li et al. 2022, Multiscale Vision
  Transformers (16 frames at 7.5 fps, exactly 224 px, 768-d).
- ``video:swin3d_t``, ``video:swin3d_s``, ``video:swin3d_b``: Liu et al., "Video Swin Transformer", CVPR
  2022 (32 frames at 15 fps, 224 px).

Weights: ``"kinetics"`` (or ``"kinetics:<tag>"``; ``"imagenet"`` is accepted as "the library's pretrained
default", as for image backbones) loads torchvision's weights through its own loader (torch hub cache;
offline, a message says where to put the file), ``"none"`` is seeded random initialisation, and a file is a
state dict of the model (or of a model holding it as ``backbone``); classifier weights in it are ignored.
The features are the classifier's input: the pooled last stage (ResNets, S3D, Swin) or the class token
after the final norm (MViT).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from soccerspot.models.backbones.registry import (
    Backbone, BackboneFamily, PretrainedWeights, normalize_images, register_backbone_family, seeded,
)
from soccerspot.models.backbones.torchvision_resnets import torchvision_state_dict
from soccerspot.models.backbones.weights import BackboneWeightsError, load_weights_file
from soccerspot.models.papers import MVIT_PAPER, SWIN_PAPER, TRAN_PAPER

VIDEO_PREFIX = "video:"
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


@dataclass(frozen=True)
class VideoBackboneEntry:
    """A video model's defaults as data; `clip_frames` frames sampled at `clip_fps` make one clip."""

    name: str  # "video:<torchvision name>"
    paper: str
    feature_dim: int
    clip_frames: int
    clip_fps: float
    input_size: int  # side of the square crop the weights were trained at
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    min_frames: int = 1  # shortest clip the architecture accepts
    min_size: int = 1  # smallest crop side the architecture accepts
    fixed_size: bool = False  # positional embeddings fix the input to exactly clip_frames x input_size²
    weights: tuple[PretrainedWeights, ...] = ()

    @property
    def library(self) -> str:
        return "torchvision"

    @property
    def torchvision_name(self) -> str:
        return self.name[len(VIDEO_PREFIX):]

    def pretrained(self, tag: str | None = None) -> PretrainedWeights:
        for candidate in self.weights:
            if tag is None or candidate.tag == tag:
                return candidate
        known = ", ".join(w.tag for w in self.weights) or "none"
        raise BackboneWeightsError(f"{self.name} has no weights {tag!r}; known: {known}")

    def input_problem(self, frames: int, size: int) -> str | None:
        """Why clips of `frames` x `size`² cannot go through this model, or None."""
        if self.fixed_size and (frames, size) != (self.clip_frames, self.input_size):
            return f"{self.name} takes exactly {self.clip_frames} frames of {self.input_size}x{self.input_size}, got {frames} of {size}x{size}"
        if frames < self.min_frames:
            return f"{self.name} needs clips of at least {self.min_frames} frames, got {frames}"
        if size < self.min_size:
            return f"{self.name} needs an input size of at least {self.min_size} px, got {size}"
        return None


def clip_settings_from_docs(docs: str) -> tuple[int, float]:
    """(clip_len, frame_rate) from a torchvision weights `_docs` line ("... `frame_rate=15`, ... `clip_len=16`")."""
    rate = re.search(r"frame_rate=([0-9.]+)", docs)
    length = re.search(r"clip_len=([0-9]+)", docs)
    if not rate or not length:
        raise ValueError(f"no frame_rate / clip_len in {docs!r}")
    return int(length.group(1)), float(rate.group(1))


def entry_from_torchvision(name: str, *, paper: str, feature_dim: int, fixed_size: bool = False) -> VideoBackboneEntry:
    """The entry of torchvision video model `name`, from its default weights' metadata and transforms."""
    import torchvision

    enum = torchvision.models.get_model_weights(name)
    default = list(enum)[0]
    meta = default.meta
    clip_frames, clip_fps = clip_settings_from_docs(meta["_docs"])
    transforms = default.transforms()
    min_size = meta.get("min_size", (1, 1))
    weights = tuple(
        PretrainedWeights(spec.name, f"torchvision {enum.__name__}.{spec.name} (torch hub cache)",
                          spec.meta["_metrics"]["Kinetics-400"]["acc@1"])
        for spec in enum
    )
    return VideoBackboneEntry(
        name=VIDEO_PREFIX + name, paper=paper, feature_dim=feature_dim, clip_frames=clip_frames, clip_fps=clip_fps,
        input_size=int(transforms.crop_size[0]), mean=tuple(transforms.mean), std=tuple(transforms.std),
        min_frames=int(meta.get("min_temporal_size", 1)), min_size=int(min(min_size)), fixed_size=fixed_size,
        weights=weights,
    )


class VideoBackbone(Backbone):
    """A video model without its classifier; `forward` takes normalised (n, 3, frames, h, w) clips."""

    takes_clips = True
    memory_format = torch.channels_last_3d

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 clips (n, frames, 3, h, w) as sampled -> normalised (n, 3, frames, h, w), channels-last-3d."""
        return clip_input(normalize_images(batch, self.mean, self.std)).contiguous(memory_format=self.memory_format)

    def __init__(self, body: nn.Module, stages: list[list[str]], *, entry: VideoBackboneEntry, weights_id: str):
        super().__init__(body, stages, name=entry.name, feature_dim=entry.feature_dim, weights_id=weights_id,
                         mean=entry.mean, std=entry.std, input_size=entry.input_size)
        self.entry = entry
        self.clip_frames = entry.clip_frames
        self.clip_fps = entry.clip_fps


# ---------------------------------------------------------------------------------------------- registry

BodyBuilder = Callable[[], tuple[nn.Module, list[list[str]]]]
_VIDEO_BACKBONES: dict[str, tuple[Callable[[], VideoBackboneEntry], BodyBuilder]] = {}
_ENTRIES: dict[str, VideoBackboneEntry] = {}


def register_video_backbone(name: str, **entry) -> Callable[[BodyBuilder], BodyBuilder]:
    """Register a builder of classifier-less torchvision video model `name`; its entry (clip, size, mean/std,
    weights) is read from torchvision's metadata when first asked for."""

    def register(builder: BodyBuilder) -> BodyBuilder:
        key = VIDEO_PREFIX + name
        if key in _VIDEO_BACKBONES:
            raise ValueError(f"video backbone {key!r} is registered twice")
        _VIDEO_BACKBONES[key] = (lambda: entry_from_torchvision(name, **entry), builder)
        return builder

    return register


def video_backbone_names() -> list[str]:
    return list(_VIDEO_BACKBONES)


def is_video_backbone(name: str) -> bool:
    return name.startswith(VIDEO_PREFIX)


def video_backbone_entry(name: str) -> VideoBackboneEntry:
    if name not in _VIDEO_BACKBONES:
        raise ValueError(f"unknown video backbone {name!r}: use one of {', '.join(_VIDEO_BACKBONES)}")
    if name not in _ENTRIES:
        _ENTRIES[name] = _VIDEO_BACKBONES[name][0]()
    return _ENTRIES[name]


def build_video_backbone(name: str, *, weights: str = "kinetics", trainable_stages: int = 0) -> VideoBackbone:
    entry = video_backbone_entry(name)
    body, stages = seeded(_VIDEO_BACKBONES[name][1])
    weights_id = "none"
    if weights in ("kinetics", "imagenet") or weights.startswith(("kinetics:", "imagenet:")):
        tag = weights.split(":", 1)[1] if ":" in weights else None
        weights_id = _load_kinetics(body, entry, entry.pretrained(tag).tag)
    elif weights != "none":
        weights_id = load_weights_file(body, weights)
    backbone = VideoBackbone(body, stages, entry=entry, weights_id=weights_id)
    backbone.set_trainable_stages(trainable_stages)
    return backbone


def _load_kinetics(body: nn.Module, entry: VideoBackboneEntry, tag: str) -> str:
    import torchvision

    spec = torchvision.models.get_model_weights(entry.torchvision_name)[tag]
    state = torchvision_state_dict(entry.name, spec, dataset="Kinetics-400")
    expected = body.state_dict()
    state = {key: value for key, value in state.items() if key in expected}
    missing = [key for key in expected if key not in state]
    if missing:
        raise BackboneWeightsError(f"{entry.name}: torchvision's {tag} weights lack {len(missing)} keys (e.g. {missing[:3]})")
    body.load_state_dict(state)
    return f"kinetics:{tag}"


# ---------------------------------------------------------------------------------------------- builders


def _tv_video(name: str) -> nn.Module:
    import torchvision

    return getattr(torchvision.models.video, name)(weights=None)


def _video_resnet(name: str) -> tuple[nn.Module, list[list[str]]]:
    body = _tv_video(name)
    body.fc = nn.Identity()
    return body, [["stem"], ["layer1"], ["layer2"], ["layer3"], ["layer4"]]


@register_video_backbone("r3d_18", paper=TRAN_PAPER, feature_dim=512)
def r3d_18() -> tuple[nn.Module, list[list[str]]]:
    return _video_resnet("r3d_18")


@register_video_backbone("mc3_18", paper=TRAN_PAPER, feature_dim=512)
def mc3_18() -> tuple[nn.Module, list[list[str]]]:
    return _video_resnet("mc3_18")


@register_video_backbone("r2plus1d_18", paper=TRAN_PAPER, feature_dim=512)
def r2plus1d_18() -> tuple[nn.Module, list[list[str]]]:
    return _video_resnet("r2plus1d_18")


@register_video_backbone("s3d", paper="Xie et al., 'Rethinking Spatiotemporal Feature Learning', ECCV 2018", feature_dim=1024)
def s3d() -> tuple[nn.Module, list[list[str]]]:
    body = _tv_video("s3d")
    body.classifier = nn.Identity()  # forward then averages the pooled (n, 1024, t, h, w) map
    return body, [[f"features.{index}"] for index in range(len(body.features))]


def _mvit(name: str) -> tuple[nn.Module, list[list[str]]]:
    body = _tv_video(name)
    body.head = nn.Identity()  # forward returns the normalised class token
    return body, [["conv_proj", "pos_encoding"]] + [[f"blocks.{index}"] for index in range(len(body.blocks))]


@register_video_backbone("mvit_v1_b", paper=MVIT_PAPER, feature_dim=768, fixed_size=True)
def mvit_v1_b() -> tuple[nn.Module, list[list[str]]]:
    return _mvit("mvit_v1_b")


@register_video_backbone("mvit_v2_s", paper=MVIT_PAPER, feature_dim=768, fixed_size=True)
def mvit_v2_s() -> tuple[nn.Module, list[list[str]]]:
    return _mvit("mvit_v2_s")


def _swin3d(name: str) -> tuple[nn.Module, list[list[str]]]:
    body = _tv_video(name)
    body.head = nn.Identity()
    return body, [["patch_embed"]] + [[f"features.{index}"] for index in range(len(body.features))]


@register_video_backbone("swin3d_t", paper=SWIN_PAPER, feature_dim=768)
def swin3d_t() -> tuple[nn.Module, list[list[str]]]:
    return _swin3d("swin3d_t")


@register_video_backbone("swin3d_s", paper=SWIN_PAPER, feature_dim=768)
def swin3d_s() -> tuple[nn.Module, list[list[str]]]:
    return _swin3d("swin3d_s")


@register_video_backbone("swin3d_b", paper=SWIN_PAPER, feature_dim=1024)
def swin3d_b() -> tuple[nn.Module, list[list[str]]]:
    return _swin3d("swin3d_b")


def clip_input(clips: torch.Tensor) -> torch.Tensor:
    """(n, frames, 3, h, w) clips as sampled -> (n, 3, frames, h, w), the layout torchvision's video models take."""
    return clips.permute(0, 2, 1, 3, 4)


register_backbone_family(BackboneFamily(
    VIDEO_PREFIX, entry=video_backbone_entry, create=build_video_backbone, names=video_backbone_names,
    hint=f"'video:<model>' ({', '.join(name[len(VIDEO_PREFIX):] for name in _VIDEO_BACKBONES)})",
))

"""Training configuration: one dataclass, presets as data naming their source, CLI overrides.

A preset is a full `TrainConfig`; `soccerspot train --preset NAME --field value` replaces single fields.
The run folder keeps the final config as `train_config.json`, so every run says exactly what it did.
`head_config_for` turns a run's head settings into the head's family config (`models.heads`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # models.heads imports torch: only when a head is really configured
    from soccerspot.models.heads import AnyHeadConfig

NETVLADPP_PAPER = (
    "Giancola & Ghanem, 'Temporally-Aware Feature Pooling for Action Spotting in Soccer Broadcasts', "
    "CVPR Workshops 2021 (arXiv 2104.06779); recipe of sn-spotting TemporallyAwarePooling"
)
BAIDU_REPORT = (
    "Zhou et al., 'Feature Combination Meets Attention: Baidu Soccer Embeddings and Transformer based "
    "Temporal Detection', technical report 2021 (arXiv 2106.14447)"
)
RMSNET_PAPER = (
    "Tomei et al., 'RMS-Net: Regression and Masking for Soccer Event Spotting', ICPR 2020 (arXiv 2102.07624)"
)
SOCCERNET_V2_BASELINE = (
    "Deliège et al., 'SoccerNet-v2', CVPR-W 2021: published MaxPool baseline (training log of the "
    "MAXPOOL_v2 checkpoint: PCA512, chunk 20 s, NMS 20 s, batch 256, Adam 1e-3, patience 10)"
)

SCHEDULERS = ("plateau", "none")
OPTIMIZERS = ("adam", "sgd")
TRAINING_PRECISIONS = ("fp32", "bf16", "fp16", "auto")
SELECTIONS = ("valid_loss", "valid_a_mAP")


class InvalidSetting(ValueError):
    """A `TrainConfig` value outside its allowed values; `setting` names the field."""

    def __init__(self, setting: str, message: str):
        self.setting = setting
        super().__init__(message)


@dataclass
class TrainConfig:
    """Everything a training run depends on. Times are in seconds; rows come from the features' fps."""

    preset: str = "custom"
    source: str = ""  # the paper/report the values come from, and what we chose ourselves
    # head (`head_config_for` maps these onto the head's family config; `head_options` carries any further
    # field of that config, e.g. assignment_bias or model_dim)
    head: str = "netvlad++"
    projection_dim: int | None = 512  # learned linear projection before pooling; None = pool raw features
    clusters: int = 64
    dropout: float = 0.4
    head_options: dict[str, Any] = field(default_factory=dict)
    # data
    window_seconds: float = 15.0
    sampling: str = "chunks"  # "chunks" (the paper) | "events" (event-centred, random offsets)
    classes: str = "v2"  # "v2" (17 classes) | "v1" (3 classes)
    # optimisation
    batch_size: int = 256
    optimizer: str = "adam"  # "adam" | "sgd" (with `momentum`)
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    weight_decay: float = 0.0
    scheduler: str = "plateau"  # "plateau" (ReduceLROnPlateau on validation loss) | "none"
    plateau_factor: float = 0.1
    plateau_patience: int = 10
    stop_lr: float = 1e-8  # stop once the scheduler would take lr below this
    max_epochs: int = 1000
    mixup_alpha: float = 0.0  # > 0: mixup of windows and targets, lambda ~ Beta(alpha, alpha)
    # validation and selection
    eval_every: int = 10  # validation Average-mAP every N epochs (0 = never)
    metric: str = "loose"
    select_on: str = "valid_loss"  # the best checkpoint: lowest "valid_loss", or highest "valid_a_mAP"
    # inference settings stored with the checkpoint (used by validation Average-mAP and by `spot`)
    nms: str = "hard"
    nms_window: float = 30.0
    nms_threshold: float = 0.0
    # reproducibility and resources
    seed: int = 0
    num_workers: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # autocast: fp32 | bf16 | fp16 (CUDA) | auto (bf16 where native)

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first setting outside its allowed values."""
        from soccerspot.data.clips import SAMPLINGS
        from soccerspot.pipeline.evaluate import METRICS
        from soccerspot.pipeline.postprocess import NMS_KINDS
        from soccerspot.pipeline.train import CLASS_SETUPS  # train imports this module: import at call time

        choices = {"sampling": SAMPLINGS, "classes": tuple(CLASS_SETUPS), "scheduler": SCHEDULERS,
                   "select_on": SELECTIONS, "nms": NMS_KINDS, "metric": METRICS,
                   "optimizer": OPTIMIZERS, "precision": TRAINING_PRECISIONS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise InvalidSetting(name, f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        positive = ("window_seconds", "batch_size", "lr", "max_epochs", "nms_window")
        for name in positive:
            if not getattr(self, name) > 0:
                raise InvalidSetting(name, f"{name} must be > 0; got {getattr(self, name)!r}")
        for name in ("mixup_alpha", "eval_every", "num_workers", "adam_eps", "weight_decay", "stop_lr",
                     "plateau_patience"):
            if not getattr(self, name) >= 0:
                raise InvalidSetting(name, f"{name} must be >= 0; got {getattr(self, name)!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise InvalidSetting("betas", f"betas: two values in [0, 1) are needed; got {self.betas}")
        if not 0.0 < self.plateau_factor < 1.0:
            raise InvalidSetting("plateau_factor", f"plateau_factor must lie in (0, 1) (the lr is multiplied by it); got {self.plateau_factor}")
        if not 0.0 <= self.momentum < 1.0:
            raise InvalidSetting("momentum", f"momentum must lie in [0, 1); got {self.momentum}")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidSetting("dropout", f"dropout must lie in [0, 1); got {self.dropout}")
        if not 0.0 <= self.nms_threshold <= 1.0:
            raise InvalidSetting("nms_threshold", f"nms_threshold: a confidence in [0, 1] is needed; got {self.nms_threshold}")
        if not isinstance(self.head_options, dict):
            raise InvalidSetting("head_options", f"head_options: a JSON object of head settings is needed; got {self.head_options!r}")
        return self

    def to_json(self) -> dict:
        obj = dataclasses.asdict(self)
        obj["betas"] = list(self.betas)
        return obj

    @classmethod
    def from_json(cls, obj: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in obj.items() if k in known}
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)


# TrainConfig fields that are head settings, passed to the heads whose family config has them.
HEAD_FIELDS = ("projection_dim", "clusters", "dropout")
# Head config fields a run fixes from its data, never from head_options.
DATA_HEAD_FIELDS = ("kind", "input_dim", "num_classes", "window_frames")


def head_config_for(config: TrainConfig, input_dim: int, num_classes: int, window_frames: int) -> "AnyHeadConfig":
    """The config of the head `config` trains, on `input_dim`-d features, `num_classes` classes and windows
    of `window_frames` rows: the head's registered defaults, then the run's head fields its family has
    (`HEAD_FIELDS`), then `head_options`. Raises ValueError on a setting the head lacks or refuses."""
    from soccerspot.models.heads import head_config, head_entry

    entry = head_entry(config.head)
    if not isinstance(config.head_options, dict):
        raise ValueError(f"head_options must be a JSON object of head settings, got {config.head_options!r}")
    names = {f.name for f in dataclasses.fields(entry.config_type)}
    fixed = sorted(set(config.head_options) & set(DATA_HEAD_FIELDS))
    if fixed:
        raise ValueError(f"head_options cannot set {', '.join(fixed)}: the run takes them from its data and --head")
    unknown = sorted(set(config.head_options) - names)
    if unknown:
        raise ValueError(f"head_options names settings the {config.head} head ({entry.config_type.__name__}) "
                         f"does not have: {', '.join(unknown)}")
    values = {name: getattr(config, name) for name in HEAD_FIELDS if name in names}
    return head_config(config.head, input_dim=input_dim, num_classes=num_classes, window_frames=window_frames,
                       **{**values, **config.head_options})


# The peers' VLAD layers assign frames with softmax(x . clusters), no bias (sn-spotting netvlad.py).
PEER_VLAD = {"assignment_bias": False}


def _pooling_preset(head: str, clusters: int = 64) -> TrainConfig:
    """The paper's recipe with another pooling layer: the paper compares all of them this way."""
    return TrainConfig(
        preset=head.replace("+", "p") + "-paper",
        source=f"{NETVLADPP_PAPER}: same recipe as netvladpp-paper, pooling '{head}' (the paper's pooling ablation)",
        head=head,
        clusters=clusters,
        head_options=dict(PEER_VLAD) if head.startswith("net") else {},
    )


PRESETS: dict[str, TrainConfig] = {
    "netvladpp-paper": TrainConfig(
        preset="netvladpp-paper",
        source=(
            f"{NETVLADPP_PAPER}. Paper: ResNet-152 features 2048-d at 2 fps, linear 2048->512, T = 15 s, "
            "K = 64 (32 past + 32 future), dropout 0.4, NMS 30 s threshold 0, batch 256, Adam 1e-3, "
            "ReduceLROnPlateau x0.1 patience 10 on validation loss, stop below 1e-8, best checkpoint on "
            "validation loss. Validation Average-mAP every 10 epochs as sn-spotting's main.py default. "
            "VLAD soft assignment without bias, as the peers' layer."
        ),
        head_options=dict(PEER_VLAD),
    ),
    "baidu-transformer": TrainConfig(
        preset="baidu-transformer",
        source=(
            f"{BAIDU_REPORT}. Report: transformer encoder (3 layers, 4 heads, hidden 64) over 7 s chunks "
            "of the Baidu embeddings (1 fps), NMS 20 s, Adam lr 5e-4, 50 epochs, mixup. Our choices "
            "(not given by the report): batch 256, mixup alpha 0.2, constant lr, best checkpoint on "
            "validation loss."
        ),
        head="transformer",
        projection_dim=None,
        dropout=0.1,
        window_seconds=7.0,
        lr=5e-4,
        scheduler="none",
        max_epochs=50,
        mixup_alpha=0.2,
        eval_every=10,
        nms_window=20.0,
    ),
    "maxpool-soccernet-v2": TrainConfig(
        preset="maxpool-soccernet-v2",
        source=SOCCERNET_V2_BASELINE,
        head="maxpool",
        projection_dim=None,
        window_seconds=20.0,
        nms_window=20.0,
    ),
}
for _head in ("netvlad", "netrvlad", "netrvlad++", "maxpool", "maxpool++", "avgpool", "avgpool++"):
    _preset = _pooling_preset(_head)
    PRESETS[_preset.preset] = _preset


# Fine-tuning a backbone's last stage with a head (`soccerspot finetune`).
PRESETS["rmsnet-finetune"] = TrainConfig(
    preset="rmsnet-finetune",
    source=(
        f"{RMSNET_PAPER}. Paper: ResNet-152 with only its last block (layer4) trained together with the head, "
        "frames at 2 fps, the whole 398x224 picture (no centre crop, no spatial augmentation), 20 s clips "
        "(T = 41 rows there; 40 here: window_seconds x fps), batch 24 clips, base lr 0.025, class-balanced "
        "sampling of foreground clips with the event at a uniform offset and background clips nF/C. Our "
        "choices (not given there or not ours to copy): the NetVLAD++ head instead of RMS-Net's own, SGD "
        "momentum 0.9 for the lr 0.025, ReduceLROnPlateau x0.1 patience 3 on the validation loss, 30 epochs "
        "at most, bf16 autocast where native, validation Average-mAP every 5 epochs."
    ),
    window_seconds=20.0,
    batch_size=24,
    optimizer="sgd",
    lr=0.025,
    momentum=0.9,
    plateau_patience=3,
    max_epochs=30,
    eval_every=5,
    precision="auto",
    head_options=dict(PEER_VLAD),
)


PRESETS["rmsnet-paper"] = TrainConfig(
    preset="rmsnet-paper",
    source=(
        f"{RMSNET_PAPER}. Paper: windows of T = 41 rows (20 s at 2 fps, both ends counted; here window_seconds "
        "20.5 x 2 fps = 41), FC "
        "to 256, two temporal convolutions of kernel 9, max over time, FC 64, softmax over C+1 and a sigmoid "
        "offset regressor, loss CE + 10 x MSE, uniform-offset foreground windows with background at nF/C, "
        "masking of the frames before the event. Our choices: Adam 1e-3, batch 256, masking probability 0.5, "
        "dropout 0, plateau patience 10 on the validation loss, NMS 10 s, votes summed (models.rmsnet)."
    ),
    head="rmsnet",
    projection_dim=None,
    dropout=0.0,
    window_seconds=20.5,
    nms_window=10.0,
)


def get_preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    return dataclasses.replace(PRESETS[name], head_options=dict(PRESETS[name].head_options))


def parse_value(field_type: Any, text: str) -> Any:
    """Parse a CLI string into a field's type (dataclass annotations are strings here)."""
    kind = str(field_type)
    if text.lower() in ("none", "null") and "None" in kind:
        return None
    if kind.startswith("int"):
        return int(text)
    if kind.startswith("float"):
        return float(text)
    if kind.startswith("tuple"):
        return tuple(float(part) for part in text.split(","))
    if kind.startswith("dict"):
        import json

        return json.loads(text)
    if kind.startswith("bool"):
        return text.lower() in ("1", "true", "yes")
    return text


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Replace fields; strings are parsed into the field's type. Unknown names raise KeyError."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    changes = {}
    for name, value in overrides.items():
        if name not in fields:
            raise KeyError(f"unknown training setting {name!r}; settings: {', '.join(sorted(fields))}")
        changes[name] = parse_value(fields[name].type, value) if isinstance(value, str) else value
    return dataclasses.replace(config, **changes).validate()


def override_fields() -> list[dataclasses.Field]:
    """The fields a CLI may override (all but the bookkeeping ones)."""
    return [f for f in dataclasses.fields(TrainConfig) if f.name not in ("preset", "source")]


def _calf_paper() -> TrainConfig:
    from soccerspot.data.calf_targets import K_SOCCERNET_V2_SECONDS  # numpy only

    return TrainConfig(
        preset="calf-paper",
        source=(
            "Cioppa et al., 'A Context-Aware Loss Function for Action Spotting in Soccer Videos', CVPR 2020 "
            "(arXiv 1912.01326), settings of the authors' released SoccerNet-v2 code: chunks of 120 s (240 rows "
            "at 2 fps), receptive field 40 s (window_frames // 3), 16-d capsules, 15 detection slots, per-class "
            "slicing K1..K4 of that code (seconds, SoccerNet-v2 class order), margins 0.1 / 0.9, loss "
            "0.000367 x segmentation + 1 x spotting with lambda_coord 5 and lambda_noobj 0.5, 18000 "
            "class-balanced chunks per epoch, batch 32, Adam lr 1e-3 eps 1e-7, ReduceLROnPlateau patience 25 "
            "down to 1e-6. Our choices: x0.1 plateau factor and stop as the other presets, validation "
            "Average-mAP every 20 epochs, NMS 30 s threshold 0, best checkpoint on validation loss."
        ),
        head="calf",
        projection_dim=None,
        dropout=0.0,
        window_seconds=120.0,
        batch_size=32,
        lr=1e-3,
        adam_eps=1e-7,
        plateau_patience=25,
        stop_lr=1e-6,
        eval_every=20,
        nms_window=30.0,
        head_options={"slicing_seconds": [list(k) for k in K_SOCCERNET_V2_SECONDS]},
    )


PRESETS["calf-paper"] = _calf_paper()


def _calf_short() -> TrainConfig:
    paper = _calf_paper()
    return dataclasses.replace(
        paper,
        preset="calf-short",
        source=(
            f"{paper.source} | calf-short, our choices for small training sets (measured on bench_heads' "
            "synthetic season of 8 training halves of 180 s, one seed, one thread): chunks of 20 s (40 rows at "
            "2 fps, receptive field 13 rows) instead of 120 s and 1024 chunks per epoch; inference by chunks at "
            "every row whose votes are summed and divided by the chunks keeping the row (vote 'sum', "
            "inference_stride 1; models.calf); the rest is calf-paper. "
            "With 120 s chunks a chunk holds 2/3 of a half, the 8 halves give few distinct chunks and the slot "
            "locations, regressed relative to the chunk, need 6x finer precision per second: held-out loose "
            "0.21 / tight 0.04 there; with 20 s chunks loose 0.91 / tight 0.43 after 30 epochs (47 s) and "
            "0.98 / 0.68 after 100 epochs (224 s). 10 s and 30 s chunks, lr 3e-3 and larger segmentation "
            "weights (0.0022, 0.02) did no better. The summed votes of chunks at every row took that "
            "100-epoch checkpoint from tight 0.68 to 0.89 (NMS 10 s)."
        ),
        window_seconds=20.0,
        head_options={**paper.head_options, "chunks_per_epoch": 1024, "inference_stride": 1, "vote": "sum"},
    )


PRESETS["calf-short"] = _calf_short()


# Replay grounding (`models.grounding_head`, `pipeline.tasks.grounding`): trained beside the spotting labels
# (Labels-v2.json) on the replays of Labels-cameras.json.
PRESETS["baidu-grounding"] = TrainConfig(
    preset="baidu-grounding",
    source=(
        f"{BAIDU_REPORT}, replay grounding. Report: candidate chunk features + replay clip features, "
        "sine/cosine positions, 4 transformer encoder layers, two outputs (replay probability and positional "
        "offset), BCE + L2 loss, candidates within 120 s before the replay, 4 positive + 4 negative samples "
        "per replay clip, detections after the replay's end or more than 100 s before it dropped, fusion "
        "with spotting results (W, S, beta1, beta2), NMS 25 s. Our choices (not given by or not retrieved "
        "from the report): candidate chunks of 10 s (window_seconds), replay clips resampled to 16 rows, "
        "4 heads of width 64 and feed-forward 128, half of the 4 negatives drawn as chunks holding another "
        "labelled action of the search span (hard_negatives 0.5), max read-out over the candidate rows, offset weight 1, "
        "candidates every 1 s at inference, the k-th best detection of a replay scored x 0.5^k after NMS "
        "(rank_decay; see pipeline.grounding), fusion off (fusion_window_s 0; the report's W, S, beta1, beta2 "
        "values could not be retrieved here), batch 64, Adam 1e-3, 100 epochs at most with the plateau "
        "schedule, validation Average-AP (loose) every 5 epochs choosing the best checkpoint. Measured on "
        "bench_grounding's season (12 training games, held-out loose Average-AP after 15 epochs): 10 s chunks "
        "with feed-forward 128 0.65 at ~3 s per epoch, 20 s chunks with feed-forward 256 0.43 at ~25 s per epoch; "
        "on another season of that size, after 60 epochs, hard_negatives 0.5 0.83 against 0.75 without (one seed)."
    ),
    head="baidu-grounding",
    projection_dim=None,
    dropout=0.1,
    head_options={"feedforward_dim": 128, "hard_negatives": 0.5},
    window_seconds=10.0,
    batch_size=64,
    max_epochs=100,
    eval_every=5,
    nms_window=25.0,
)

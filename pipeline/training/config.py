"""Training configuration: one dataclass that validates itself, and CLI overrides of its fields.

A preset (`pipeline.training.presets`) is a full `TrainConfig`; `soccerspot train --preset NAME --field
value` replaces single fields.
The run folder keeps the final config as `train_config.json`, so every run says exactly what it did.
`head_config_for` turns a run's head settings into the head's family config (`models.heads`): a head's own
settings (a pooling head's `clusters`, a transformer's `num_layers`) are keys of `head_options`, set one at a
time as `apply_overrides(config, {"head_options.clusters": 16})`; only `dropout`, which every head has, is a
run field.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from soccerspot.data.classes import BALL_CLASS_SETUPS, CLASS_SETUPS
from soccerspot.errors import SettingsError

if TYPE_CHECKING:  # models.heads imports torch: only when a head is really configured
    from soccerspot.models.heads import BaseHeadConfig

SCHEDULERS = ("plateau", "none", "warmup-cosine")
OPTIMIZERS = ("adam", "sgd", "adamw")
TRAINING_PRECISIONS = ("fp32", "bf16", "fp16", "auto")
SELECTIONS = ("valid_loss", "valid_a_mAP")


@dataclass
class TrainConfig:
    """Everything a training run depends on. Times are in seconds; rows come from the features' fps."""

    preset: str = "custom"
    source: str = ""  # the paper/report the values come from, and what we chose ourselves
    # head (`head_config_for` maps these onto the head's family config: its registered defaults, then
    # `dropout`, then `head_options`, which holds the family's own fields, e.g. clusters or model_dim)
    head: str = "netvlad++"
    dropout: float = 0.4
    head_options: dict[str, Any] = field(default_factory=dict)
    # data
    window_seconds: float = 15.0
    sampling: str = "chunks"  # "chunks" (the paper) | "events" (event-centred, random offsets)
    # "v2" (17 classes) | "v1" (3 classes) | train-dense: the Ball sets "ball-2025" (teams), "ball-2024", "ball-2023"
    classes: str = "v2"
    # optimisation
    batch_size: int = 256
    optimizer: str = "adam"  # "adam" | "sgd" (with `momentum`)
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    weight_decay: float = 0.0
    # "plateau" (ReduceLROnPlateau on validation loss) | "none" | "warmup-cosine" (per step: linear warm-up from
    # 1 % over `warmup_epochs`, times a cosine over the epochs after it; `pipeline.training.schedule`)
    scheduler: str = "plateau"
    warmup_epochs: int = 0  # warmup-cosine only
    plateau_factor: float = 0.1
    plateau_patience: int = 10
    stop_lr: float = 1e-8  # stop once the scheduler would take lr below this
    max_epochs: int = 1000
    mixup_alpha: float = 0.0  # > 0: mixup of windows and targets, lambda ~ Beta(alpha, alpha)
    accumulate: int = 1  # each batch in this many steps of batch_size / accumulate rows, one optimizer step
    sync_bn: bool = False  # several processes: BatchNorm layers that train normalise over the global batch
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
    precision: str = "fp32"  # autocast: fp32 | bf16 | fp16 (CUDA) | auto (`extract.precision.resolve_precision`)

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first setting outside its allowed values."""
        from soccerspot.data.clips import SAMPLINGS
        from soccerspot.pipeline.evaluation.average_map import METRICS
        from soccerspot.pipeline.inference.nms import NMS_KINDS

        choices = {"sampling": SAMPLINGS, "classes": (*CLASS_SETUPS, *BALL_CLASS_SETUPS), "scheduler": SCHEDULERS,
                   "select_on": SELECTIONS, "nms": NMS_KINDS, "metric": METRICS,
                   "optimizer": OPTIMIZERS, "precision": TRAINING_PRECISIONS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise SettingsError(name, f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        positive = ("window_seconds", "batch_size", "lr", "max_epochs", "nms_window", "accumulate")
        for name in positive:
            if not getattr(self, name) > 0:
                raise SettingsError(name, f"{name} must be > 0; got {getattr(self, name)!r}")
        for name in ("mixup_alpha", "eval_every", "num_workers", "adam_eps", "weight_decay", "stop_lr",
                     "plateau_patience", "warmup_epochs"):
            if not getattr(self, name) >= 0:
                raise SettingsError(name, f"{name} must be >= 0; got {getattr(self, name)!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise SettingsError("betas", f"betas: two values in [0, 1) are needed; got {self.betas}")
        if not 0.0 < self.plateau_factor < 1.0:
            raise SettingsError("plateau_factor", f"plateau_factor must lie in (0, 1) (the lr is multiplied by it); got {self.plateau_factor}")
        if self.scheduler == "warmup-cosine" and self.warmup_epochs >= self.max_epochs:
            raise SettingsError("warmup_epochs", f"warmup_epochs must be < max_epochs ({self.max_epochs}) for the "
                                                 f"cosine after it; got {self.warmup_epochs}")
        if not 0.0 <= self.momentum < 1.0:
            raise SettingsError("momentum", f"momentum must lie in [0, 1); got {self.momentum}")
        if not 0.0 <= self.dropout < 1.0:
            raise SettingsError("dropout", f"dropout must lie in [0, 1); got {self.dropout}")
        if not 0.0 <= self.nms_threshold <= 1.0:
            raise SettingsError("nms_threshold", f"nms_threshold: a confidence in [0, 1] is needed; got {self.nms_threshold}")
        if not isinstance(self.head_options, dict):
            raise SettingsError("head_options", f"head_options: a JSON object of head settings is needed; got {self.head_options!r}")
        return self

    def to_json(self) -> dict:
        obj = dataclasses.asdict(self)
        obj["betas"] = list(self.betas)
        return obj

    @classmethod
    def from_json(cls, obj: dict) -> "TrainConfig":
        """A stored config (`train_config.json`, a checkpoint's `train_config`). Files written when the pooling
        heads' settings were run fields hold them at top level (`LEGACY_HEAD_FIELDS`): they move into
        `head_options` for a head whose config has them, unless `head_options` names them already."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in obj.items() if k in known}
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        legacy = {k: obj[k] for k in LEGACY_HEAD_FIELDS if k in obj}
        if legacy:
            values["head_options"] = with_legacy_head_fields(values.get("head", cls.head),
                                                             values.get("head_options", {}), legacy)
        if "head_options" in values:
            values["head_options"] = without_retired_fields(values.get("head", cls.head), values["head_options"])
        return cls(**values)


# Run fields that are head settings: every head config has them (`models.heads.BaseHeadConfig`).
HEAD_FIELDS = ("dropout",)
# Head config fields a run fixes from its data, never from head_options.
DATA_HEAD_FIELDS = ("kind", "input_dim", "num_classes", "window_frames")
# Settings of the pooling heads that older run configs held as run fields (their values were passed to the
# heads whose config has them, the others ignored them); `TrainConfig.from_json` moves them to head_options.
LEGACY_HEAD_FIELDS = ("projection_dim", "clusters")
# "head_options.NAME" in `apply_overrides`: one head setting
HEAD_OPTION_PREFIX = "head_options."


def head_fields(head: str) -> dict[str, dataclasses.Field]:
    """The fields of head `head`'s family config by name; SettingsError naming `head` for an unknown head."""
    from soccerspot.models.heads import head_entry

    try:
        entry = head_entry(head)
    except SettingsError as error:
        raise SettingsError("head", error.reason) from None
    return {f.name: f for f in dataclasses.fields(entry.config_type)}


def with_legacy_head_fields(head: str, head_options: Any, legacy: dict[str, Any]) -> Any:
    """`head_options` of a stored config plus its top-level `legacy` head settings, as those were applied:
    only those the head's config has, and `head_options` (applied last) winning. An unknown head or
    head_options that are not an object are left as they are (validation names them)."""
    if not isinstance(head_options, dict):
        return head_options
    try:
        names = head_fields(head)
    except SettingsError:
        return head_options
    return {**{k: v for k, v in legacy.items() if k in names}, **head_options}


def without_retired_fields(head: str, head_options: Any) -> Any:
    """A stored config's `head_options` less the settings `head`'s config has retired (its `retired_fields`:
    settings whose meaning was replaced, dropped as the stored head config drops them). An unknown head or
    head_options that are not an object are left as they are (validation names them)."""
    from soccerspot.models.heads import head_entry

    if not isinstance(head_options, dict):
        return head_options
    try:
        retired = head_entry(head).config_type.retired_fields
    except SettingsError:
        return head_options
    return {k: v for k, v in head_options.items() if k not in retired}


def with_head(config: TrainConfig, head: str) -> TrainConfig:
    """`config` (a preset) training `head` instead: its head_options that `head`'s config has no field for
    belong to the preset's own head and are dropped, as the pooling settings were ignored by other heads when
    they were run fields. An unknown head is left for validation to name."""
    try:
        names = head_fields(head)
    except SettingsError:
        return config
    if head == config.head or not isinstance(config.head_options, dict):
        return config
    return dataclasses.replace(config, head_options={k: v for k, v in config.head_options.items() if k in names})


def head_config_for(config: TrainConfig, input_dim: int, num_classes: int, window_frames: int) -> "BaseHeadConfig":
    """The config of the head `config` trains, on `input_dim`-d features, `num_classes` classes and windows
    of `window_frames` rows: the head's registered defaults, then the run's head fields (`HEAD_FIELDS`), then
    `head_options`. Raises SettingsError naming the run's setting to blame (`run_field_of`)."""
    from soccerspot.models.heads import head_config, head_entry

    names = head_fields(config.head)
    if not isinstance(config.head_options, dict):
        raise SettingsError("head_options", f"head_options must be a JSON object of head settings, got {config.head_options!r}")
    fixed = sorted(set(config.head_options) & set(DATA_HEAD_FIELDS))
    if fixed:
        raise SettingsError("head_options", f"head_options cannot set {', '.join(fixed)}: the run takes them from "
                                            "its data and --head")
    unknown = sorted(set(config.head_options) - set(names))
    if unknown:
        raise SettingsError("head_options", f"head_options names settings the {config.head} head "
                                            f"({head_entry(config.head).config_type.__name__}) does not have: "
                                            f"{', '.join(unknown)}")
    values = {name: getattr(config, name) for name in HEAD_FIELDS if name in names}
    try:
        return head_config(config.head, input_dim=input_dim, num_classes=num_classes, window_frames=window_frames,
                           **{**values, **config.head_options})
    except SettingsError as error:
        raise SettingsError(run_field_of(error.setting, config), error.reason) from None


def run_field_of(head_field: str | None, config: TrainConfig) -> str | None:
    """The run setting a head config field comes from: `head_options.<field>` where head_options names it (it
    is applied last), else the run's own head field (`HEAD_FIELDS`); the window length is `window_seconds`,
    the kind `head`, the other data fields none; any other field of the head is set by `head_options`."""
    if head_field is None:
        return None
    if head_field in config.head_options:
        return HEAD_OPTION_PREFIX + head_field
    if head_field in HEAD_FIELDS:
        return head_field
    if head_field in DATA_HEAD_FIELDS:
        return {"window_frames": "window_seconds", "kind": "head"}.get(head_field)
    return HEAD_OPTION_PREFIX + head_field


def parse_value(field_type: Any, text: str) -> Any:
    """Parse a CLI string into a field's type (an annotation string such as "int | None", or a type)."""
    kind = field_type if isinstance(field_type, str) else getattr(field_type, "__name__", str(field_type))
    if text.lower() in ("none", "null") and "None" in kind:
        return None
    if kind.startswith("int"):
        return int(text)
    if kind.startswith("float"):
        return float(text)
    if kind.startswith("tuple"):
        return tuple(float(part) for part in text.split(","))
    if kind.startswith("dict"):

        return json.loads(text)
    if kind.startswith("bool"):
        if text.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError(f"true or false expected, got {text!r}")
        return text.lower() in ("1", "true", "yes", "on")
    return text


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """Replace fields; strings are parsed into the field's type (SettingsError naming the field if one cannot
    be). "head_options.NAME" sets one head setting, merged into head_options after the fields (so after a new
    `head`); a string is parsed into the type of that field of the head's config, which must have it.
    Unknown names raise KeyError: flags are made from the fields, so only code can name one."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    changes, options = {}, {}
    for name, value in overrides.items():
        if name.startswith(HEAD_OPTION_PREFIX):
            options[name[len(HEAD_OPTION_PREFIX):]] = value
            continue
        if name not in fields:
            raise KeyError(f"unknown training setting {name!r}; settings: {', '.join(sorted(fields))}")
        try:
            changes[name] = parse_value(fields[name].type, value) if isinstance(value, str) else value
        except ValueError as error:
            raise SettingsError(name, str(error).strip('"')) from None
    config = dataclasses.replace(config, **changes).validate()
    return set_head_options(config, options) if options else config


def set_head_options(config: TrainConfig, options: dict[str, Any]) -> TrainConfig:
    """`config` with `options` (head settings by name; strings parsed into the head config's field types)
    merged into its head_options. SettingsError naming `head_options.NAME` for a setting the head lacks or a
    value that cannot be parsed."""
    head = head_fields(config.head)
    parsed = {}
    for name, value in options.items():
        setting = HEAD_OPTION_PREFIX + name
        if name not in head or name in DATA_HEAD_FIELDS:
            raise SettingsError(setting, f"the {config.head} head has no setting {name!r} a run may set")
        try:
            parsed[name] = parse_value(head[name].type, value) if isinstance(value, str) else value
        except ValueError as error:
            raise SettingsError(setting, str(error).strip('"')) from None
    return dataclasses.replace(config, head_options={**config.head_options, **parsed}).validate()


def override_fields() -> list[dataclasses.Field]:
    """The fields a CLI may override (all but the bookkeeping ones)."""
    return [f for f in dataclasses.fields(TrainConfig) if f.name not in ("preset", "source")]

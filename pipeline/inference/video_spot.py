"""Spotting straight from raw video: extract the features a head was trained on, then spot them.

`soccerspot spot MATCH.mkv --model CKPT` (or a game folder holding `1_224p.mkv` / `2_224p.mkv`) lands
here. The checkpoint records the settings of its training features (`FeatureMeta.settings()`); the
extractor is configured from their identity (backbone, weights identity, fps, transform, input size, PCA,
width: `FeatureMeta.identity()`), so the features it writes mean what the head expects. The precision is
this machine's choice, not the checkpoint's (`precision="auto"`, `extract.precision`: bf16 on CUDA, fp16
where the GPU lacks it; on a CPU with native bf16 the faster of fp32 and bf16 as a probe measured it, fp32 on
other CPUs): a head trained on fp16 GPU features spots on a CPU, and `spot` warns when the
precision differs from the head's training features.

Refusals, each a `DataError` naming the file:

- a checkpoint without feature settings (the SoccerNet baselines' `model.pth.tar`) whose features no
  recipe names: its `training.log` or `--features` naming `ResNET_TF2` / `ResNET_TF2_PCA512` re-makes them
  with that recipe (`extract.recipes`, `recipe_plan`);
- settings this machine cannot reproduce: weights from a file or a PCA whose file is not given (or
  whose identity differs from the one recorded);
- features already on disk under the same name with another identity or from another video: they
  are never overwritten silently (remove them, or spot into another `--out`).

A head trained on combined features (`soccerspot combine`: the sidecar lists its components) is served
the same way, part by part: each component is extracted with its recorded identity (under its backbone's
default feature name), then the parts are combined with the recorded normalisation into the head's feature
name. The refusals above apply to each component, naming it; `--weights` / `--pca` go to every component
that records weights from a file / a PCA (one whose identity then differs is refused).

Features already on disk that differ only in precision (complete, same identity, same video and
trimming) are reused as they are, with a warning: re-extracting at another precision is the user's
choice (`soccerspot extract --precision`), not a side effect of spotting.

Where things go: a game folder keeps its features and `results_spotting.json` inside it (SoccerNet
layout) unless `out_dir` is given; a lone `MATCH.mkv` uses `<its folder>/MATCH/` (what `soccerspot
extract` would make), a half-named `game/1_224p.mkv` uses `game/`.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from soccerspot.data.combined_features import CombineConfig, combine_half, combined_template
from soccerspot.data.features import feature_identity, feature_path, load_features, sidecar_path
from soccerspot.data.games import PREDICTIONS_FILE, half_of, half_videos, is_video_name
from soccerspot.errors import DataError, SettingsError
from soccerspot.extract.extractor import ExtractConfig, Extractor, resolve_device, resolve_precision
from soccerspot.extract.recipes import RECIPES, build_recipe_extractor, recipe_disagreements
from soccerspot.models.backbones import BackboneWeightsError, weights_file_id
from soccerspot.models.backbones.keras_resnet import cached_weights_file
from soccerspot.pipeline.inference.checkpoints import LoadedHead
from soccerspot.pipeline.inference.spot import (
    GameResult, SpotOptions, SpotReport, resolve_nms, spot_half, write_game,
)

# the feature identity an extractor is configured from (the precision is this machine's choice)
SETTINGS_KEYS = ("backbone", "weights", "fps", "transform", "input_size", "pca", "dim")


@dataclass
class VideoJob:
    video: Path
    half: int


def half_jobs(folder: Path) -> list[VideoJob]:
    """The half videos directly inside a game folder (`data.games.half_videos`)."""
    return [VideoJob(video, half) for half, video in half_videos(folder).items()]


def is_video_input(path: str | Path) -> bool:
    """A video file, or a game folder holding half videos and no feature files yet."""
    path = Path(path)
    if path.is_file():
        return is_video_name(path)
    if path.is_dir():
        return bool(half_videos(path)) and not any(path.glob("[12]_*.npy"))
    return False


def plan_video_input(path: Path, out_dir: Path | None) -> tuple[Path, list[VideoJob]]:
    """(game folder for features and results, half videos) for a video file or a game folder."""
    if path.is_dir():
        jobs = half_jobs(path)
        if not jobs:
            raise DataError(path, "no half videos here (expected 1_<quality>.mkv / 2_<quality>.mkv, e.g. 1_224p.mkv)")
        return (out_dir or path), jobs
    if not path.is_file():
        raise DataError(path, "no such video file or folder")
    half = half_of(path)
    if half is not None:
        return (out_dir or path.parent), [VideoJob(path, half)]
    return (out_dir or path.parent / path.stem), [VideoJob(path, 1)]


def fine_tuned_backbone(head: LoadedHead) -> str | None:
    """The backbone a `soccerspot finetune` checkpoint carries beside its head (`backbone.pt`), if any."""
    folder = head.path if head.path.is_dir() else head.path.parent
    backbone = folder / str(head.training.get("backbone_file", ""))
    return str(backbone) if head.training.get("backbone_file") and backbone.is_file() else None


def cached_official_weights(weights_id: str) -> str | None:
    """Keras's ImageNet ResNet152 file in the cache, when it is the file features of `weights_id` were made
    with (a head trained on ResNET_TF2 features made here records "file:<sha256 prefix>" of it)."""
    cached = cached_weights_file()
    return str(cached) if cached is not None and weights_file_id(cached) == weights_id else None


def matching_weights_file(head: LoadedHead, weights: str, files: Sequence[str]) -> str | None:
    """Of several `--weights` files, the one whose identity ("file:<sha256 prefix>") is the recorded `weights`;
    one file is taken as given (a mismatch is reported by `build_extractor`); None when none is needed."""
    if len(files) <= 1 or not weights.startswith("file:"):
        return files[0] if files else None
    for file in files:
        if weights_file_id(file) == weights:
            return file
    raise DataError(head.path, f"none of the --weights files ({', '.join(map(str, files))}) is the one the features "
                               f"were made with ({weights})")


def extract_config_for(head: LoadedHead, *, device: str = "auto", precision: str = "auto", batch_size: int = 32,
                       weights_file: str | Sequence[str] | None = None, pca_file: str | None = None, feature_name: str | None = None,
                       progress: bool = True):
    """The `ExtractConfig` that re-makes the identity of the head's training features at `precision`
    (`auto`: this machine's best), or a `DataError` saying why it cannot."""
    settings = head.feature_settings
    if not settings:
        raise DataError(head.path, "this checkpoint records no feature settings (a SoccerNet baseline trained on the "
                                   "official feature files?): name its features' recipe (--features ResNET_TF2_PCA512 "
                                   "or ResNET_TF2), or extract features yourself and spot those")
    if is_combined(settings):
        raise DataError(head.path, "the head was trained on combined features (soccerspot combine): they are re-made "
                                   "part by part (pipeline.inference.video_spot.plan_extraction), not by one extractor")
    missing = [key for key in SETTINGS_KEYS if key not in settings]
    if missing:
        raise DataError(head.path, f"the checkpoint's feature settings lack {', '.join(missing)}; cannot re-extract")
    weights = str(settings["weights"])
    if isinstance(weights_file, (list, tuple)):
        weights_file = matching_weights_file(head, weights, weights_file)
    if weights.startswith("file:") and not weights_file:
        weights_file = fine_tuned_backbone(head) or cached_official_weights(weights)
    if weights.startswith("file:"):
        if not weights_file:
            raise DataError(head.path, f"the head was trained on features of backbone weights from a file ({weights}); "
                                       "pass that file (--weights FILE) to extract the same features")
        weights = weights_file
    pca = settings.get("pca")
    if pca and not pca_file:
        raise DataError(head.path, f"the head was trained on PCA-reduced features ({pca}); pass the PCA file "
                                   "(--pca FILE) to extract the same features")
    return ExtractConfig(
        backbone=str(settings["backbone"]), weights=weights, fps=float(settings["fps"]),
        transform=str(settings["transform"]), input_size=int(settings["input_size"]),
        precision=precision, pca=pca_file if pca else None, batch_size=batch_size, device=device,
        feature_name=feature_name, progress=progress, sampling=str(settings.get("sampling") or "timestamp"),
    )


def build_extractor(head: LoadedHead, config):
    """An `Extractor` whose features have the identity of the head's training features (else `DataError`)."""
    try:
        extractor = Extractor(config)
    except (ValueError, BackboneWeightsError) as error:  # a device or backbone unavailable here, weights offline
        raise DataError(head.path, f"cannot re-extract the head's features here: {error}") from error
    wanted = feature_identity(extractor.meta_template().settings())
    recorded = feature_identity(head.feature_settings)
    if wanted != recorded:
        differences = "; ".join(f"{key}: extractor {wanted.get(key)!r}, head {recorded.get(key)!r}"
                                for key in SETTINGS_KEYS if wanted.get(key) != recorded.get(key))
        raise DataError(head.path, f"the features extracted here would differ from the head's ({differences})")
    return extractor


def check_no_conflict(extractor, video: Path, game_dir: Path, half: int) -> None:
    """Refuse to overwrite features made differently (other settings, precision included, or another video)."""
    if not sidecar_path(game_dir, half, extractor.name).is_file():
        return
    reason = extractor.stale_reason(video, game_dir, half)
    if reason is not None:
        raise DataError(feature_path(game_dir, half, extractor.name),
                        f"already exists, {reason}; it is not overwritten: remove it or spot into another --out")


def check_device(device: str, precision: str) -> None:
    """`ValueError` (a usage error) for a device or precision this machine cannot run."""
    try:
        resolved = resolve_device(device)
    except RuntimeError as error:  # torch.device("nonsense")
        raise ValueError(f"--device {device}: {error}") from None
    resolve_precision(precision, resolved)


def reusable_precision(extractor, video: Path, game_dir: Path, half: int) -> str | None:
    """The precision of features on disk that this extractor would make, but at another precision
    (complete, same identity, same video and trimming): those are reused. None when there are none
    (extract, or the extractor skips features that are identical); `DataError` when the features there
    were made differently and must not be overwritten."""
    if not sidecar_path(game_dir, half, extractor.name).is_file():
        return None
    if extractor.stale_reason(video, game_dir, half) is None:
        return None
    try:
        existing = load_features(game_dir, half, extractor.name).meta.precision
    except DataError:
        existing = None
    if existing is not None and existing != extractor.precision:
        # the extractor's own staleness test, asked as if it extracted at the precision on disk
        at_their_precision = copy.copy(extractor)
        at_their_precision.precision = existing
        if at_their_precision.stale_reason(video, game_dir, half) is None:
            return str(existing)
    check_no_conflict(extractor, video, game_dir, half)
    return None


def extract_half(extractor, video: Path, game_dir: Path, half: int) -> None:
    """Extract one half; decoder failures become a `DataError` naming the video."""
    try:
        extractor.extract(video, game_dir, half)
    except (OSError, RuntimeError) as error:
        raise DataError(video, f"cannot extract features ({type(error).__name__}: {error})") from error


@dataclass
class ExtractionPlan:
    """What `spot VIDEO` makes for a head: the feature sets extracted from the video, and for a head
    trained on combined features, how those sets become its features."""

    extractors: list
    combine: CombineConfig | None = None

    @property
    def name(self) -> str:
        """The feature name the head spots."""
        return self.combine.name if self.combine is not None else self.extractors[0].name


def is_combined(settings: dict | None) -> bool:
    return bool(settings) and settings.get("components") is not None


def component_head(head: LoadedHead, index: int) -> LoadedHead:
    """The head as if trained on its `index`-th component alone (for `extract_config_for`, `build_extractor`)."""
    return dataclasses.replace(head, feature_settings=dict(head.feature_settings["components"][index]))


def describe_component(settings: dict, index: int, count: int) -> str:
    return f"component {index + 1} of {count} of the combined features ({settings.get('backbone')}, " \
           f"weights {settings.get('weights')})"


def component_names(extractors: list, combined_name: str) -> list[str]:
    """Each component's feature name: its backbone's default, suffixed where two would share one (or take
    the combined features' own name)."""
    names = [extractor.name for extractor in extractors]
    return [name if names.count(name) == 1 and name != combined_name else f"{name}_part{index + 1}"
            for index, name in enumerate(names)]


def recipe_name_conflict(head: LoadedHead, feature_name: str | None) -> str | None:
    """Why `--features feature_name`, a published recipe's name (`extract.recipes`), cannot name the features
    made for this head, or None: the head records features made otherwise (another backbone, rate, geometry,
    input size, frame rule or PCA), combined features, or a `training.log` naming the other recipe. The recipe
    would not be applied, only its name given to other features."""
    if feature_name not in RECIPES:
        return None
    recipe, settings = RECIPES[feature_name], head.feature_settings
    where = f"--features {feature_name} disagrees with --model {head.path}"
    if not settings:
        named = head.feature_name
        return f"{where}, whose training.log names {named}" if named in RECIPES and named != feature_name else None
    if is_combined(settings):
        return f"{where}, trained on combined features (soccerspot combine); leave --features out"
    recorded = {key: settings.get(key) for key in ("backbone", "fps", "transform", "input_size")}
    recorded["sampling"] = settings.get("sampling") or "timestamp"
    found = [f"{key} {value!r}, not {fixed!r}" for key, value, fixed in recipe_disagreements(recipe, recorded)]
    if bool(settings.get("pca")) != (recipe.pca_file is not None):
        found.append("PCA " + ("applied" if settings.get("pca") else "none") + ", not " +
                     ("SoccerNet's" if recipe.pca_file else "none"))
    if not found:
        return None
    return f"{where}, whose features were made with {'; '.join(found)}; leave --features out or name them otherwise"


def plan_extraction(head: LoadedHead, *, device: str = "auto", precision: str = "auto", batch_size: int = 32,
                    weights_file: str | Sequence[str] | None = None, pca_file: str | None = None, feature_name: str | None = None,
                    progress: bool = True) -> ExtractionPlan:
    """The extractors (and combination) that re-make the head's training features here, or a `DataError`
    saying why they cannot be re-made (for combined features, naming the component); a `SettingsError` when
    `feature_name` is a recipe's name that the head's features disagree with (`recipe_name_conflict`)."""
    options = dict(device=device, precision=precision, batch_size=batch_size, weights_file=weights_file,
                   pca_file=pca_file, progress=progress)
    conflict = recipe_name_conflict(head, feature_name)
    if conflict:
        raise SettingsError(None, conflict)
    if not head.feature_settings:  # a published head: its features are re-made by their named recipe
        plan = recipe_plan(head, feature_name=feature_name, **options)
        if plan is not None:
            return plan
    if not is_combined(head.feature_settings):
        config = extract_config_for(head, feature_name=feature_name, **options)
        check_device(device, precision)
        return ExtractionPlan([build_extractor(head, config)])
    components = head.feature_settings["components"]
    if not isinstance(components, list) or not components or not all(isinstance(c, dict) for c in components):
        raise DataError(head.path, f"the checkpoint's combined feature settings list no components ({components!r})")
    name = feature_name or str(head.training.get("features") or "combined")
    extractors = []
    for index in range(len(components)):
        part = component_head(head, index)
        try:
            config = extract_config_for(part, **options)
            check_device(device, precision)
            extractors.append(build_extractor(part, config))
        except DataError as error:
            raise DataError(error.path, f"{describe_component(components[index], index, len(components))}: "
                                        f"{error.reason}") from error
    for extractor, part_name in zip(extractors, component_names(extractors, name)):
        extractor.name = part_name
    normalize = str(head.feature_settings.get("normalize"))
    combine = CombineConfig([extractor.name for extractor in extractors], name, normalize)
    problems = combine.problems()
    if problems:
        raise DataError(head.path, f"cannot combine the head's features: {problems[0][0]} {problems[0][1]}")
    return ExtractionPlan(extractors, combine)


def recipe_plan(head: LoadedHead, *, feature_name: str | None, weights_file: str | Sequence[str] | None,
                pca_file: str | None, device: str, precision: str, batch_size: int, progress: bool) -> ExtractionPlan | None:
    """For a head without recorded feature settings (SoccerNet's `model.pth.tar`), the extractor of the
    feature recipe named by `feature_name` (`--features`) or by its `training.log` (e.g. ResNET_TF2_PCA512);
    None when neither names a recipe (`extract.recipes`)."""
    name = feature_name or head.feature_name
    if name not in RECIPES:
        return None
    files = [weights_file] if isinstance(weights_file, str) else list(weights_file or [])
    if len(files) > 1:
        raise DataError(head.path, f"the {name} recipe reads one weights file; {len(files)} --weights given")
    check_device(device, precision)
    try:
        extractor = build_recipe_extractor(name, weights_file=files[0] if files else None, pca_file=pca_file,
                                           device=device, precision=precision, batch_size=batch_size, progress=progress)
    except BackboneWeightsError as error:
        raise DataError(head.path, f"cannot make its {name} features here: {error}") from error
    input_dim = getattr(head.config, "input_dim", extractor.dim)
    if extractor.dim != input_dim:
        raise DataError(head.path, f"the head reads {input_dim}-d features; {name} rows are {extractor.dim}-d")
    return ExtractionPlan([extractor])


def check_combined_conflict(plan: ExtractionPlan, game_dir: Path, half: int) -> None:
    """Refuse to overwrite combined features of another identity already under the plan's name."""
    if plan.combine is None or not sidecar_path(game_dir, half, plan.name).is_file():
        return
    try:
        existing = load_features(game_dir, half, plan.name).meta.identity()
    except DataError:
        return  # incomplete: combining redoes it
    wanted = combined_template([extractor.meta_template() for extractor in plan.extractors],
                               plan.combine.normalize).identity()
    if existing != wanted:
        raise DataError(feature_path(game_dir, half, plan.name),
                        "already exists, made from other parts or settings; it is not overwritten: remove it or "
                        "spot into another --out")


def spot_video(input_path: str | Path, head: LoadedHead, *, out_dir: str | Path | None = None,
               options: SpotOptions | None = None, device: str = "auto", precision: str = "auto",
               batch_size: int = 32, weights_file: str | Sequence[str] | None = None, pca_file: str | None = None,
               feature_name: str | None = None, progress: bool = True) -> SpotReport:
    """Extract (or reuse, when complete and of the same identity) the head's features for a video or game
    folder, combining components for a head trained on combined features, then spot those halves; results
    go to `<game folder>/results_spotting.json` (an existing one is skipped unless `options.overwrite`).
    Raises `DataError` on bad input, `ValueError` on a device or precision this machine cannot run."""
    input_path = Path(input_path)
    game_dir, jobs = plan_video_input(input_path, Path(out_dir) if out_dir is not None else None)
    plan = plan_extraction(head, device=device, precision=precision, batch_size=batch_size,
                           weights_file=weights_file, pca_file=pca_file, feature_name=feature_name, progress=progress)
    check_game(plan, jobs, game_dir)
    out_path = game_dir / PREDICTIONS_FILE
    options = options or SpotOptions()
    if out_path.exists() and not options.overwrite:
        return SpotReport([GameResult(".", out_path, "skipped")])
    nms = resolve_nms(head, options)
    warnings = extract_game(plan, jobs, game_dir).warnings
    # only the halves of this input, whatever else the folder holds
    spotted = [spot_half(head, game_dir, job.half, plan.name, nms, options) for job in jobs]
    result = write_game(head, spotted, out_path, feature_name=plan.name, url=input_path.name, options=options)
    result.warnings = warnings + result.warnings
    return SpotReport([result])


@dataclass
class GameExtraction:
    """What `extract_game` did in a game folder."""

    files: list[str] = field(default_factory=list)  # feature files and sidecars, parts before their combination
    warnings: list[str] = field(default_factory=list)  # features reused at another precision
    frames: int = 0
    video_seconds: float = 0.0


def check_game(plan: ExtractionPlan, halves: Sequence, game_dir: Path) -> dict[tuple[int, int], str | None]:
    """The checks before a game folder is written: `DataError` where features there were made differently
    (another setting or video, or combined from other parts); else {(extractor index, half): the precision
    of features to reuse as they are, or None}. `halves`: items with `.video` and `.half`."""
    reused = {(index, job.half): reusable_precision(extractor, job.video, game_dir, job.half)
              for index, extractor in enumerate(plan.extractors) for job in halves}
    for job in halves:
        check_combined_conflict(plan, game_dir, job.half)
    return reused


def extract_game(plan: ExtractionPlan, halves: Sequence, game_dir: Path) -> GameExtraction:
    """The one per-game chain before spotting, for `spot VIDEO`, `archive` and the demo: each half's
    features extracted with the plan (complete features of the same identity are kept; at another precision
    they are reused, with a warning), the parts combined for a combined head. `halves`: items with `.video`
    and `.half`. Raises `DataError` naming the video or file at fault."""
    reused = check_game(plan, halves, game_dir)
    done = GameExtraction()
    for job in halves:
        for index, extractor in enumerate(plan.extractors):
            precision_there = reused[index, job.half]
            if precision_there is None:
                extract_half(extractor, job.video, game_dir, job.half)
            else:
                done.warnings.append(f"{feature_path(game_dir, job.half, extractor.name)}: reused as it is, computed "
                                     f"at {precision_there} (this run would extract at {extractor.precision}; remove "
                                     "it to extract again)")
            if plan.combine is not None:  # the parts, written before what is made of them
                done.files += [feature_path(game_dir, job.half, extractor.name).name,
                               sidecar_path(game_dir, job.half, extractor.name).name]
        if plan.combine is not None:
            combine_half(game_dir, job.half, plan.combine)
        meta = load_features(game_dir, job.half, plan.name).meta
        done.frames += meta.num_frames
        done.video_seconds += meta.num_frames / meta.fps
        done.files += [feature_path(game_dir, job.half, plan.name).name, sidecar_path(game_dir, job.half, plan.name).name]
    return done

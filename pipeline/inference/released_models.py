"""Released spotting heads, as data: what SoccerNet's projects publish, so `--model NAME` runs them in every
command that takes a model (`spot`, `archive`, `live`; `ground` and `archive --ground` refuse a spotting
head's name at once). `resolve_model` is the one resolver they all call.

Each entry records only what its source shows: the files (URL, the git blob id the repository's tree
publishes for them, their size where the snapshot held them), the feature recipe the head reads
(`extract.recipes`), its classes, the test Average-mAP its authors report, and where each fact comes from.
Source snapshot: github.com/SoccerNet/sn-spotting at commit 9842826f94e1419580a9d17219c11aca7225f7ce
(`git ls-tree -l`; the READMEs named per entry). The training log goes beside the head as `training.log`:
the peer loader (`pipeline.inference.checkpoints`) reads its window, frame rate and NMS from there.

Not listed: CALF's `CALF_benchmark` (published there too, 40.7 test Average-mAP, ResNET_TF2_PCA512) - its
`model.pth.tar` is not a format `pipeline.inference.checkpoints` converts yet; the five `NetVLAD++_run_<seed>` and
`NetVLAD++_Challenge` (trained on train+valid, validated on test: no test figure) are left out as variants.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from soccerspot.data.classes import CLASS_NAMES_V1, CLASS_NAMES_V2
from soccerspot.errors import DataError, SettingsError
from soccerspot.extract.downloads import DownloadError, ensure_file
from soccerspot.models.backbones.keras_resnet import CACHE_ENV, WeightsFile
from soccerspot.models.papers import SOCCERNET_V2_PAPER, TEMPORALLY_AWARE_PAPER

SN_SPOTTING = "https://github.com/SoccerNet/sn-spotting"
SN_SPOTTING_COMMIT = "9842826f94e1419580a9d17219c11aca7225f7ce"
RAW = f"{SN_SPOTTING}/raw/{SN_SPOTTING_COMMIT}"
HEAD_FILE = "model.pth.tar"
LOG_FILE = "training.log"


@dataclass(frozen=True)
class ReleasedModel:
    name: str
    head: WeightsFile  # the model.pth.tar
    log: WeightsFile  # its training log (window, frame rate, NMS, feature file)
    recipe: str  # the feature recipe it reads (extract.recipes)
    classes: tuple[str, ...]
    test_average_map: float  # % on the SoccerNet test split, as its authors report it
    metric_source: str
    source: str
    paper: str
    task: str = "spotting"  # what the head does (the task of `models.heads.register_head`): all listed spot


def _sn_file(path: str, git_sha1: str, local_name: str) -> WeightsFile:
    return WeightsFile(filename=local_name, url=f"{RAW}/{path}", git_sha1=git_sha1, source=f"{SN_SPOTTING}/blob/{SN_SPOTTING_COMMIT}/{path}")


def _entry(name: str, folder: str, head_sha1: str, log: str, log_sha1: str, **fields) -> ReleasedModel:
    return ReleasedModel(
        name=name, head=_sn_file(f"{folder}/{HEAD_FILE}", head_sha1, HEAD_FILE), log=_sn_file(f"{folder}/{log}", log_sha1, LOG_FILE),
        source=f"{SN_SPOTTING}/tree/{SN_SPOTTING_COMMIT}/{folder}", **fields)


RELEASED: dict[str, ReleasedModel] = {model.name: model for model in (
    _entry("NetVLAD++", "Benchmarks/TemporallyAwarePooling/models/NetVLAD++", "0c9f6a2b915369b983d2d225ef2183febb16a8da",
           "2021-03-03_00-09-55.log", "0ce667427d1933dc088425a2b9dcdc602009b47a", recipe="ResNET_TF2",
           classes=tuple(CLASS_NAMES_V2), test_average_map=53.4,
           metric_source="sn-spotting Benchmarks/README.MD table, Avg-mAP (test)",
           paper=TEMPORALLY_AWARE_PAPER),
    _entry("MAXPOOL_v2", "Benchmarks/Pooling/models/MAXPOOL_v2", "902a6af82a0526ed6350fd546207135027330a8d",
           "2021-02-05_15-55-45.log", "068a918ea01766616806a0546699691d6c21718a", recipe="ResNET_TF2_PCA512",
           classes=tuple(CLASS_NAMES_V2), test_average_map=18.6,
           metric_source="sn-spotting Benchmarks/README.MD table, Avg-mAP (test) (Benchmarks/Pooling/README.md: 18.5%)",
           paper=SOCCERNET_V2_PAPER),
    _entry("NETVLAD_v2", "Benchmarks/Pooling/models/NETVLAD_v2", "ad96b56764f89d7d1953fb0a2773cd59583251d9",
           "2021-02-05_15-55-50.log", "faf1115b01f43ab173e0b36fc923479839eae0d2", recipe="ResNET_TF2_PCA512",
           classes=tuple(CLASS_NAMES_V2), test_average_map=31.4,
           metric_source="sn-spotting Benchmarks/README.MD table, Avg-mAP (test) (Benchmarks/Pooling/README.md: 31.37%)",
           paper=SOCCERNET_V2_PAPER),
    _entry("MAXPOOL_v1", "Benchmarks/Pooling/models/MAXPOOL_v1", "c64a6a364a0afb3b56217873deb9cbcbc16f2d6b",
           "2021-02-05_15-52-38.log", "e93c8aa23f1f5f97339656038c3c5dafa1b477e3", recipe="ResNET_TF2_PCA512",
           classes=tuple(CLASS_NAMES_V1), test_average_map=29.52,
           metric_source="sn-spotting Benchmarks/Pooling/README.md (SoccerNet v1, 3 classes, split_test test)",
           paper=SOCCERNET_V2_PAPER),
    _entry("NETVLAD_v1", "Benchmarks/Pooling/models/NETVLAD_v1", "373fdd4b2e8fc33ab638781d50b1d20e9772e92c",
           "2021-02-05_15-56-18.log", "a0e9dc97ac31ee3c9592c3047a555aca69576b7c", recipe="ResNET_TF2_PCA512",
           classes=tuple(CLASS_NAMES_V1), test_average_map=44.67,
           metric_source="sn-spotting Benchmarks/Pooling/README.md (SoccerNet v1, 3 classes, split_test test)",
           paper=SOCCERNET_V2_PAPER),
)}


def models_dir() -> Path:
    """Where released heads go: `$SOCCERSPOT_CACHE/models/<name>/` (default `~/.cache/soccerspot`)."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "soccerspot")
    return Path(root) / "models"


def released_names() -> list[str]:
    return list(RELEASED)


def not_here(entry: ReleasedModel, why: str) -> DataError:
    """The one error of a released head whose files are not in the cache and cannot be fetched now."""
    folder = models_dir() / entry.name
    head, log = folder / entry.head.filename, folder / entry.log.filename
    return DataError(head, f"released model {entry.name} is not here ({why}): download {entry.head.url} to {head} "
                           f"and {entry.log.url} to {log}")


def resolve_model(model: str, *, task: str = "spotting", flag: str = "--model", download: bool = True,
                  progress: bool = True) -> str:
    """What every command's `--model` (`flag`) names, as a local path: an existing path is itself; a released
    name is its `model.pth.tar` in the cache (downloaded with its log when missing; offline, or with
    `download` off, one `DataError` naming both URLs and where to put the files); anything else is returned
    unchanged for the checkpoint loader to judge. A released head whose task is not `task` (a spotting head
    named where a grounding model is taken) is a `SettingsError` naming `flag`, before any download."""
    if Path(model).exists() or model not in RELEASED:
        return model
    entry = RELEASED[model]
    if entry.task != task:
        raise SettingsError(None, f"{flag} {model}: a released {entry.task} head, not a {task} model")
    folder = models_dir() / entry.name
    head, log = folder / entry.head.filename, folder / entry.log.filename
    if head.is_file() and log.is_file():
        return str(head)
    if not download:
        raise not_here(entry, "downloads are off")
    for spec in (entry.head, entry.log):
        try:
            ensure_file(spec, progress=progress, dest_dir=folder)
        except DownloadError as error:
            raise not_here(entry, f"download failed: {error.why}") from None
    print(f"{entry.name}: {entry.paper}; reads {entry.recipe} features; {entry.test_average_map}% Average-mAP "
          f"on test ({entry.metric_source})", file=sys.stderr)
    return str(head)

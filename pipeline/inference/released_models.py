"""Released spotting heads, as data: what SoccerNet's projects publish, so `--model NAME` runs them in `spot`
and `archive`. `resolve_model` is the one resolver every command's `--model` goes through: `live` resolves
names too but refuses these heads (their ResNET_TF2 features follow FrameCV's frame rule, which live does not
reproduce); `ground` and `archive --ground` refuse a spotting head's name before any download.

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
from soccerspot.models.papers import E2E_SPOT_PAPER, SOCCERNET_V2_PAPER, TEAM_SPOTTING_PAPER, TEMPORALLY_AWARE_PAPER

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
    `download` off, one `DataError` naming both URLs and where to put the files); a released dense model's
    name is its local model folder (`resolve_dense_model`); anything else is returned
    unchanged for the checkpoint loader to judge. A released head whose task is not `task` (a spotting head
    named where a grounding model is taken) is a `SettingsError` naming `flag`, before any download."""
    if not Path(model).exists() and model in RELEASED_DENSE:
        return str(resolve_dense_model(model, download=download, progress=progress))
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


# --- Released dense frame models (E2E-Spot, T-DEED) ----------------------------------------------------------------
# github.com/jhong93/e2e-spot-models at the commit below (`git ls-tree`): each folder is what E2E-Spot's
# train_e2e.py writes (config.json + checkpoint_NNN.pt, the best epoch), loaded by
# `models.dense.e2e_spot.load_e2e_spot_folder`. Neither that repository nor github.com/jhong93/spot states a test
# Average-mAP for them, so none is recorded here; each folder's README says what it was trained on.

E2E_SPOT_MODELS = "https://github.com/jhong93/e2e-spot-models"
E2E_SPOT_MODELS_COMMIT = "10d07a4fb01f2eb76785e15552e5648bf0793509"
E2E_SPOT_RAW = f"{E2E_SPOT_MODELS}/raw/{E2E_SPOT_MODELS_COMMIT}"


@dataclass(frozen=True)
class ReleasedDenseModel:
    name: str
    files: tuple[WeightsFile, ...]  # the folder's files, under the names the folder gives them
    model: str  # the dense model family (`models.dense` registry name)
    frame_recipe: str  # the frames it reads (`extract.frame_recipes`), as its config's dataset says
    trained_on: str  # its README's words
    source: str
    paper: str
    # files only a person can fetch (a Google Drive folder has no stable per-file URL): never downloaded, the
    # error says where to get them and where to put them
    by_hand: tuple[WeightsFile, ...] = ()


def _e2e_file(folder: str, filename: str, git_sha1: str) -> WeightsFile:
    path = f"{folder}/{filename}"
    return WeightsFile(filename=filename, url=f"{E2E_SPOT_RAW}/{path}", git_sha1=git_sha1,
                       source=f"{E2E_SPOT_MODELS}/blob/{E2E_SPOT_MODELS_COMMIT}/{path}")


def _e2e_entry(folder: str, config_sha1: str, checkpoint: str, checkpoint_sha1: str, trained_on: str) -> ReleasedDenseModel:
    return ReleasedDenseModel(
        name=folder, files=(_e2e_file(folder, "config.json", config_sha1), _e2e_file(folder, checkpoint, checkpoint_sha1)),
        model="e2e-spot", frame_recipe="e2e-soccernetv2", trained_on=trained_on,
        source=f"{E2E_SPOT_MODELS}/tree/{E2E_SPOT_MODELS_COMMIT}/{folder}", paper=E2E_SPOT_PAPER)


# --- The T-DEED baseline of the 2025 Team Ball Action Spotting challenge ------------------------------------
# github.com/SoccerNet/sn-teamspotting (commit below), README: "A checkpoint of the baseline is available at the
# following link" - a Google Drive folder, so the checkpoint is fetched by hand (`by_hand`); the config it was
# trained with is the repository's config/SoccerNetBall/SoccerNetBall_baseline.json (blob id pinned; T-DEED
# rny002_gsf + ed_sgp_mixer, 12 ball classes, team head, joint training with the 17 v2 classes). The README
# reports 47.18 Team mAP@1 / 53.59 mAP@1 on the test split, 51.72 / 58.38 on the challenge split, for the
# baseline, and warns that this checkpoint's results "may differ slightly" (another training run).

SN_TEAMSPOTTING = "https://github.com/SoccerNet/sn-teamspotting"
SN_TEAMSPOTTING_COMMIT = "091fed2fc35c33f7489f3596958a2fe385e37d65"
TDEED_BASELINE_DRIVE = "https://drive.google.com/drive/folders/16IqSkctIGp76ZYKKvJvMB_ggHcQsessM"
_TDEED_CONFIG = "config/SoccerNetBall/SoccerNetBall_baseline.json"


def _where_in(spec: WeightsFile) -> str:
    """A by-hand file lives in a folder page: name the file to take from it."""
    return f" (the file {spec.filename} in that folder)" if spec.url == TDEED_BASELINE_DRIVE else ""


TDEED_BASELINE = ReleasedDenseModel(
    name="tdeed_soccernetball_baseline",
    files=(WeightsFile(filename="SoccerNetBall_baseline.json", url=f"{SN_TEAMSPOTTING}/raw/{SN_TEAMSPOTTING_COMMIT}/"
                       f"{_TDEED_CONFIG}", git_sha1="638ec9412aa76a081a5a1559cd03d33a75805eab",
                       source=f"{SN_TEAMSPOTTING}/blob/{SN_TEAMSPOTTING_COMMIT}/{_TDEED_CONFIG}"),),
    by_hand=(WeightsFile(filename="checkpoint_best.pt", url=TDEED_BASELINE_DRIVE,
                         source=f"{SN_TEAMSPOTTING}/blob/{SN_TEAMSPOTTING_COMMIT}/README.md"),),
    model="tdeed-soccernetball-baseline", frame_recipe="tdeed-ball",
    trained_on="by sn-teamspotting's train_tdeed_bas.py with SoccerNetBall_baseline.json (Ball Action Spotting "
               "2025, SoccerNet-v2 actions as joint training); its README reports 47.18 Team mAP@1 / 53.59 mAP@1 "
               "on test and 51.72 / 58.38 on challenge for the baseline",
    source=f"{SN_TEAMSPOTTING}/tree/{SN_TEAMSPOTTING_COMMIT}#2025-team-ball-action-spotting-challenge",
    paper=TEAM_SPOTTING_PAPER)


_TRAIN_VAL = ("trained on the training split, validated on the validation split; frames from the 720p videos, "
              "downsampled to 224 pixels high")
RELEASED_DENSE: dict[str, ReleasedDenseModel] = {model.name: model for model in (
    _e2e_entry("soccer_rny002gsm_gru_rgb", "1e94ce8aca1b62dc829f84a76beb9fe293a48a92", "checkpoint_088.pt",
               "f6c85ef7a3437bbd2400a8b46cba41b1c63237b3", _TRAIN_VAL),
    _e2e_entry("soccer_rny008gsm_gru_rgb", "96872ff95e1d19f3c91110672ec8267fe45d03f2", "checkpoint_140.pt",
               "64b8b2a58ad935dba23248a40849a0888bd4af9e", _TRAIN_VAL),
    _e2e_entry("soccer_challenge_rny008gsm_gru_rgb", "a8699802ac9c24767a66c0714886f0b2f96853dc", "checkpoint_149.pt",
               "38c2879effacd93050e2d8ca0422f255147bf593",
               "trained on the training, validation and test splits, for the challenge set; frames from the 720p "
               "videos, downsampled to 224 pixels high"),
    TDEED_BASELINE,
)}


def resolve_dense_model(name: str, *, download: bool = True, progress: bool = True) -> Path:
    """The local folder of the released dense model `name` (`$SOCCERSPOT_CACHE/models/<name>/`), its files
    downloaded when missing (those `by_hand` never are), or a `DataError` saying where to get and put them."""
    entry = RELEASED_DENSE[name]
    folder = models_dir() / entry.name
    missing = [spec for spec in entry.files if not (folder / spec.filename).is_file()]
    by_hand = [spec for spec in entry.by_hand if not (folder / spec.filename).is_file()]
    if not missing and not by_hand:
        return folder
    if not download or by_hand:
        raise DataError(folder, f"released model {entry.name} is not here: download "
                                + " and ".join(f"{spec.url}{_where_in(spec)} to {folder / spec.filename}"
                                               for spec in missing + by_hand))
    for spec in missing:
        ensure_file(spec, progress=progress, dest_dir=folder)
    print(f"{entry.name}: {entry.paper}; {entry.model} on {entry.frame_recipe} frames; {entry.trained_on}",
          file=sys.stderr)
    return folder

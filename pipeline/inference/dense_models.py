"""Dense model folders as spotters: the peer's model (`models.dense`'s registered folder formats) with what the
peer's own evaluation does after it.

`models.dense.load_dense_peer_folder` recognises and loads a published folder (E2E-Spot's `config.json` +
`checkpoint_NNN.pt`, T-DEED's config + `checkpoint_best.pt`) and reports which peer code wrote it
(`variant`) and which frames it reads (`frame_recipe`, a name of `extract.frame_recipes`). What that code
then does - clip overlap and averaging (`dense_clips`), NMS and its window, the task it spots (whose
evaluation grid bins the results) - is data here, looked up by (variant, frame recipe):

- E2E-Spot, SoccerNet-v2: overlap 1/2, `eval_soccernetv2.py`'s default `--nms_window 2` (frames at 2.083 fps)
  on the frames scoring >= 0.01 (the "high recall" predictions it evaluates); Ball Action Spotting:
  `--nms_window=25` (their data/soccernet_ball/README.md).
- T-DEED, Ball Action Spotting (sn-teamspotting `train_tdeed_bas.py`): overlap 3/4, the ball task's reference
  NMS (`data.tasks`: soft NMS with `WINDOWS_SNB[1]` = 12 frames at 12.5 fps, threshold 0.01); SoccerNet-v2
  (arturxe2 `train_tdeed.py`): overlap 1/2, soft NMS with `WINDOWS_SN[1]` = 6 frames (their evaluation stores
  whichever of NMS 3 / soft NMS 6 scored better on the test labels; soccerspot has no labels at spotting time
  and takes the soft one).

The task a folder spots is what its outputs say (`data.tasks.tasks_of_model`: a team head or a Ball class set
is Ball Action Spotting), else its frame recipe's task in `PEER_INFERENCE`; a task asked for
(`spot --task`) that the folder contradicts is refused, naming both.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soccerspot.data.features import seconds_to_rows
from soccerspot.data.tasks import task_spec, tasks_of_model
from soccerspot.errors import DataError, SettingsError
from soccerspot.extract.frame_recipes import TDEED_BALL, FrameRecipe, frame_recipe
from soccerspot.models.dense import dense_peer_format_of, load_dense_peer_folder
from soccerspot.pipeline.inference.dense_clips import E2E_SPOT_RULE, TDEED_RULE, TDEED_SOCCERNETV2_RULE, ClipRule
from soccerspot.pipeline.inference.dense_spot import DenseNms, DenseSpotter

V2_EVAL_FRAMERATE = task_spec("spotting").framerate  # SoccerNet-v2's evaluator: one value per class per 0.5 s
BALL_EVAL_FRAMERATE = task_spec("ball").framerate  # Ball Action Spotting's: one per class (and team) per 25 fps frame


def task_nms(task: str, recipe: FrameRecipe) -> DenseNms:
    """A task's reference NMS (`data.tasks`) in the frames `recipe` reads from the task's videos (recorded at the
    task's evaluation rate: Ball Action Spotting's 25 fps)."""
    spec = task_spec(task)
    if spec.nms is None:
        raise ValueError(f"the {task} task has no reference NMS")
    fps = recipe.model_fps(spec.framerate)
    return DenseNms(spec.nms.kind, seconds_to_rows(spec.nms.window_seconds, fps), spec.nms.threshold, spec.nms.source)


@dataclass(frozen=True)
class PeerInference:
    rule: ClipRule
    nms: DenseNms
    eval_framerate: int
    task: str = "spotting"  # what the peer trained such a model for (`data.tasks`)


PEER_INFERENCE: dict[tuple[str, str], PeerInference] = {
    ("E2E-Spot", "e2e-soccernetv2"): PeerInference(
        E2E_SPOT_RULE, DenseNms("peaks", 2, 0.01, "jhong93/spot eval_soccernetv2.py --nms_window 2"), V2_EVAL_FRAMERATE),
    ("E2E-Spot", "e2e-ball"): PeerInference(
        E2E_SPOT_RULE, DenseNms("peaks", 25, 0.01, "jhong93/spot data/soccernet_ball/README.md --nms_window=25"),
        BALL_EVAL_FRAMERATE, "ball"),
    ("T-DEED", "tdeed-ball"): PeerInference(TDEED_RULE, task_nms("ball", TDEED_BALL), BALL_EVAL_FRAMERATE, "ball"),
    ("T-DEED", "tdeed-soccernetv2"): PeerInference(
        TDEED_SOCCERNETV2_RULE, DenseNms("grouped-soft", 6, 0.01, "arturxe2/T-DEED util/eval.py WINDOWS_SN[1]"),
        V2_EVAL_FRAMERATE),
}


def is_dense_model_folder(path: str | Path) -> bool:
    """Whether a registered peer folder format recognises `path`."""
    folder = Path(path)
    return dense_peer_format_of(folder) is not None


def model_task(path: str | Path, classes: list[str], team: bool, inference: PeerInference,
               asked: str | None = None) -> str:
    """The task the folder at `path` spots: what its outputs fit (`data.tasks.tasks_of_model`), else what its
    peer's recipe is for; `asked` (`--task`) must agree (`SettingsError` naming both), and decides where the
    outputs fit several tasks."""
    fitting = tasks_of_model(classes, team)
    said = fitting if len(fitting) == 1 else ()
    if asked is not None:
        task_spec(asked)  # an unknown name is refused, naming the known ones
        if said and asked not in said:
            raise SettingsError(None, f"--task {asked}: the model {path} spots {said[0]} "
                                        f"({'a team head' if team else 'its classes: ' + ', '.join(classes[:4])}"
                                        f"{', ...' if len(classes) > 4 and not team else ''})")
        return asked
    return said[0] if said else inference.task


def load_dense_spotter(path: str | Path, task: str | None = None) -> DenseSpotter:
    """The dense model folder `path` ready to spot; `DataError` naming it when it is not one we can run,
    `SettingsError` when `task` is not the one it spots."""
    peer = load_dense_peer_folder(path)
    key = (peer.variant, peer.frame_recipe)
    if key not in PEER_INFERENCE:
        known = ", ".join(f"{variant} on {recipe}" for variant, recipe in PEER_INFERENCE)
        raise DataError(path, f"a {peer.variant} model reading {peer.frame_recipe} frames: soccerspot knows how "
                              f"their evaluation spots {known} only")
    inference = PEER_INFERENCE[key]
    model = peer.model.eval()
    classes = [str(name) for name in peer.classes]
    if len(classes) != model.num_classes:
        raise DataError(path, f"{len(classes)} class names for a model with {model.num_classes} classes")
    team = bool(getattr(model, "has_team", False))
    spots = model_task(path, classes, team, inference, task)
    return DenseSpotter(model, classes, team, frame_recipe(peer.frame_recipe), inference.rule, inference.nms,
                        Path(path), peer.variant, task_spec(spots).framerate, spots)

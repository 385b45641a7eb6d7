"""The SoccerNet tasks soccerspot knows, each registered once as data: its files, class sets, metric and
tolerances, evaluation grid, official game lists and post-processing defaults.

Commands take `--task NAME` and read what differs from here (`task_spec(name)`), never branching on a
task's name: `evaluate` picks its evaluation, files, class sets, metrics, frame rate and splits this way;
`spot` and `archive` read the task a model's outputs fit (`tasks_of_model`), the class set its results are
scored with (`class_set_of_model`) and the evaluation grid its results are binned on.

- `spotting`: SoccerNet-v2 action spotting (17 classes, Average-mAP loose 5-60 s / tight 1-5 s on a 2 fps
  grid; `SoccerNet.Evaluation.ActionSpotting`).
- `grounding`: replay grounding (`Detection-replays.json` against `Labels-cameras.json`, Average-AP loose or
  tight on a 2 fps track; `SoccerNet.Evaluation.ReplayGrounding`).
- `ball`: Ball Action Spotting (`Labels-ball.json`, 25 fps, mAP at 1 s; class sets 2025 with teams (Team mAP@1,
  sn-teamspotting's `mAPevaluateCodabench`), 2024 and 2023 without (the SoccerNet package's `evaluate(...,
  task="spotting-ball", framerate=25)`)).
"""
from __future__ import annotations

from dataclasses import dataclass

from soccerspot.data.cameras import CAMERAS_FILE, DETECTIONS_FILE
from soccerspot.data.classes import class_setup
from soccerspot.data.games import LABELS_FILE, LABELS_FILE_BALL, PREDICTIONS_FILE

ACTION_METRICS = ("loose", "tight", "at1", "at2", "at3", "at4", "at5")  # `average_map.METRIC_DELTAS_S`' names


@dataclass(frozen=True)
class NmsDefaults:
    """Non-maximum suppression as a task's reference recipe runs it. A trained feature head carries its own NMS
    settings; a dense model folder whose peer's evaluation follows the task's reference takes it from here
    (`pipeline.inference.dense_models.PEER_INFERENCE`: T-DEED on Ball Action Spotting)."""

    kind: str  # "hard" | "soft" (`pipeline.inference.nms.NMS_KINDS`), or a dense kind ("grouped-soft", "peaks")
    window_seconds: float
    source: str  # where the value comes from
    threshold: float = 0.0  # frames scoring below it are never spots


@dataclass(frozen=True)
class TaskSpec:
    name: str
    title: str
    labels_file: str  # per game folder
    predictions_file: str  # per game folder, what `evaluate` scores by default
    class_sets: tuple[str, ...]  # `data.classes.class_setup` names; the first is the default
    metrics: tuple[str, ...]  # the metrics `evaluate` accepts; the first is the default
    framerate: int  # the evaluation grid's frames per second
    game_lists: str  # the SoccerNet package's task whose official splits list the games (`data.games`)
    evaluation: str  # which evaluation scores it: "average_map" (with teams where the class set has them) or "grounding"
    nms: NmsDefaults | None  # the reference recipe's NMS; None where soccerspot does not build it yet
    plots: bool = False  # `evaluate --plots` draws its loose/tight tolerance curves (2 fps Average-mAP)
    hit_seconds: float = 1.0  # `plot` and `view`: a spot this close to a label of its class (and team) is a hit
    minutes_per_row: float | None = None  # `plot`: a row of class lanes per this many minutes (dense); None: panels
    head_task: str = "spotting"  # the kind of feature head that learns it (`models.heads.register_head`'s task)
    halves: tuple[int, ...] = (1, 2)  # the halves every game has (Ball 2024-2025: one video per game, half 1)

    @property
    def classes(self) -> list[str]:
        """The default class set's names, in its official order."""
        return list(class_setup(self.default_class_set).names)

    @property
    def teams(self) -> tuple[str, ...]:
        """The teams the default class set names on each action (`("left", "right")` for Ball 2025), or none."""
        return class_setup(self.default_class_set).teams

    @property
    def default_class_set(self) -> str:
        return self.class_sets[0]

    @property
    def default_metric(self) -> str:
        return self.metrics[0]


TASK_SPECS: dict[str, TaskSpec] = {}


def register_task_spec(spec: TaskSpec) -> TaskSpec:
    if spec.name in TASK_SPECS:
        raise ValueError(f"task {spec.name!r} is registered twice")
    TASK_SPECS[spec.name] = spec
    return spec


def task_spec(name: str) -> TaskSpec:
    if name not in TASK_SPECS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASK_SPECS)}")
    return TASK_SPECS[name]


def task_names() -> tuple[str, ...]:
    return tuple(TASK_SPECS)


def action_task_names() -> tuple[str, ...]:
    """The tasks whose labels file holds actions with a class (and team) at a time, scored by Average-mAP: the
    ones `plot` and `view` draw (replay grounding's `Labels-cameras.json` holds camera shots, not actions)."""
    return tuple(name for name, spec in TASK_SPECS.items() if spec.evaluation == "average_map")


register_task_spec(TaskSpec(
    name="spotting", title="SoccerNet-v2 action spotting", labels_file=LABELS_FILE,
    predictions_file=PREDICTIONS_FILE, class_sets=("v2", "v1"), metrics=ACTION_METRICS, framerate=2,
    game_lists="spotting", evaluation="average_map",
    nms=NmsDefaults("hard", 30.0, "NetVLAD++ (Giancola & Ghanem 2021), the netvladpp-paper preset"), plots=True,
))
register_task_spec(TaskSpec(
    name="grounding", title="SoccerNet-v2 replay grounding", labels_file=CAMERAS_FILE,
    predictions_file=DETECTIONS_FILE, class_sets=("v2",), metrics=("loose", "tight"), framerate=2,
    game_lists="spotting", evaluation="grounding", head_task="grounding",
    nms=NmsDefaults("hard", 25.0, "the grounding report's 25 s (models.heads.grounding.GroundingInference)"),
))
register_task_spec(TaskSpec(
    name="ball", title="Ball Action Spotting", labels_file=LABELS_FILE_BALL, predictions_file=PREDICTIONS_FILE,
    class_sets=("ball-2025", "ball-2024", "ball-2023"), metrics=("at1", "at2", "at3", "at4", "at5"), framerate=25,
    game_lists="spotting-ball", evaluation="average_map", halves=(1,),
    hit_seconds=12.5 / 25,  # mAP@1's tolerance: a match within ±12.5 frames at 25 fps
    minutes_per_row=3.0,  # 100+ actions per 3 minutes: one row of lanes per 3 minutes stays readable
    # T-DEED's soft NMS (`pipeline.inference.nms.grouped_soft_nms`): 12 frames of its 12.5 fps test frames (every
    # second frame of the 25 fps video), each action's left and right columns one list, threshold 0.01
    nms=NmsDefaults("grouped-soft", 12 / 12.5, "sn-teamspotting util/eval.py soft_non_maximum_supression, "
                    "WINDOWS_SNB[1] = 12 frames at 12.5 fps (STRIDE_SNB = 2), threshold 0.01", threshold=0.01),
))


def tasks_of_model(classes: list[str] | tuple[str, ...], team: bool) -> tuple[str, ...]:
    """The action tasks a model's outputs fit: a task one of whose class sets names every class of the model,
    or, for a model with a team head, one whose class sets score teams (a team head is a Ball Action Spotting
    model whatever its class names). Empty when the classes are a season's own (the model does not say)."""
    found = []
    for name in action_task_names():
        setups = [class_setup(set_name) for set_name in TASK_SPECS[name].class_sets]
        if team:
            fits = any(setup.teams for setup in setups)
        else:
            fits = any(set(classes) <= set(setup.names) for setup in setups)
        if fits:
            found.append(name)
    return tuple(found)


def class_set_of_model(task: str, classes: list[str] | tuple[str, ...], team: bool) -> str:
    """The class set a model's results are scored with: of the task's class sets that hold every class of the
    model and score teams exactly when it has a team head, the smallest (a PASS / DRIVE model: ball-2023); else
    the task's default."""
    spec = task_spec(task)
    fitting = [name for name in spec.class_sets
               if set(classes) <= set(class_setup(name).names) and bool(class_setup(name).teams) == team]
    return min(fitting, key=lambda name: len(class_setup(name).names)) if fitting else spec.default_class_set



def task_of_class_set(name: str) -> str:
    """The first registered task scored with class set `name` (`v2`: action spotting, `ball-2024`: Ball)."""
    for task, spec in TASK_SPECS.items():
        if name in spec.class_sets:
            return task
    raise ValueError(f"class set {name!r} belongs to no task; known: "
                     f"{', '.join(s for spec in TASK_SPECS.values() for s in spec.class_sets)}")

"""Dense model folders as spotters: the peer's model (`models.dense`'s registered folder formats) with what the
peer's own evaluation does after it.

`models.dense.load_dense_peer_folder` recognises and loads a published folder (E2E-Spot's `config.json` +
`checkpoint_NNN.pt`, T-DEED's config + `checkpoint_best.pt`) and reports which peer code wrote it
(`variant`) and which frames it reads (`frame_recipe`, a name of `extract.frame_recipes`). What that code
then does - clip overlap and averaging (`dense_clips`), NMS and its window, the evaluator's bin - is data
here, looked up by (variant, frame recipe):

- E2E-Spot, SoccerNet-v2: overlap 1/2, `eval_soccernetv2.py`'s default `--nms_window 2` (frames at 2.083 fps)
  on the frames scoring >= 0.01 (the "high recall" predictions it evaluates); Ball Action Spotting:
  `--nms_window=25` (their data/soccernet_ball/README.md).
- T-DEED, Ball Action Spotting (sn-teamspotting `train_tdeed_bas.py`): overlap 3/4, soft NMS with
  `WINDOWS_SNB[1]` = 12 frames (12.5 fps), threshold 0.01; SoccerNet-v2 (arturxe2 `train_tdeed.py`): overlap
  1/2, soft NMS with `WINDOWS_SN[1]` = 6 frames (their evaluation stores whichever of NMS 3 / soft NMS 6
  scored better on the test labels; soccerspot has no labels at spotting time and takes the soft one).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soccerspot.errors import DataError
from soccerspot.extract.frame_recipes import frame_recipe
from soccerspot.models.dense import load_dense_peer_folder
from soccerspot.models.dense.registry import _PEER_FORMATS
from soccerspot.pipeline.inference.dense_clips import E2E_SPOT_RULE, TDEED_RULE, TDEED_SOCCERNETV2_RULE, ClipRule
from soccerspot.pipeline.inference.dense_spot import DenseNms, DenseSpotter

V2_BIN_MS = 500  # SoccerNet-v2's evaluator: one value per class per 0.5 s
BALL_BIN_MS = 40  # Ball Action Spotting's: one per class (and team) per 25 fps frame


@dataclass(frozen=True)
class PeerInference:
    rule: ClipRule
    nms: DenseNms
    bin_ms: int


PEER_INFERENCE: dict[tuple[str, str], PeerInference] = {
    ("E2E-Spot", "e2e-soccernetv2"): PeerInference(
        E2E_SPOT_RULE, DenseNms("peaks", 2, 0.01, "jhong93/spot eval_soccernetv2.py --nms_window 2"), V2_BIN_MS),
    ("E2E-Spot", "e2e-ball"): PeerInference(
        E2E_SPOT_RULE, DenseNms("peaks", 25, 0.01, "jhong93/spot data/soccernet_ball/README.md --nms_window=25"),
        BALL_BIN_MS),
    ("T-DEED", "tdeed-ball"): PeerInference(
        TDEED_RULE, DenseNms("grouped-soft", 12, 0.01, "sn-teamspotting util/eval.py WINDOWS_SNB[1]"), BALL_BIN_MS),
    ("T-DEED", "tdeed-soccernetv2"): PeerInference(
        TDEED_SOCCERNETV2_RULE, DenseNms("grouped-soft", 6, 0.01, "arturxe2/T-DEED util/eval.py WINDOWS_SN[1]"),
        V2_BIN_MS),
}


def is_dense_model_folder(path: str | Path) -> bool:
    """Whether a registered peer folder format recognises `path`."""
    folder = Path(path)
    return folder.is_dir() and any(entry.recognises(folder) for entry in _PEER_FORMATS.values())


def load_dense_spotter(path: str | Path) -> DenseSpotter:
    """The dense model folder `path` ready to spot; `DataError` naming it when it is not one we can run."""
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
    return DenseSpotter(model, classes, bool(getattr(model, "has_team", False)), frame_recipe(peer.frame_recipe),
                        inference.rule, inference.nms, Path(path), peer.variant, inference.bin_ms)

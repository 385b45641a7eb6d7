"""The class orders T-DEED's checkpoints were trained with, as data: `data/<dataset>/class.txt` of
arturxe2/T-DEED and SoccerNet/sn-teamspotting (the two hold the same files). Logit column 1 + i is class i of the
checkpoint's dataset; with a team head, sn-teamspotting's label set is each class then "-left" / "-right".

Carried here because `models/` does not import `data/`: the SoccerNet-v2 list is the same 17 names in the
same order as `data.classes`' official `EVENT_DICTIONARY_V2` (a test checks they agree)."""
from __future__ import annotations

__all__ = ["SOCCERNET_BALL_CLASSES", "SOCCERNET_V2_CLASSES", "TDEED_DATASET_CLASSES", "tdeed_dataset_classes"]

SOCCERNET_BALL_CLASSES = (
    "PASS", "DRIVE", "HEADER", "HIGH PASS", "OUT", "CROSS", "THROW IN", "SHOT", "BALL PLAYER BLOCK",
    "PLAYER SUCCESSFUL TACKLE", "FREE KICK", "GOAL",
)

SOCCERNET_V2_CLASSES = (
    "Penalty", "Kick-off", "Goal", "Substitution", "Offside", "Shots on target", "Shots off target", "Clearance",
    "Ball out of play", "Throw-in", "Foul", "Indirect free-kick", "Direct free-kick", "Corner", "Yellow card",
    "Red card", "Yellow->red card",
)

# T-DEED's config `dataset` -> class order (E2E-Spot's "soccernetv2" lists are not these files).
TDEED_DATASET_CLASSES = {
    "soccernetball": SOCCERNET_BALL_CLASSES,
    "soccernet": SOCCERNET_V2_CLASSES,
}


def tdeed_dataset_classes(dataset: str) -> tuple[str, ...] | None:
    """The class order of T-DEED's `dataset`, or None for a dataset that is not soccer's."""
    return TDEED_DATASET_CLASSES.get(dataset)

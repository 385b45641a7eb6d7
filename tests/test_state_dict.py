"""`models.state_dict.strip_prefixes`: the one place wrapper names leave state-dict keys."""
from soccerspot.models.state_dict import strip_prefixes

WRAPPERS = ("module.", "backbone.", "body.", "model.")


def test_selecting_a_part_of_a_wrapping_model_drops_the_other_parts():
    whole = {"module.backbone.body.conv1.weight": 1, "module.backbone.body.fc.bias": 2, "module.head.fc.weight": 3}
    assert strip_prefixes(whole, WRAPPERS, expected={"conv1.weight", "fc.bias"}) == {"conv1.weight": 1, "fc.bias": 2}


def test_keys_already_expected_are_left_alone():
    state = {"conv1.weight": 1, "body.x": 2}
    assert strip_prefixes(state, WRAPPERS, expected={"conv1.weight"}) == state


def test_without_expected_keys_every_key_loses_all_its_leading_prefixes():
    peer = {"module.neck.pool.clusters": 1, "module.head.fc.weight": 2, "fc.bias": 3}
    stripped = strip_prefixes(peer, ("module.", "model.", "neck.", "head."))
    assert stripped == {"pool.clusters": 1, "fc.weight": 2, "fc.bias": 3}

"""Presets carry the papers' numbers; overrides are typed; configs survive JSON."""
from __future__ import annotations

import pytest

from soccerspot.errors import SettingsError
from soccerspot.models.heads import list_heads
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.models.heads.transformer import TransformerHeadConfig
from soccerspot.pipeline.training.config import TrainConfig, apply_overrides, head_config_for, with_head
from soccerspot.pipeline.training.presets import PRESETS, get_preset
from soccerspot.pipeline.training.loop import should_stop


def test_netvladpp_paper_preset_is_the_papers_recipe():
    c = get_preset("netvladpp-paper")
    assert (c.head, c.head_options["projection_dim"], c.window_seconds, c.head_options["clusters"], c.dropout) == (
        "netvlad++", 512, 15.0, 64, 0.4)
    assert (c.nms_window, c.nms_threshold, c.batch_size, c.lr) == (30.0, 0.0, 256, 1e-3)
    assert (c.scheduler, c.plateau_factor, c.plateau_patience, c.stop_lr) == ("plateau", 0.1, 10, 1e-8)
    assert c.select_on == "valid_loss" and c.sampling == "chunks" and c.mixup_alpha == 0
    assert "Giancola" in c.source and "2021" in c.source
    # the peers' VLAD layers: softmax(x . clusters) without bias
    assert head_config_for(c, 2048, 17, 30).assignment_bias is False


def test_baidu_transformer_preset():
    c = get_preset("baidu-transformer")
    assert (c.head, c.window_seconds, c.nms_window, c.lr, c.max_epochs) == ("transformer", 7.0, 20.0, 5e-4, 50)
    assert c.mixup_alpha > 0 and "Zhou" in c.source
    assert head_config_for(c, 8576, 17, 7).window_frames == 7


def test_every_preset_builds_a_valid_head_config():
    for name, preset in PRESETS.items():
        assert preset.preset == name and preset.source
        preset.validate()
        assert preset.head in list_heads(None)  # spotting and grounding heads
        head_config_for(preset, 512, 17, 30)  # validates


def test_overrides_parse_strings_into_field_types_and_reject_unknown_names():
    c = apply_overrides(get_preset("netvladpp-paper"), {"lr": "5e-4", "batch_size": "32", "betas": "0.8,0.9",
                                                        "head_options": '{"dropout": 0.1}'})
    assert (c.lr, c.batch_size, c.betas) == (5e-4, 32, (0.8, 0.9))
    assert c.head_options == {"dropout": 0.1}
    # one head setting, parsed into the type of the head config's field (`int | None`)
    assert apply_overrides(c, {"head_options.projection_dim": "none"}).head_options == {"dropout": 0.1,
                                                                                       "projection_dim": None}
    assert get_preset("netvladpp-paper").lr == 1e-3  # presets are not mutated
    with pytest.raises(KeyError, match="unknown training setting 'learning_rate'"):
        apply_overrides(c, {"learning_rate": "1"})
    with pytest.raises(ValueError, match="sampling must be one of chunks, events"):
        apply_overrides(c, {"sampling": "random"})
    with pytest.raises(ValueError, match="does not have: not_a_field"):
        head_config_for(apply_overrides(c, {"head_options": {"not_a_field": 1}}), 512, 17, 30)


def test_head_config_for_maps_the_run_onto_the_heads_family_config():
    c = apply_overrides(get_preset("netvladpp-paper"), {"head_options.clusters": "16", "head_options.projection_dim": "none",
                                                        "dropout": "0.2"})
    head = head_config_for(c, 100, 3, 12)
    assert head == PoolingHeadConfig(kind="netvlad++", input_dim=100, num_classes=3, window_frames=12, clusters=16,
                                     projection_dim=None, dropout=0.2, assignment_bias=False)
    baidu = apply_overrides(get_preset("baidu-transformer"), {"head_options": '{"num_layers": 2}'})
    head = head_config_for(baidu, 64, 17, 7)
    assert type(head) is TransformerHeadConfig and head.num_layers == 2 and head.dropout == baidu.dropout
    # a setting of the other family, or one the run takes from its data, is refused
    with pytest.raises(ValueError, match="TransformerHeadConfig.*does not have: clusters"):
        head_config_for(apply_overrides(baidu, {"head_options": '{"clusters": 8}'}), 64, 17, 7)
    with pytest.raises(ValueError, match="cannot set window_frames"):
        head_config_for(apply_overrides(c, {"head_options": '{"window_frames": 8}'}), 64, 17, 7)


def test_config_json_round_trip():
    c = apply_overrides(get_preset("baidu-transformer"), {"seed": 7})
    assert TrainConfig.from_json(c.to_json()) == c


def test_stop_rule_matches_the_peers():
    c = get_preset("netvladpp-paper")
    lr = 1e-3
    for _ in range(5):  # 1e-3 -> 1e-8 after five plateaus, in float arithmetic
        lr *= c.plateau_factor
    assert not should_stop(c, 1e-7, 10)
    assert not should_stop(c, lr, 9)  # at the floor but still patient
    assert should_stop(c, lr, 10)
    assert not should_stop(apply_overrides(c, {"scheduler": "none"}), lr, 10)


def old_run_config(config: TrainConfig, projection_dim, clusters) -> dict:
    """`config` as train_config.json stored it when projection_dim and clusters were run fields."""
    stored = config.to_json()
    stored["head_options"] = {k: v for k, v in stored["head_options"].items() if k not in ("projection_dim", "clusters")}
    return {**stored, "projection_dim": projection_dim, "clusters": clusters}


def test_an_old_run_config_with_top_level_head_settings_loads_into_the_same_head_config():
    # an old netvladpp-paper run trained with --projection-dim 8 --clusters 4
    old = old_run_config(get_preset("netvladpp-paper"), 8, 4)
    assert old["head_options"] == {"assignment_bias": False}
    loaded = TrainConfig.from_json(old)
    assert loaded.head_options == {"projection_dim": 8, "clusters": 4, "assignment_bias": False}
    assert head_config_for(loaded, 100, 17, 12) == PoolingHeadConfig(
        kind="netvlad++", input_dim=100, num_classes=17, window_frames=12, clusters=4, projection_dim=8,
        dropout=0.4, assignment_bias=False)
    # the same run started now: equal configs, so a resume with the same flags changes nothing
    assert loaded == apply_overrides(get_preset("netvladpp-paper"), {"head_options.projection_dim": 8,
                                                                     "head_options.clusters": 4})
    # head_options were applied after the run fields: they keep winning
    assert TrainConfig.from_json({**old, "head_options": {"clusters": 16}}).head_options == {"clusters": 16,
                                                                                            "projection_dim": 8}
    # heads without these settings ignored them, and still do
    transformer = old_run_config(get_preset("baidu-transformer"), None, 64)
    assert TrainConfig.from_json(transformer) == get_preset("baidu-transformer")
    assert TrainConfig.from_json(transformer).head_options == {}


def test_a_head_setting_the_head_lacks_or_cannot_parse_is_named():
    with pytest.raises(SettingsError, match="the transformer head has no setting 'clusters'") as info:
        apply_overrides(get_preset("baidu-transformer"), {"head_options.clusters": "8"})
    assert info.value.setting == "head_options.clusters"
    with pytest.raises(SettingsError, match="invalid literal for int") as info:
        apply_overrides(get_preset("netvladpp-paper"), {"head_options.clusters": "many"})
    assert info.value.setting == "head_options.clusters"
    with pytest.raises(SettingsError, match="clusters must be even") as info:
        head_config_for(apply_overrides(get_preset("netvladpp-paper"), {"head_options.clusters": 5}), 64, 17, 8)
    assert info.value.setting == "head_options.clusters"


def test_pooling_presets_name_their_head_settings_and_the_others_none():
    for name, preset in PRESETS.items():
        pooling = isinstance(head_config_for(preset, 512, 17, 30), PoolingHeadConfig)
        assert ("projection_dim" in preset.head_options) == pooling, name
    assert get_preset("maxpool-soccernet-v2").head_options == {"projection_dim": None}  # PCA512 features pooled


def test_the_demo_trains_the_papers_netvladpp_head():
    from soccerspot.pipeline.demo import DemoConfig, train_config

    head = head_config_for(train_config(DemoConfig()), 368, 17, 20)
    assert head == PoolingHeadConfig(kind="netvlad++", input_dim=368, num_classes=17, window_frames=20, clusters=64,
                                     projection_dim=512, dropout=0.4, assignment_bias=False, normalize_input=True)


def test_a_preset_switched_to_another_head_keeps_only_the_settings_that_head_has():
    pooling = get_preset("netvladpp-paper")
    switched = with_head(pooling, "transformer")
    assert switched.head_options == {} and pooling.head_options["clusters"] == 64  # the preset is not changed
    config = apply_overrides(switched, {"head": "transformer"})
    assert type(head_config_for(config, 64, 17, 30)) is TransformerHeadConfig
    assert with_head(pooling, "netrvlad++").head_options == pooling.head_options  # both have every setting
    assert with_head(pooling, "no-such-head") is pooling  # left for validation to name

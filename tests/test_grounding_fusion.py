"""Baidu's replay grounding post-processing (Zhou et al. 2021, arXiv 2106.14447, 4.3.2): fusion with
spotting results, normalisation and the NMS merge of several methods, on hand-worked examples; old
checkpoints' fusion fields; `soccerspot ground --fusion` and `--merge-with`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from grounding_helpers import FEATURES, planted_season
from soccerspot.data.cameras import DETECTIONS_FILE, Replay, ReplayLink, read_replay_detections
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.data.labels import GamePredictions, Prediction, write_predictions
from soccerspot.errors import SettingsError
from soccerspot.models.heads import create_head, head_config, head_config_from_json
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.grounding import (
    BAIDU_FUSION, GroundingOptions, HalfTrack, fusion_detections, ground_halves, merged_detections, nms, normalised,
)

REPLAY = Replay(1, 150, 158, ReplayLink("Goal", 1, "02:00", 120000))  # T = 150 s: the window is [108, 150] s


def test_the_defaults_are_the_reports_values():
    options = GroundingOptions()
    assert options.fusion and options.nms_window_s == 25.0 and options.keep_before_s == 100.0
    assert (options.fusion_span_s, options.fusion_min_score, options.fusion_nearest_weight,
            options.fusion_second_weight) == (42.0, 0.02, 1.25, 0.8)
    assert BAIDU_FUSION == {"fusion_span_s": 42.0, "fusion_min_score": 0.02, "fusion_nearest_weight": 1.25,
                            "fusion_second_weight": 0.8}


def test_fusion_takes_the_nearest_and_second_nearest_of_the_three_classes_inside_the_window():
    spots = [
        Prediction(1, 150000, "Goal", 0.6),  # at T: distance 0, the nearest (T is inside)
        Prediction(1, 108000, "Foul", 0.9),  # at T - W: inside, distance 42
        Prediction(1, 107999, "Goal", 0.99),  # just before T - W: outside
        Prediction(1, 150001, "Goal", 0.99),  # just after T: outside (the action comes before its replay)
        Prediction(1, 140000, "Shots off target", 0.02),  # not above S = 0.02
        Prediction(1, 130000, "Shots on target", 0.95),  # not one of the three classes
        Prediction(2, 145000, "Goal", 0.9),  # the other half
        Prediction(1, 120000, "Shots off target", 0.5),  # distance 30: the second-nearest
    ]
    found = fusion_detections(spots, REPLAY, GroundingOptions())
    assert found == [(150.0, pytest.approx(0.6 * 1.25)), (120.0, pytest.approx(0.5 * 0.8))]
    assert fusion_detections(spots, REPLAY, GroundingOptions(fusion=False)) == []
    # without the two nearest, the Foul at T - W is the nearest (x beta1) and nothing is second
    assert fusion_detections([spots[1], spots[2]], REPLAY, GroundingOptions()) == [(108.0, pytest.approx(0.9 * 1.25))]


def test_fusion_threshold_is_strict_and_its_numbers_are_settings():
    spots = [Prediction(1, 140000, "Goal", 0.021), Prediction(1, 145000, "Foul", 0.02)]
    assert fusion_detections(spots, REPLAY, GroundingOptions()) == [(140.0, pytest.approx(0.021 * 1.25))]
    options = GroundingOptions(fusion_span_s=10.0, fusion_min_score=0.0, fusion_nearest_weight=2.0,
                               fusion_second_weight=0.5)
    assert fusion_detections(spots, REPLAY, options) == [(145.0, pytest.approx(0.04)), (140.0, pytest.approx(0.0105))]
    assert fusion_detections(spots, REPLAY, GroundingOptions(fusion_span_s=9.0)) == []  # 140 s < 150 - 9


def test_equal_distances_go_to_the_higher_confidence_first():
    spots = [Prediction(1, 140000, "Goal", 0.3), Prediction(1, 140000, "Foul", 0.7)]
    assert fusion_detections(spots, REPLAY, GroundingOptions()) == [
        (140.0, pytest.approx(0.7 * 1.25)), (140.0, pytest.approx(0.3 * 0.8))]


def test_normalisation_maps_a_methods_game_to_zero_one():
    per_replay = [[(1.0, 0.2), (2.0, 0.6)], [(3.0, 1.0)], []]
    assert normalised(per_replay) == [[(1.0, 0.0), (2.0, pytest.approx(0.5))], [(3.0, 1.0)], []]
    assert normalised([[(1.0, 0.4)], [(2.0, 0.4)]]) == [[(1.0, 1.0)], [(2.0, 1.0)]]
    assert normalised([[], []]) == [[], []]


def test_nms_window_edges():
    # window 25 s: a kept detection suppresses those less than 12.5 s from it
    assert nms([(0.0, 1.0), (12.5, 0.5), (12.4, 0.6)], 25.0) == [(0.0, 1.0), (12.5, 0.5)]


def test_merge_normalises_each_method_over_the_game_then_nms():
    replays = [REPLAY, Replay(1, 220, 228, ReplayLink("Foul", 1, "03:20", 200000))]
    first = [[(100.0, 0.8), (130.0, 0.4)], [(200.0, 0.2)]]  # normalised: 100 -> 1, 130 -> 2/3, 200 -> 0
    second = [[(105.0, 0.1), (141.0, 0.5)], [(210.0, 0.3)]]  # normalised: 105 -> 0, 141 -> 1, 210 -> 0.5
    options = GroundingOptions(nms_window_s=25.0, rank_decay=1.0)
    merged = merged_detections([first, second], replays, options, normalise=True)
    # replay 1: 100 (1) and 141 (1) kept; 130 is 11 s from 141, 105 is 5 s from 100: suppressed
    assert merged[0].detections == [(100.0, 1.0), (141.0, 1.0)]
    assert merged[1].detections == [(210.0, pytest.approx(0.5))]  # 200 (0) is 10 s from 210
    assert (merged[0].half, merged[0].start, merged[0].end) == (1, 150, 158)
    decayed = merged_detections([first, second], replays, GroundingOptions(rank_decay=0.5), normalise=True)
    assert decayed[0].detections == [(100.0, 1.0), (141.0, 0.5)]  # ties go to the earlier time
    plain = merged_detections([first], replays, options, normalise=False)
    assert plain[0].detections == [(100.0, 0.8), (130.0, 0.4)]


def orthogonal_track(rows: int = 400) -> HalfTrack:
    """Every row e1 except the replay's (150-158 s: e2): the similarity baseline scores each candidate
    (cosine 0 + 1) / 2 = 0.5."""
    array = np.zeros((rows, 4), dtype=np.float32)
    array[:, 0] = 1.0
    array[300:316] = [0.0, 1.0, 0.0, 0.0]
    return HalfTrack(array, np.arange(rows) * 0.5)


def test_ground_halves_adds_the_fused_spot_and_normalises_the_game():
    track = orthogonal_track()
    spots = [Prediction(1, 140000, "Goal", 0.8)]
    options = GroundingOptions(rank_decay=1.0)
    plain = ground_halves({1: track}, [REPLAY], options)[0].detections
    assert plain and all(score == pytest.approx(0.5) for _, score in plain)  # no spotting results: no fusion
    fused = ground_halves({1: track}, [REPLAY], options, spots=spots)[0].detections
    best = max(fused, key=lambda d: d[1])
    assert best == (140.0, 1.0)  # 0.8 x 1.25 = 1.0, the game's highest: 1 after normalisation
    assert sorted(score for _, score in fused)[:-1] == [0.0] * (len(fused) - 1)  # the 0.5s: the game's lowest
    off = ground_halves({1: track}, [REPLAY], GroundingOptions(rank_decay=1.0, fusion=False), spots=spots)
    assert off[0].detections == plain
    merged = ground_halves({1: track}, [REPLAY], options, models=[None, None])[0].detections  # two equal methods
    assert [t for t, _ in merged] == [t for t, _ in plain] and all(s == 1.0 for _, s in merged)


def test_old_checkpoint_fusion_fields_are_dropped_and_bad_values_refused():
    config = head_config("baidu-grounding", input_dim=16, num_classes=17, window_frames=20, replay_frames=8)
    stored = config.to_json()
    for name in ("fusion", "fusion_span_s", "fusion_min_score", "fusion_nearest_weight", "fusion_second_weight",
                 "keep_before_anchor"):
        stored.pop(name)
    stored.update(fusion_window_s=0.0, fusion_threshold=0.5, fusion_beta1=1.0, fusion_beta2=0.0)  # as written before
    loaded = head_config_from_json(stored)
    assert loaded.fusion and loaded.fusion_span_s == 42.0 and loaded.keep_before_anchor == "end"
    assert type(loaded).from_json(stored).fusion_nearest_weight == 1.25
    from soccerspot.pipeline.training.config import TrainConfig, head_config_for

    run = TrainConfig.from_json({"head": "baidu-grounding", "head_options": {"fusion_window_s": 4.0, "model_dim": 32}})
    assert run.head_options == {"model_dim": 32}
    assert head_config_for(run, 16, 17, 20).model_dim == 32
    for name, value in (("fusion_span_s", 0.0), ("fusion_min_score", 1.5), ("fusion_second_weight", -1.0),
                        ("keep_before_anchor", "middle")):
        with pytest.raises(SettingsError, match=name):
            head_config("baidu-grounding", input_dim=16, num_classes=17, window_frames=20, **{name: value})


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_ground_command_fusion_and_merge_flags(tmp_path, capsys):
    from soccerspot.pipeline.inference.checkpoints import save_checkpoint

    game = tmp_path / planted_season(tmp_path, 1, "test")[0]
    out = tmp_path / "out.json"
    code, _, err = run_cli(capsys, "ground", game, "--model", "similarity", "--features", FEATURES, "--out", out)
    assert code == 0 and PREDICTIONS_FILE in err and "--fusion off" in err  # on by default: says it had no results
    plain = read_replay_detections(out)
    code, _, err = run_cli(capsys, "ground", game, "--model", "similarity", "--features", FEATURES, "--out", out,
                           "--overwrite", "--fusion", "off")
    assert code == 0 and "warning" not in err and read_replay_detections(out) == plain
    replay = plain[0]
    write_predictions(game / PREDICTIONS_FILE, GamePredictions(
        url="x", predictions=[Prediction(replay.half, int(replay.start * 1000) - 3000, "Goal", 0.9)]))
    for fusion in (None, "baidu", "42,0.02,1.25,0.8"):
        flags = [] if fusion is None else ["--fusion", fusion]
        code, _, err = run_cli(capsys, "ground", game, "--model", "similarity", "--features", FEATURES, "--out", out,
                               "--overwrite", *flags)
        assert code == 0 and "warning" not in err
        first = read_replay_detections(out)[0]
        assert max(first.detections, key=lambda d: d[1]) == (replay.start - 3.0, 1.0)  # 0.9 x 1.25, normalised
    code, _, err = run_cli(capsys, "ground", game, "--model", "similarity", "--features", FEATURES, "--out", out,
                           "--overwrite", "--fusion", "42,0.02,-1,0.8")
    assert code == 2 and "--fusion 42,0.02,-1,0.8" in err
    code, _, err = run_cli(capsys, "ground", game, "--model", "similarity", "--features", FEATURES, "--out", out,
                           "--overwrite", "--fusion", "off", "--merge-with", "similarity")
    merged = read_replay_detections(out)
    assert code == 0 and [[t for t, _ in r.detections] for r in merged] == [[t for t, _ in r.detections] for r in plain]
    spotting = create_head(head_config("maxpool", input_dim=16, num_classes=2, window_frames=10))
    save_checkpoint(tmp_path / "spotting", spotting, spotting.config, classes=["Goal", "Foul"], feature_settings=None,
                    fps=2.0)
    code, _, err = run_cli(capsys, "ground", game, "--model", "similarity", "--features", FEATURES, "--out", out,
                           "--overwrite", "--merge-with", tmp_path / "spotting")
    assert code == 1 and "grounding head" in err
    wide = create_head(head_config("baidu-grounding", input_dim=32, num_classes=17, window_frames=20, replay_frames=8))
    narrow = create_head(head_config("baidu-grounding", input_dim=16, num_classes=17, window_frames=20, replay_frames=8))
    for name, model in (("wide", wide), ("narrow", narrow)):
        save_checkpoint(tmp_path / name, model, model.config, classes=[f"c{i}" for i in range(17)],
                        feature_settings=None, fps=2.0)
    code, _, err = run_cli(capsys, "ground", game, "--model", tmp_path / "narrow", "--features", FEATURES, "--out", out,
                           "--overwrite", "--merge-with", tmp_path / "wide")
    assert code == 1 and "same features" in err
    code, _, err = run_cli(capsys, "ground", game, "--model", tmp_path / "narrow", "--features", FEATURES, "--out", out,
                           "--overwrite", "--merge-with", "similarity", "--fusion", "off")
    assert code == 0 and len(read_replay_detections(out)) == len(plain)


def test_an_old_checkpoint_folder_still_grounds(tmp_path, capsys):
    from soccerspot.pipeline.inference.checkpoints import save_checkpoint

    game = tmp_path / planted_season(tmp_path, 1, "test")[0]
    model = create_head(head_config("baidu-grounding", input_dim=16, num_classes=17, window_frames=20, replay_frames=8))
    save_checkpoint(tmp_path / "ckpt", model, model.config, classes=[f"c{i}" for i in range(17)],
                    feature_settings=None, fps=2.0)
    config_path = tmp_path / "ckpt" / "config.json"
    config = json.loads(config_path.read_text())
    for name in ("fusion", "fusion_span_s", "fusion_min_score", "fusion_nearest_weight", "fusion_second_weight",
                 "keep_before_anchor"):
        config["head"].pop(name)
    config["head"].update(fusion_window_s=0.0, fusion_threshold=0.5, fusion_beta1=1.0, fusion_beta2=0.0)
    config_path.write_text(json.dumps(config))
    code, out, err = run_cli(capsys, "ground", game, "--model", tmp_path / "ckpt", "--features", FEATURES,
                             "--fusion", "off")
    assert code == 0 and "replays grounded" in out and (game / DETECTIONS_FILE).is_file()

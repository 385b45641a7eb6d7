"""Synthetic ball actions: the labels are the truth of the drawn ball and players, every class is played, the
teams keep their sides, the written Labels-ball.json is the official format and scores 1.0 against itself,
and the action spotting demo's render is unchanged."""
from __future__ import annotations

import hashlib
import json

import av
import numpy as np
import pytest

from soccerspot.data.classes import CLASS_NAMES_BALL, TEAMS_BALL
from soccerspot.data.games import LABELS_FILE_BALL
from soccerspot.data.labels import GamePredictions, Prediction, read_labels, write_labels, write_predictions
from soccerspot.data.synthetic.ball_play import FPS, attacked_goal_x, plan_ball_game, team_of
from soccerspot.data.synthetic.ball_render import (
    BALL_TEAM_PALETTE, RIGHT_KEEPER, ball_look, ball_pixel, build_scene, render_ball_frame,
)
from soccerspot.data.synthetic.ball_season import (
    BALL_SPLITS, BallSeasonConfig, ball_game_labels, ball_game_seed, render_ball_game,
)
from soccerspot.data.synthetic.broadcast import BroadcastConfig, iter_frames, make_game, plan_game, plan_shots
from soccerspot.data.synthetic.scenes import GOAL_HALF_WIDTH, KEEPER, PITCH_LENGTH, PITCH_WIDTH, build_look
from soccerspot.errors import SettingsError
from soccerspot.pipeline.cli import main

THREE_MINUTES = 3 * 60 * FPS


@pytest.fixture(scope="module")
def games():
    """(seed, plan, scene) of three 3-minute games."""
    out = []
    for seed in (0, 1, 2):
        plan = plan_ball_game(seed, THREE_MINUTES)
        out.append((seed, plan, build_scene(plan, seed)))
    return out


def velocity_changes(ball: np.ndarray, tolerance: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Frames where the ball's ground velocity (metres a frame, forward differences) differs from the previous
    frame's, and by how much (metres a second)."""
    velocity = np.diff(ball[:, :2], axis=0)  # velocity[f]: from frame f to f + 1
    change = np.linalg.norm(np.diff(velocity, axis=0), axis=1) * FPS  # at frame f + 1
    frames = np.flatnonzero(change > tolerance) + 1
    return frames, change


def test_ball_velocity_changes_at_every_labelled_frame_and_only_there_or_at_a_cut(games):
    for seed, plan, scene in games:
        changes, size = velocity_changes(scene.ball)  # the ball the renderer draws
        labelled = {a.frame for a in plan.actions}
        cuts = set(plan.cuts)
        assert labelled and cuts, seed
        assert labelled.isdisjoint(cuts) and all(cut - 1 not in labelled for cut in cuts)
        jumps = cuts | {cut - 1 for cut in cuts}  # a cut moves the ball between two frames: two differences change
        assert set(changes.tolist()) == labelled | jumps, seed
        # a clear change: at least 0.5 m/s
        assert min(size[f - 1] for f in labelled) > 0.5, seed
        live = plan.live()
        for cut in cuts:  # the dead ball is moved only while it is dead
            assert not live[cut - 1] and not live[cut], (seed, cut)


def test_every_class_is_played_and_each_split_of_the_default_season_has_all(games):
    for seed in range(4):
        plan = plan_ball_game(seed, 8 * 60 * FPS)
        assert {a.label for a in plan.actions} == set(CLASS_NAMES_BALL), seed
    config = BallSeasonConfig()
    for split in BALL_SPLITS:
        labels = {a.label for index in range(config.games(split))
                  for a in plan_ball_game(ball_game_seed(config, split, index), int(config.minutes * 60 * FPS)).actions}
        assert labels == set(CLASS_NAMES_BALL), split


def test_each_action_is_touched_by_a_player_of_its_team(games):
    for seed, plan, scene in games:
        for action in plan.actions:
            if action.label in ("OUT", "GOAL"):
                assert action.player is None
                continue
            assert team_of(action.player) == action.team, action
            feet = scene.players[action.frame, action.player]
            assert np.linalg.norm(feet - scene.ball[action.frame, :2]) < 1.0, action


def test_teams_keep_their_sides_and_attack_the_other_goal(games):
    for seed, plan, scene in games:
        left_keeper, right_keeper = scene.players[:, 0, 0], scene.players[:, 11, 0]
        assert left_keeper.max() < 30 and right_keeper.min() > PITCH_LENGTH - 30, seed
        assert (scene.players[:, 1:11, 0].mean(axis=1) < scene.players[:, 12:22, 0].mean(axis=1)).mean() > 0.9
        for action in plan.actions:
            goal_x = attacked_goal_x(action.team)
            assert goal_x == (PITCH_LENGTH if action.team == TEAMS_BALL[0] else 0.0)
            if action.label == "SHOT":  # toward the goal the team attacks
                dx = scene.ball[action.frame + 1, 0] - scene.ball[action.frame, 0]
                assert np.sign(dx) == np.sign(goal_x - PITCH_LENGTH / 2), action
            if action.label == "GOAL":  # on the goal line, between the posts, under the bar
                x, y, z = scene.ball[action.frame]
                assert x == pytest.approx(goal_x) and abs(y - PITCH_WIDTH / 2) < GOAL_HALF_WIDTH and z < 2.44


def test_the_ball_and_the_actors_shirt_are_on_screen_at_each_action(games):
    seed, plan, scene = games[0]
    look = ball_look(seed, 398, 224)
    shown = 0
    for action in plan.actions:
        x, y, lift = ball_pixel(look, scene, action.frame)
        assert 0 <= x < look.width and 0 <= y - lift < look.height, action
        if action.player is None or shown >= 40:
            continue
        if action.player % 11 == 0:
            colour = KEEPER if action.team == TEAMS_BALL[0] else RIGHT_KEEPER
        else:
            colour = look.home if action.team == TEAMS_BALL[0] else look.away
        image = render_ball_frame(look, scene, action.frame)
        window = image[max(0, int(y) - 25): int(y) + 4, max(0, int(x) - 12): int(x) + 13].astype(int)
        assert (np.abs(window - np.array(colour)).max(axis=2) == 0).sum() >= 3, action
        shown += 1
    assert shown == 40


def test_ball_game_video_and_labels_are_the_official_format(tmp_path):
    labels = render_ball_game(tmp_path / "game", seed=5, config=BroadcastConfig(fps=25.0, duration_s=12.0))
    with av.open(str(tmp_path / "game" / "1_224p.mkv")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.width, stream.codec_context.height) == ("h264", 398, 224)
        assert float(stream.average_rate) == pytest.approx(25.0)
        assert sum(1 for _ in container.decode(stream)) == 12 * 25
    raw = json.loads((tmp_path / "game" / LABELS_FILE_BALL).read_text())
    assert raw["annotations"] and set(raw) >= {"UrlLocal", "annotations"}
    for entry in raw["annotations"]:
        assert set(entry) == {"gameTime", "label", "position", "team", "visibility"}
        assert isinstance(entry["position"], str) and int(entry["position"]) % 40 == 0
        minutes, seconds = divmod(int(entry["position"]) // 1000, 60)
        assert entry["gameTime"] == f"1 - {minutes:02d}:{seconds:02d}"
        assert entry["label"] in CLASS_NAMES_BALL and entry["team"] in TEAMS_BALL and entry["visibility"] == "visible"
    read = read_labels(tmp_path / "game" / LABELS_FILE_BALL, CLASS_NAMES_BALL)
    assert read.events == labels.events
    assert [e.position_ms for e in labels.events] == [a.frame * 40 for a in plan_ball_game(5, 12 * 25).actions]
    with pytest.raises(ValueError, match="25 fps"):
        render_ball_game(tmp_path / "other", seed=5, config=BroadcastConfig(fps=10.0, duration_s=2.0))


def test_labels_score_one_against_themselves_through_evaluate(tmp_path):
    labels_root, predictions_root = tmp_path / "labels", tmp_path / "predictions"
    games = [f"synthetic_ball/season/test-game-{index:02d}" for index in range(2)]
    for index, game in enumerate(games):
        labels = ball_game_labels(plan_ball_game(100 + index, 8 * 60 * FPS), url=game)
        (labels_root / game).mkdir(parents=True)
        write_labels(labels_root / game / LABELS_FILE_BALL, labels)
        predictions = [Prediction(1, e.position_ms, e.label, 0.9, e.team) for e in labels.events]
        write_predictions(predictions_root / game / "results_spotting.json", GamePredictions(game, predictions), framerate=25)
    (tmp_path / "test.txt").write_text("\n".join(games) + "\n")
    assert main(["evaluate", "--task", "ball", "--labels", str(labels_root), "--predictions", str(predictions_root),
                 "--split", str(tmp_path / "test.txt"), "--json", str(tmp_path / "score.json")]) == 0
    score = json.loads((tmp_path / "score.json").read_text())
    assert score["mAP"] == pytest.approx(1.0) and score["mAP_no_team"] == pytest.approx(1.0)
    assert len(score["mAP_per_class"]) == 12 and min(score["mAP_per_class"]) == pytest.approx(1.0)


@pytest.mark.slow
def test_render_command_writes_a_season_that_evaluates(tmp_path, capsys):
    out = tmp_path / "season"
    assert main(["render", "--task", "ball", "--out", str(out), "--train-games", "1", "--valid-games", "0",
                 "--test-games", "1", "--minutes", "0.5", "--width", "160", "--height", "96", "--workers", "1",
                 "--no-progress"]) == 0
    test_game = (out / "test.txt").read_text().split()
    assert test_game == ["synthetic_ball/season/test-game-00"] and (out / "valid.txt").read_text() == ""
    labels = read_labels(out / test_game[0] / LABELS_FILE_BALL, CLASS_NAMES_BALL)
    predictions = [Prediction(1, e.position_ms, e.label, 1.0, e.team) for e in labels.events]
    write_predictions(tmp_path / "pred" / test_game[0] / "results_spotting.json", GamePredictions("x", predictions), 25)
    assert main(["evaluate", "--task", "ball", "--labels", str(out), "--predictions", str(tmp_path / "pred"),
                 "--split", str(out / "test.txt"), "--json", str(tmp_path / "s.json")]) == 0
    score = json.loads((tmp_path / "s.json").read_text())
    played = {e.label for e in labels.events}
    per_class = dict(zip(CLASS_NAMES_BALL, score["mAP_per_class_no_team"]))
    assert all(per_class[c] == pytest.approx(1.0) for c in played)
    video = out / test_game[0] / "1_224p.mkv"
    with av.open(str(video)) as container:
        assert container.streams.video[0].codec_context.width == 160
    before = video.stat().st_mtime_ns
    assert main(["render", "--task", "ball", "--out", str(out), "--train-games", "1", "--valid-games", "0",
                 "--test-games", "1", "--minutes", "0.5", "--width", "160", "--height", "96", "--no-progress"]) == 0
    assert video.stat().st_mtime_ns == before  # a rendered game is kept
    assert main(["render", "--task", "ball", "--out", str(out), "--train-games", "0", "--valid-games", "0",
                 "--test-games", "1", "--minutes", "0.5", "--width", "160", "--height", "96", "--seed", "3",
                 "--no-progress"]) == 0
    assert video.stat().st_mtime_ns != before  # other settings: rendered again
    assert read_labels(out / test_game[0] / LABELS_FILE_BALL).events != labels.events
    assert main(["render", "--task", "ball", "--out", str(out), "--minutes", "0.1"]) == 2  # too short: one line
    assert "minutes" in capsys.readouterr().err


# The action spotting demo's render, pinned: computed with main's code before the ball season existed (the
# frames and labels are numpy and JSON; the videos' bytes also depend on the PyAV / libx264 build).
PINNED_SPOTTING_GAME = {
    "frames": "7bc09bd137aa55ad0a3bf54e4f3d43e20d6d636328a08bd3f36c249ca4fdf2e3",
    "Labels-v2.json": "6783471c7c66e8836e6a0c2f346209545ff162515b00f81d7abc2120d924e38c",
    "1_224p.mkv": "658fd4c01e3c9ce33d2bc889c65bfad9aa05fd132f52a39b54ac9b8de58c1b51",
    "2_224p.mkv": "1b764170c2f5ccd515c124576277f04129bd16182ac35ac5768ea4b2a801a26a",
}
PINNED_WITH_AV = "18.1.0"


def test_the_action_spotting_render_is_unchanged(tmp_path):
    config = BroadcastConfig(duration_s=8.0)
    plan = plan_game(tmp_path / "g", seed=11, config=config)
    frames = hashlib.sha256()
    for half in plan.halves:
        look = build_look(half.seed, config.width, config.height)
        shots = plan_shots(half.events, config.duration_s, half.seed)
        for image in iter_frames(shots, half.events, look, config.fps, config.duration_s):
            frames.update(image.tobytes())
    assert frames.hexdigest() == PINNED_SPOTTING_GAME["frames"]
    make_game(tmp_path / "g", seed=11, config=config)
    digest = lambda name: hashlib.sha256((tmp_path / "g" / name).read_bytes()).hexdigest()  # noqa: E731
    assert digest("Labels-v2.json") == PINNED_SPOTTING_GAME["Labels-v2.json"]
    if av.__version__ != PINNED_WITH_AV:
        pytest.skip(f"video bytes pinned with PyAV {PINNED_WITH_AV}, this is {av.__version__} (frames and labels checked)")
    assert digest("1_224p.mkv") == PINNED_SPOTTING_GAME["1_224p.mkv"]
    assert digest("2_224p.mkv") == PINNED_SPOTTING_GAME["2_224p.mkv"]


def test_season_config_is_checked():
    for config, field in ((BallSeasonConfig(minutes=0.1), "minutes"), (BallSeasonConfig(width=397), "width"),
                          (BallSeasonConfig(valid_games=-1), "valid_games"),
                          (BallSeasonConfig(train_games=0, valid_games=0, test_games=0), "test_games")):
        with pytest.raises(SettingsError) as caught:
            config.validate()
        assert caught.value.setting == field


def test_team_shirts_differ_from_each_other_the_keepers_and_the_ball():
    from soccerspot.data.synthetic.scenes import WHITE

    for seed in range(20):
        look = ball_look(seed, 398, 224)
        assert look.home in BALL_TEAM_PALETTE and look.away in BALL_TEAM_PALETTE
        shirts = (look.home, look.away, KEEPER, RIGHT_KEEPER, WHITE)
        for i, a in enumerate(shirts):
            for b in shirts[i + 1:]:
                assert max(abs(p - q) for p, q in zip(a, b)) >= 100, (seed, a, b)


def test_each_class_has_its_own_kind_of_ball_flight(games):
    """What a model can learn each class from: the ball's speed, arc and place just after the label."""
    speed, apex, start = {}, {}, {}
    for _, plan, _ in games:
        segments = {segment.start: segment for segment in plan.segments}
        for action in plan.actions:
            segment = segments[action.frame]
            speed.setdefault(action.label, []).append(np.hypot(segment.vx, segment.vy))
            apex.setdefault(action.label, []).append(max(segment.position(f)[2] for f in range(segment.start, segment.end)))
            start.setdefault(action.label, []).append((segment.x, segment.y, segment.z, action.team))
    median = {label: float(np.median(values)) for label, values in speed.items()}
    assert median["SHOT"] > 20 > median["CROSS"] > median["PASS"] > median["DRIVE"]
    assert median["DRIVE"] < 7 and median["OUT"] < 6 and median["GOAL"] < 6  # dead balls roll slowly
    for label in ("PASS", "DRIVE", "PLAYER SUCCESSFUL TACKLE"):
        assert max(apex[label]) == 0.0, label  # along the ground
    for label in ("HIGH PASS", "CROSS", "THROW IN"):
        assert np.median(apex[label]) > 3.0, label  # lofted
    for x, y, z, team in start["THROW IN"]:
        assert y in (0.0, PITCH_WIDTH) and z == pytest.approx(2.2)  # from the touchline, over the head
    for x, y, z, team in start["CROSS"]:
        assert abs(y - PITCH_WIDTH / 2) > 13 and abs(attacked_goal_x(team) - x) < 36  # wide, near the goal it attacks

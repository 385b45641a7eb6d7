"""Drawing a planned ball game (`data.synthetic.ball_play.BallPlan`) as the main broadcast camera shows it:
the wide side view of the pitch (the left team's goal on the left of the picture), following the ball, cutting
to each restart; 22 players in their two teams' colours (`ball_look`; each keeper in his own), the ball with its
shadow on the grass (the ball drawn higher above its shadow, and larger, the higher it flies), the score.

Players stand at their posts (`ball_play.formation_position`, shifted with the play and swaying), and run to
the ball for each of their touches: at a touch's frames a player's feet are just behind the ball (toward his
own goal), and he blends between his post and there over `RUN_SECONDS` before and after.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from soccerspot.data.synthetic.ball_play import (
    FPS, PLAYERS_PER_TEAM, BallPlan, formation_position, team_of,
)
from soccerspot.data.synthetic.draw import fill_circle, fill_ellipse
from soccerspot.data.synthetic.scenes import (
    KEEPER, WHITE, Look, build_look, crop_view, draw_player, draw_scoreboard,
)
from soccerspot.data.classes import TEAMS_BALL

RUN_SECONDS = 1.6  # how long a player takes to run from his post to a touch (and back)
FEET_BEHIND_BALL = 0.6  # metres between a touching player's feet and the ball, toward his own goal
CAMERA_SMOOTHING_SECONDS = 0.5  # the camera follows the ball smoothed over about this long
CENTRE_SMOOTHING_SECONDS = 2.0  # the formation follows the ball smoothed over about this long
SHADOW: tuple[int, int, int] = (25, 70, 30)
RIGHT_KEEPER: tuple[int, int, int] = (190, 250, 40)  # lime: the left team's keeper wears KEEPER orange
# Outfield shirts of the ball games: none white (the ball is), each pair far apart (`team_colours`).
BALL_TEAM_PALETTE: list[tuple[int, int, int]] = [
    (30, 70, 220),  # blue
    (140, 20, 45),  # maroon
    (110, 190, 250),  # sky blue
    (150, 150, 150),  # grey
    (20, 20, 90),  # navy
    (235, 120, 190),  # pink
]


def _pieces(frames: int, cuts: list[int]) -> list[tuple[int, int]]:
    bounds = [0] + sorted(c for c in cuts if 0 < c < frames) + [frames]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def smooth_within(values: np.ndarray, cuts: list[int], seconds: float) -> np.ndarray:
    """Gaussian smoothing along frames (sigma `seconds`), never across a cut; edges held."""
    sigma = seconds * FPS
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    out = np.empty_like(values)
    for a, b in _pieces(len(values), cuts):
        padded = np.concatenate([np.repeat(values[a:a + 1], radius, 0), values[a:b], np.repeat(values[b - 1:b], radius, 0)])
        for column in range(values.shape[1]):
            out[a:b, column] = np.convolve(padded[:, column], kernel, mode="valid")
    return out


@dataclass
class BallScene:
    """Everything drawn at each frame, precomputed: the ball (x, y, z), the camera's pitch point and the
    22 players' feet (metres)."""

    ball: np.ndarray  # (frames, 3)
    camera: np.ndarray  # (frames, 2)
    players: np.ndarray  # (frames, 22, 2)
    goals: np.ndarray  # (frames, 2): the left and right teams' goals so far


def team_colours(seed: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two shirt colours of `BALL_TEAM_PALETTE` at least 150 apart (largest channel difference), by seed."""
    rng = np.random.default_rng([seed, 37])
    pairs = [(a, b) for a in BALL_TEAM_PALETTE for b in BALL_TEAM_PALETTE
             if max(abs(i - j) for i, j in zip(a, b)) >= 150]
    return pairs[int(rng.integers(len(pairs)))]


def ball_look(seed: int, width: int, height: int) -> Look:
    """The broadcast's look (`scenes.build_look`) with the ball game's shirts: `home` the left team's, `away`
    the right team's (the scoreboard shows them in that order)."""
    left, right = team_colours(seed)
    return dataclasses.replace(build_look(seed, width, height), home=left, away=right)


def player_positions(plan: BallPlan, ball: np.ndarray, seed: int) -> np.ndarray:
    """(frames, 22, 2): every player's feet at every frame (see the module docstring)."""
    frames = plan.frames
    centre = smooth_within(ball[:, :2], plan.cuts, CENTRE_SMOOTHING_SECONDS)
    count = 2 * PLAYERS_PER_TEAM
    phases = np.random.default_rng([seed, 31]).random((count, 2)) * 2 * np.pi
    t = np.arange(frames) / FPS
    posts = np.empty((frames, count, 2))
    for player in range(count):
        keeper = player % PLAYERS_PER_TEAM == 0
        for frame in range(frames):
            posts[frame, player] = formation_position(player, (centre[frame, 0], centre[frame, 1]))
        sway = 0.5 if keeper else 2.0
        posts[:, player, 0] += sway * np.sin(0.9 * t + phases[player, 0])
        posts[:, player, 1] += sway * np.sin(0.7 * t + phases[player, 1])
    weight = np.zeros((frames, count))
    target = posts.copy()
    ramp = RUN_SECONDS * FPS
    index = np.arange(frames)
    for touch in plan.touches:
        lo, hi = max(0, int(touch.start - ramp)), min(frames, int(touch.end + ramp) + 1)
        span = index[lo:hi]
        distance = np.maximum(touch.start - span, 0) + np.maximum(span - touch.end, 0)
        w = np.clip(1.0 - distance / ramp, 0.0, 1.0)
        w = w * w * (3 - 2 * w)  # smoothstep: he starts and ends his run gently
        at = np.clip(span, touch.start, min(touch.end, frames - 1))
        feet = ball[at, :2].copy()
        feet[:, 0] += -FEET_BEHIND_BALL if team_of(touch.player) == TEAMS_BALL[0] else FEET_BEHIND_BALL
        better = w > weight[lo:hi, touch.player]
        weight[lo:hi, touch.player] = np.where(better, w, weight[lo:hi, touch.player])
        target[lo:hi, touch.player] = np.where(better[:, None], feet, target[lo:hi, touch.player])
    return posts + weight[..., None] * (target - posts)


def build_scene(plan: BallPlan, seed: int) -> BallScene:
    ball = plan.ball_positions()
    camera = smooth_within(ball[:, :2], plan.cuts, CAMERA_SMOOTHING_SECONDS)
    camera[:, 1] = 0.75 * camera[:, 1] + 0.25 * 34.0 - 4.0  # toward the far side; both touchlines stay in view
    goals = np.zeros((plan.frames, 2), dtype=np.int64)
    for action in plan.actions:
        if action.label == "GOAL":
            goals[action.frame:, TEAMS_BALL.index(action.team)] += 1
    return BallScene(ball, camera, player_positions(plan, ball, seed), goals)


def ball_pixel(look: Look, scene: BallScene, frame: int) -> tuple[float, float, float]:
    """Where frame `frame` draws the ball's shadow: (x, y) pixels, and the ball's height in pixels above it."""
    canvas = look.wide
    _, left, top = crop_view(canvas, look.width, look.height, *scene.camera[frame])
    bx, by = canvas.to_pixel(scene.ball[frame, 0], scene.ball[frame, 1])
    return bx - left, by - top, scene.ball[frame, 2] * canvas.sx


def render_ball_frame(look: Look, scene: BallScene, frame: int) -> np.ndarray:
    """Frame `frame` of the game: the view, the players far to near, the ball's shadow and the ball, the score."""
    canvas = look.wide
    image, left, top = crop_view(canvas, look.width, look.height, *scene.camera[frame])
    height_px = 1.85 * canvas.sx
    players = scene.players[frame]
    for player in np.argsort(players[:, 1], kind="stable"):
        x, y = players[player]
        fx, fy = canvas.to_pixel(x, y)
        fx, fy = fx - left, fy - top
        if not (-20 < fx < look.width + 20 and -5 < fy < look.height + height_px):
            continue
        role, side = player % PLAYERS_PER_TEAM, team_of(int(player))
        if role == 0:
            colour = KEEPER if side == TEAMS_BALL[0] else RIGHT_KEEPER
        else:
            colour = look.home if side == TEAMS_BALL[0] else look.away
        draw_player(image, fx, fy, height_px, colour, stride=np.sin(3.0 * x) * height_px * 0.06)
    bx, by, lift = ball_pixel(look, scene, frame)
    radius = max(1.5, 0.3 * canvas.sx) * (1.0 + 0.08 * scene.ball[frame, 2])
    fill_ellipse(image, bx, by, radius * 1.1, radius * 0.55, SHADOW)
    fill_circle(image, bx, by - radius * 0.8 - lift, radius, WHITE)
    draw_scoreboard(image, look, (int(scene.goals[frame, 0]), int(scene.goals[frame, 1])))
    return image

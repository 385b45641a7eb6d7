"""Scene renderers of the synthetic broadcast: what the camera shows during one shot.

A half is a sequence of shots (`Shot`: scene name, start, end, parameters). Each scene is a pure
function of (look, shot, seconds into the shot) -> frame, so any frame can be rendered on its own
(tests seek straight to an event) and a seed fixes every pixel.

Scenes are designed for a *random-weight* CNN with global pooling, which keeps colour and texture
statistics but little layout: each event phase owns a large, high-contrast region with its own colour
or texture (the violet GOAL banner, the orange goalkeeper, the black LED board, the yellow/red card,
the white goal net, the magenta-cyan boards behind the goal...). See `data/synthetic/broadcast.py` for which
scene plays before and after each class's anchor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from soccerspot.data.synthetic.draw import (
    Color,
    draw_grid,
    draw_line,
    draw_rect_outline,
    draw_ring,
    draw_text,
    fill_circle,
    fill_ellipse,
    fill_rect,
    fill_stripes,
    text_width,
)

PITCH_LENGTH, PITCH_WIDTH = 105.0, 68.0
GOAL_HALF_WIDTH = 3.66

# Signature colours (kept away from each other and from the team palette).
WHITE: Color = (245, 245, 245)
BLACK: Color = (15, 15, 15)
SKIN: Color = (224, 172, 130)
GRASS_A: Color = (46, 128, 50)
GRASS_B: Color = (58, 145, 60)
GOAL_BANNER: Color = (110, 20, 190)  # violet: Goal and Penalty celebrations
KEEPER: Color = (255, 125, 0)  # orange: the goalkeeper close-up of a save
YELLOW_CARD: Color = (255, 235, 0)
RED_CARD: Color = (225, 0, 0)
LED_GREEN: Color = (40, 255, 60)
LED_RED: Color = (255, 40, 40)
BOARDS_END: list[Color] = [(0, 225, 235), (235, 0, 200)]  # cyan/magenta boards behind the goal
BOARDS_SIDE: list[Color] = [(20, 40, 160), (235, 235, 235)]  # blue/white boards along the touchline
CORNER_FLAG: Color = (255, 90, 170)  # pink flag, large in the corner set-up
REPLAY_LOGO: list[Color] = [(255, 200, 0), (0, 90, 200), (255, 255, 255)]

TEAM_PALETTE: list[Color] = [
    (30, 70, 220),  # blue
    (240, 240, 240),  # white
    (130, 20, 40),  # maroon
    (110, 190, 250),  # sky blue
    (20, 20, 90),  # navy
    (150, 150, 150),  # grey
]


@dataclass
class Shot:
    """One continuous camera shot: `scene` from `start` to `end` seconds of the half."""

    scene: str
    start: float
    end: float
    params: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Look:
    """Everything about a game's appearance that stays fixed: colours and pre-rendered backgrounds."""

    width: int
    height: int
    seed: int
    home: Color
    away: Color
    wide: "PitchCanvas"
    zoom: "PitchCanvas"
    crowd: np.ndarray  # (2H, 2W, 3) crowd texture, cropped with a drifting offset
    grass: np.ndarray  # (2H, 2W, 3) close-up grass texture

    def team(self, side: str) -> Color:
        return self.home if side == "home" else self.away


# --------------------------------------------------------------------------------------------------
# Pre-rendered backgrounds


def crowd_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Stands full of people: dark rows with random bright dots (faces, shirts, flags)."""
    base = np.empty((height, width, 3), dtype=np.uint8)
    base[:] = (45, 45, 60)
    dots = rng.random((height // 4, width // 4))
    colours = rng.integers(60, 255, size=(height // 4, width // 4, 3), dtype=np.uint8)
    blocks = np.where((dots < 0.45)[..., None], colours, np.array([35, 35, 50], dtype=np.uint8))
    tiled = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)
    base[: tiled.shape[0], : tiled.shape[1]] = tiled
    base[::12] = (25, 25, 30)  # rows of seats
    return base


def grass_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    image = np.empty((height, width, 3), dtype=np.uint8)
    stripe = (np.arange(width) // 48) % 2
    image[:] = np.where(stripe[None, :, None] == 0, np.array(GRASS_A, np.uint8), np.array(GRASS_B, np.uint8))
    noise = rng.integers(-10, 11, size=(height // 2, width // 2, 1), dtype=np.int16)
    noise = np.repeat(np.repeat(noise, 2, axis=0), 2, axis=1)
    return np.clip(image.astype(np.int16) + noise[:height, :width], 0, 255).astype(np.uint8)


@dataclass
class PitchCanvas:
    """The whole pitch drawn once at a given scale; a camera view is a crop of it."""

    image: np.ndarray
    sx: float  # pixels per metre along the pitch length
    sy: float  # pixels per metre across the pitch (the high camera squashes it)
    left: float  # pixels left of x = 0
    top: float  # pixels above y = 0

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        return self.left + x * self.sx, self.top + y * self.sy


def build_pitch(rng: np.random.Generator, sx: float, sy: float, crowd: np.ndarray) -> PitchCanvas:
    margin_x, margin_top, margin_bottom = 10.0, 16.0, 7.0
    width = int(round((PITCH_LENGTH + 2 * margin_x) * sx))
    height = int(round((PITCH_WIDTH + margin_top + margin_bottom) * sy))
    image = np.empty((height, width, 3), dtype=np.uint8)
    canvas = PitchCanvas(image, sx, sy, margin_x * sx, margin_top * sy)
    # stands above the far touchline, then grass with mowing stripes every 5.25 m
    image[:] = GRASS_A
    stripe = ((np.arange(width) - canvas.left) // (5.25 * sx)).astype(np.int64) % 2
    image[:] = np.where(stripe[None, :, None] == 0, np.array(GRASS_A, np.uint8), np.array(GRASS_B, np.uint8))
    crowd_rows = int(canvas.top - 3.0 * sy)
    tiles_y = -(-crowd_rows // crowd.shape[0])
    tiles_x = -(-width // crowd.shape[1])
    image[:crowd_rows] = np.tile(crowd, (tiles_y, tiles_x, 1))[:crowd_rows, :width]
    fill_stripes(image, 0, crowd_rows, width, crowd_rows + 1.6 * sy, 6 * sx, BOARDS_SIDE)
    fill_stripes(image, 0, height - 2.5 * sy, width, height, 6 * sx, BOARDS_SIDE)
    line = max(1.0, 0.15 * sx)

    def px(x: float, y: float) -> tuple[float, float]:
        return canvas.to_pixel(x, y)

    x0, y0 = px(0, 0)
    x1, y1 = px(PITCH_LENGTH, PITCH_WIDTH)
    draw_rect_outline(image, x0, y0, x1 + line, y1 + line, line, WHITE)
    mx, _ = px(PITCH_LENGTH / 2, 0)
    fill_rect(image, mx - line / 2, y0, mx + line / 2, y1, WHITE)
    cx, cy = px(PITCH_LENGTH / 2, PITCH_WIDTH / 2)
    draw_ring(image, cx, cy, 9.15 * sx, 9.15 * sy, line, WHITE)
    fill_ellipse(image, cx, cy, 0.3 * sx, 0.3 * sy, WHITE)
    for goal_x, direction in ((0.0, 1.0), (PITCH_LENGTH, -1.0)):
        for depth, half_width in ((16.5, 20.16), (5.5, 9.16)):
            ax, ay = px(goal_x, PITCH_WIDTH / 2 - half_width)
            bx, by = px(goal_x + direction * depth, PITCH_WIDTH / 2 + half_width)
            draw_rect_outline(image, min(ax, bx), ay, max(ax, bx) + line, by + line, line, WHITE)
        sx_, sy_ = px(goal_x + direction * 11.0, PITCH_WIDTH / 2)
        fill_ellipse(image, sx_, sy_, 0.3 * sx, 0.3 * sy, WHITE)
        # the goal seen from the side camera: net behind the line, posts standing up
        gx0, gy0 = px(goal_x - direction * 2.5, PITCH_WIDTH / 2 - GOAL_HALF_WIDTH - 2.0)
        gx1, gy1 = px(goal_x, PITCH_WIDTH / 2 + GOAL_HALF_WIDTH)
        left, right = min(gx0, gx1), max(gx0, gx1)
        fill_rect(image, left, gy0, right, gy1, (200, 200, 200))
        draw_grid(image, left, gy0, right, gy1, max(3.0, 0.35 * sx), 1, WHITE)
        draw_rect_outline(image, left, gy0, right, gy1, max(2.0, 0.25 * sx), WHITE)
        # corner flags
        for corner_y in (0.0, PITCH_WIDTH):
            fx, fy = px(goal_x, corner_y)
            draw_line(image, fx, fy, fx, fy - 1.6 * sx, max(1.0, 0.1 * sx), WHITE)
            fill_rect(image, fx, fy - 1.6 * sx, fx + direction * 0.5 * sx, fy - 1.2 * sx, CORNER_FLAG)
    return canvas


def build_look(seed: int, width: int, height: int) -> Look:
    rng = np.random.default_rng([seed, 7])
    home_index, away_index = rng.choice(len(TEAM_PALETTE), size=2, replace=False)
    crowd = crowd_texture(rng, 2 * height, 2 * width)
    grass = grass_texture(rng, 2 * height, 2 * width)
    base = width / 40.0  # wide view: ~40 m of pitch across the frame
    return Look(
        width=width,
        height=height,
        seed=seed,
        home=TEAM_PALETTE[home_index],
        away=TEAM_PALETTE[away_index],
        wide=build_pitch(rng, base, base / 2.0, crowd),
        zoom=build_pitch(rng, 2 * base, base, crowd),
        crowd=crowd,
        grass=grass,
    )


# --------------------------------------------------------------------------------------------------
# Motion: closed-form, so every frame can be rendered on its own


def _phases(seed: int, key: int, count: int) -> np.ndarray:
    return np.random.default_rng([seed, key]).random(count) * 2 * math.pi


def open_play_ball(seed: int, t: float) -> tuple[float, float]:
    """Ball position (m) in open play at second t: slow sweeps with quicker passes on top."""
    p = _phases(seed, 11, 4)
    x = 52.5 + 30 * math.sin(2 * math.pi * t / 41 + p[0]) + 9 * math.sin(2 * math.pi * t / 9.3 + p[1])
    y = 34 + 18 * math.sin(2 * math.pi * t / 27 + p[2]) + 6 * math.sin(2 * math.pi * t / 7.1 + p[3])
    return min(max(x, 3.0), 102.0), min(max(y, 3.0), 65.0)


FORMATION = [(4, 34), (20, 10), (18, 26), (18, 42), (20, 58), (35, 14), (33, 28), (33, 40), (35, 54), (46, 26), (46, 42)]


def players_around(seed: int, t: float, ball: tuple[float, float], pull: float = 0.5) -> list[tuple[float, float, str, bool]]:
    """(x, y, side, is_keeper) for 22 players shifting with the ball and jittering around their posts."""
    phases = _phases(seed, 13, 44)
    players = []
    for index, (hx, hy) in enumerate(FORMATION):
        for side_index, side in enumerate(("home", "away")):
            k = 2 * index + side_index
            base_x = hx if side == "home" else PITCH_LENGTH - hx
            keeper = index == 0
            shift = 0.15 if keeper else pull
            x = base_x + shift * (ball[0] - 52.5) + 2.5 * math.sin(t * 0.9 + phases[k])
            y = hy + (0.1 if keeper else 0.35) * (ball[1] - 34) + 2.0 * math.sin(t * 0.7 + phases[(k + 7) % 44])
            players.append((x, y, side, keeper))
    return players


# --------------------------------------------------------------------------------------------------
# Drawing people and the view


def draw_player(frame: np.ndarray, x: float, y: float, height_px: float, shirt: Color, stride: float = 0.0) -> None:
    """A standing player whose feet are at pixel (x, y): legs, shirt, head."""
    w = height_px * 0.28
    leg = height_px * 0.42
    fill_rect(frame, x - w * 0.5 + stride, y - leg, x - w * 0.1 + stride, y, BLACK)
    fill_rect(frame, x + w * 0.1 - stride, y - leg, x + w * 0.5 - stride, y, BLACK)
    fill_ellipse(frame, x, y - leg - height_px * 0.2, w * 0.65, height_px * 0.24, shirt)
    fill_circle(frame, x, y - height_px * 0.86, height_px * 0.13, SKIN)


def crop_view(canvas: PitchCanvas, width: int, height: int, cam_x: float, cam_y: float) -> tuple[np.ndarray, float, float]:
    """Copy the frame centred on pitch point (cam_x, cam_y); returns it and its top-left canvas pixel."""
    px, py = canvas.to_pixel(cam_x, cam_y)
    h, w = canvas.image.shape[:2]
    left = int(round(min(max(px - width / 2, 0), w - width)))
    top = int(round(min(max(py - height / 2, 0), h - height)))
    return canvas.image[top : top + height, left : left + width].copy(), left, top


def draw_field_view(frame, canvas, left, top, look, players, ball, height_m=1.85, colours=None) -> None:
    """Draw players (sorted far to near) and the ball on a cropped pitch view."""
    height_px = height_m * canvas.sx
    for x, y, side, keeper in sorted(players, key=lambda p: p[1]):
        fx, fy = canvas.to_pixel(x, y)
        fx, fy = fx - left, fy - top
        if -20 < fx < look.width + 20 and -5 < fy < look.height + height_px:
            colour = KEEPER if keeper else (colours or {}).get(side, look.team(side))
            draw_player(frame, fx, fy, height_px, colour, stride=math.sin(x * 1.7) * height_px * 0.05)
    bx, by = canvas.to_pixel(*ball)
    fill_circle(frame, bx - left, by - top, max(1.5, 0.3 * canvas.sx), WHITE)


def draw_scoreboard(frame: np.ndarray, look: Look, score: tuple[int, int]) -> None:
    scale = max(1, look.height // 112)
    x, y = 6 * scale, 5 * scale
    fill_rect(frame, x, y, x + 46 * scale, y + 9 * scale, BLACK)
    fill_rect(frame, x + 2 * scale, y + 2 * scale, x + 6 * scale, y + 7 * scale, look.home)
    fill_rect(frame, x + 40 * scale, y + 2 * scale, x + 44 * scale, y + 7 * scale, look.away)
    draw_text(frame, f"{score[0]}-{score[1]}", x + 14 * scale, y + 2 * scale, scale, WHITE)


def banner(frame: np.ndarray, look: Look, colour: Color, text: str, text_colour: Color = WHITE, height_fraction: float = 0.24) -> None:
    """A broadcast graphic across the lower part of the frame."""
    h, w = look.height, look.width
    top = h * (0.95 - height_fraction)
    fill_rect(frame, w * 0.04, top, w * 0.96, h * 0.95, colour)
    scale = max(2, int(h * height_fraction * 0.55 / 5))
    tw = text_width(text, scale)
    draw_text(frame, text, (w - tw) / 2, top + (h * height_fraction - 5 * scale) / 2, scale, text_colour)


def drift(s: float, amplitude: float, seed: int) -> tuple[int, int]:
    """Hand-held camera wobble for close-ups."""
    p = _phases(seed, 17, 2)
    return int(amplitude * (1 + math.sin(0.8 * s + p[0]))), int(amplitude * (1 + math.sin(0.6 * s + p[1])) * 0.6)


def background(texture: np.ndarray, look: Look, s: float, seed: int) -> np.ndarray:
    dx, dy = drift(s, look.width * 0.2, seed)
    return texture[dy : dy + look.height, dx : dx + look.width].copy()


# --------------------------------------------------------------------------------------------------
# Scenes. Each takes (look, shot, s) with s seconds since the shot started and returns a frame.


def scene_open_play(look: Look, shot: Shot, s: float) -> np.ndarray:
    t = shot.start + s
    ball = open_play_ball(look.seed, t)
    cam_x = 0.6 * ball[0] + 0.4 * 52.5
    cam_y = 0.5 * ball[1] + 0.5 * 34 - 6
    frame, left, top = crop_view(look.wide, look.width, look.height, cam_x, cam_y)
    draw_field_view(frame, look.wide, left, top, look, players_around(look.seed, t, ball), ball)
    return frame


def _mirror(frame: np.ndarray, shot: Shot) -> np.ndarray:
    return frame[:, ::-1].copy() if shot.params.get("left_goal") else frame


def scene_shot_run(look: Look, shot: Shot, s: float, u: float | None = None) -> np.ndarray:
    """The shared lead-up of Goal / Shots on target / Shots off target: a run at goal and the shot,
    seen from the side with the goal (white net) filling the right of the frame as the camera pans."""
    u = min(max(s / shot.duration, 0.0), 1.0) if u is None else u
    h, w = look.height, look.width
    pan = int(w * 0.5 * u)
    frame = look.grass[h // 4 : h // 4 + h, pan : pan + w].copy()
    fill_stripes(frame, 0, 0, w, h * 0.12, w / 6, BOARDS_SIDE, phase=pan)
    goal_left = w * (0.6 - 0.1 * u)  # inside the centre square that SoccerNet's centre crop keeps
    fill_rect(frame, goal_left, h * 0.16, w, h * 0.62, (200, 200, 200))
    draw_grid(frame, goal_left, h * 0.16, w, h * 0.62, 8, 2, WHITE)
    fill_rect(frame, goal_left - 6, h * 0.16, goal_left, h * 0.66, WHITE)  # post
    fill_rect(frame, goal_left - 6, h * 0.16, w, h * 0.16 + 6, WHITE)  # crossbar
    box_left = goal_left - w * 0.3
    draw_line(frame, box_left, h * 0.66, box_left - w * 0.1, h, 4, WHITE)  # edge of the box
    fill_rect(frame, 0, h * 0.66, goal_left + 6, h * 0.66 + 4, WHITE)  # goal line seen flat
    attackers = look.team(shot.params.get("team", "home"))
    defenders = look.away if attackers == look.home else look.home
    t = shot.start + s
    phases = _phases(look.seed, 19, 8)
    runner_x = w * (0.05 + 0.3 * min(u / 0.8, 1.0))
    for k in range(3):
        draw_player(frame, runner_x - w * (0.12 + 0.1 * k), h * (0.8 + 0.05 * math.sin(phases[k])), h * 0.32, attackers, stride=4 * math.sin(8 * t + k))
        draw_player(frame, runner_x + w * (0.05 + 0.07 * k) * (1 - 0.5 * u), h * (0.74 + 0.06 * k), h * 0.3, defenders, stride=4 * math.sin(8 * t + k + 1))
    draw_player(frame, runner_x, h * 0.9, h * 0.36, attackers, stride=5 * math.sin(9 * t))
    draw_player(frame, goal_left + w * 0.03, h * 0.66, h * 0.3, KEEPER)
    if u < 0.8:
        ball = (runner_x + h * 0.06, h * 0.88)
    else:  # the shot: the ball flies at the goal and reaches the line at the anchor
        v = (u - 0.8) / 0.2
        ball = (runner_x + h * 0.06 + (goal_left + w * 0.05 - runner_x) * v, h * (0.88 - 0.45 * v))
    fill_circle(frame, ball[0], ball[1], h * 0.025, WHITE)
    return _mirror(frame, shot)


def scene_celebration(look: Look, shot: Shot, s: float) -> np.ndarray:
    """Scorers piling together in front of the stands, then the violet GOAL graphic."""
    frame = background(look.crowd, look, s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    fill_rect(frame, 0, h * 0.78, w, h, GRASS_B)
    colour = look.team(shot.params.get("team", "home"))
    for k in range(4):
        jump = abs(math.sin(3.0 * s + k)) * h * 0.08
        draw_player(frame, w * (0.2 + 0.2 * k), h * 0.98 - jump, h * 0.8, colour, stride=h * 0.02 * math.sin(4 * s + k))
    if s >= 0.8:
        banner(frame, look, GOAL_BANNER, "GOAL!", height_fraction=0.3)
    return frame


def scene_keeper_save(look: Look, shot: Shot, s: float) -> np.ndarray:
    """Close-up of the goalkeeper (orange) clutching the ball in front of the net."""
    frame = background(look.grass, look, s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    fill_rect(frame, 0, 0, w, h * 0.45, (200, 200, 200))
    draw_grid(frame, 0, 0, w, h * 0.45, 10, 2, WHITE)
    fill_rect(frame, 0, h * 0.42, w, h * 0.47, WHITE)
    sway = w * 0.05 * math.sin(1.5 * s)
    draw_player(frame, w * 0.5 + sway, h * 1.3, h * 1.25, KEEPER)
    fill_ellipse(frame, w * 0.5 + sway, h * 0.58, w * 0.18, h * 0.12, KEEPER)  # arms wrapped around the ball
    fill_circle(frame, w * 0.5 + sway, h * 0.58, h * 0.09, WHITE)
    return frame


def scene_miss(look: Look, shot: Shot, s: float) -> np.ndarray:
    """The ball flies over the cyan/magenta boards behind the goal; the shooter holds his head."""
    frame = background(look.crowd, look, s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    fill_stripes(frame, 0, h * 0.35, w, h * 0.7, w / 6, BOARDS_END, phase=20 * s)
    fill_rect(frame, 0, h * 0.7, w, h, GRASS_A)
    colour = look.team(shot.params.get("team", "home"))
    x = w * 0.3
    draw_player(frame, x, h * 1.05, h * 0.75, colour)
    fill_circle(frame, x - h * 0.08, h * 0.4, h * 0.05, colour)  # hands on the head
    fill_circle(frame, x + h * 0.08, h * 0.4, h * 0.05, colour)
    fill_circle(frame, w * (0.6 + 0.1 * s), h * (0.3 - 0.05 * s), h * 0.04, WHITE)
    return frame


def scene_penalty_setup(look: Look, shot: Shot, s: float) -> np.ndarray:
    """Behind the penalty taker: a big goal and keeper ahead, everyone else lined up on the box edge."""
    frame = background(look.grass, look, 0.2 * s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    gx0, gx1, gy0, gy1 = w * 0.12, w * 0.88, h * 0.04, h * 0.5
    fill_rect(frame, gx0, gy0, gx1, gy1, (200, 200, 200))
    draw_grid(frame, gx0, gy0, gx1, gy1, 9, 2, WHITE)
    draw_rect_outline(frame, gx0, gy0, gx1, gy1 + 4, 6, WHITE)
    fill_rect(frame, 0, gy1, w, gy1 + 3, WHITE)
    draw_player(frame, w * 0.5 + w * 0.06 * math.sin(2 * s), gy1 + h * 0.02, h * 0.34, KEEPER)
    fill_ellipse(frame, w * 0.5, h * 0.8, w * 0.02, h * 0.015, WHITE)  # the spot
    for k in range(8):  # everyone else waits outside the box
        draw_player(frame, w * (0.04 + 0.12 * k + (0.2 if k > 3 else 0)), h * 0.72, h * 0.28, look.home if k % 2 else look.away)
    taker = shot.params.get("team", "home")
    draw_player(frame, w * 0.5, h * 1.2, h * 0.6, look.team(taker))
    return frame


def scene_foul(look: Look, shot: Shot, s: float) -> np.ndarray:
    """A player down, his opponent standing over him and the referee (black) running in."""
    frame = background(look.grass, look, s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    victim = look.team(shot.params.get("team", "home"))
    offender = look.away if victim == look.home else look.home
    fill_ellipse(frame, w * 0.35, h * 0.75, w * 0.2, h * 0.08, victim)  # lying on the grass
    fill_circle(frame, w * 0.13, h * 0.73, h * 0.06, SKIN)
    draw_player(frame, w * 0.62, h * 0.95, h * 0.75, offender)
    ref_x = w * (1.05 - 0.12 * min(s, 2.5))
    draw_player(frame, ref_x, h * 0.97, h * 0.8, BLACK)
    return frame


def scene_card(look: Look, shot: Shot, s: float) -> np.ndarray:
    """The referee (black) holding up a big card, and the card graphic with the player's bar."""
    colour = RED_CARD if shot.params.get("card") == "red" else YELLOW_CARD
    frame = background(look.crowd, look, s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    fill_rect(frame, 0, h * 0.8, w, h, GRASS_B)
    draw_player(frame, w * 0.35, h * 1.2, h * 1.05, BLACK)
    arm = min(s / 0.6, 1.0)
    cx, cy = w * 0.55, h * (0.6 - 0.32 * arm)
    draw_line(frame, w * 0.4, h * 0.45, cx, cy + h * 0.1, h * 0.05, BLACK)
    fill_rect(frame, cx - w * 0.07, cy - h * 0.2, cx + w * 0.07, cy + h * 0.12, colour)
    if s >= 0.6:
        fill_rect(frame, w * 0.04, h * 0.74, w * 0.96, h * 0.95, BLACK)
        fill_rect(frame, w * 0.07, h * 0.76, w * 0.17, h * 0.93, colour)
        fill_rect(frame, w * 0.2, h * 0.8, w * 0.9, h * 0.89, look.team(shot.params.get("team", "home")))
    return frame


def scene_sideline(look: Look, shot: Shot, s: float) -> np.ndarray:
    """Low view along the near touchline: big blue/white boards, the line, players close by."""
    t = shot.start + s
    x = shot.params.get("x", 50.0) + 2.0 * s
    frame, left, top = crop_view(look.zoom, look.width, look.height, x, PITCH_WIDTH - 4.0)
    ball = (x + 1.5 * math.sin(t), PITCH_WIDTH - 4.0 + 3.5 * min(s / max(shot.duration, 1e-6), 1.0))
    players = [(x - 3 + 1.5 * k + math.sin(t + k), PITCH_WIDTH - 8 + 1.2 * k, ("home", "away")[k % 2], False) for k in range(4)]
    draw_field_view(frame, look.zoom, left, top, look, players, ball)
    return frame


def scene_throw_in(look: Look, shot: Shot, s: float) -> np.ndarray:
    """A player on the touchline, ball held over his head, team-mates waiting on the pitch."""
    frame = background(look.grass, look, 0.3 * s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    fill_stripes(frame, 0, h * 0.62, w, h * 0.82, w / 5, BOARDS_SIDE)
    fill_rect(frame, 0, h * 0.82, w, h, (60, 60, 70))  # the track behind the boards
    fill_rect(frame, 0, h * 0.58, w, h * 0.62, WHITE)  # touchline
    colour = look.team(shot.params.get("team", "home"))
    thrower_x = w * 0.5
    draw_player(frame, thrower_x, h * 0.95, h * 0.75, colour)
    lift = min(s / 1.5, 1.0)
    draw_line(frame, thrower_x - h * 0.1, h * 0.45, thrower_x - h * 0.06, h * (0.45 - 0.25 * lift), h * 0.04, SKIN)
    draw_line(frame, thrower_x + h * 0.1, h * 0.45, thrower_x + h * 0.06, h * (0.45 - 0.25 * lift), h * 0.04, SKIN)
    fill_circle(frame, thrower_x, h * (0.4 - 0.25 * lift), h * 0.06, WHITE)
    for k in range(3):
        draw_player(frame, w * (0.12 + 0.3 * k), h * 0.4, h * 0.22, look.home if k % 2 else look.away)
    return frame


def scene_corner_setup(look: Look, shot: Shot, s: float) -> np.ndarray:
    """The taker at the corner arc beside the big pink flag, the box crowded beyond."""
    frame = background(look.grass, look, 0.3 * s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    fill_stripes(frame, 0, 0, w, h * 0.18, w / 6, BOARDS_END)
    fill_rect(frame, 0, h * 0.18, w * 0.6, h * 0.22, WHITE)  # goal line
    fill_rect(frame, w * 0.58, h * 0.18, w * 0.61, h, WHITE)  # touchline
    draw_ring(frame, w * 0.595, h * 0.2, w * 0.12, h * 0.2, 4, WHITE)
    draw_line(frame, w * 0.6, h * 0.2, w * 0.6, h * 0.02, 5, WHITE)  # flag pole
    wave = math.sin(5 * s) * h * 0.03
    fill_rect(frame, w * 0.6, h * 0.02 + wave, w * 0.78, h * 0.34 + wave, CORNER_FLAG)
    fill_rect(frame, w * 0.6 + 8, h * 0.02 + wave + 8, w * 0.78 - 8, h * 0.34 + wave - 8, (255, 255, 255))
    fill_rect(frame, w * 0.6 + 16, h * 0.02 + wave + 16, w * 0.78 - 16, h * 0.34 + wave - 16, CORNER_FLAG)
    draw_player(frame, w * 0.5, h * 0.95, h * 0.6, look.team(shot.params.get("team", "home")))
    for k in range(6):
        draw_player(frame, w * (0.05 + 0.09 * k), h * 0.45 + 3 * math.sin(s + k), h * 0.22, look.home if k % 2 else look.away)
    return frame


def scene_kickoff(look: Look, shot: Shot, s: float) -> np.ndarray:
    """Close on the centre spot: the halfway line and circle, the two takers over the ball, the
    opponents waiting beyond the circle. The kick is the anchor (the shot's first frame): from s = 0 the
    ball rolls back to a team-mate and the takers break forward."""
    frame = background(look.grass, look, 0.3 * s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    fill_rect(frame, w * 0.49, 0, w * 0.51, h, WHITE)  # halfway line
    draw_ring(frame, w * 0.5, h * 0.62, w * 0.34, h * 0.3, 6, WHITE)  # centre circle
    takers = look.team(shot.params.get("team", "home"))
    opponents = look.away if takers == look.home else look.home
    for k in range(5):  # the other team waits outside the circle
        draw_player(frame, w * (0.06 + 0.22 * k), h * 0.3, h * 0.26, opponents)
    run = min(s, 2.0) * w * 0.12
    draw_player(frame, w * 0.4 + run, h * 1.05, h * 0.8, takers, stride=h * 0.03 * math.sin(8 * s))
    draw_player(frame, w * 0.62 + run, h * 1.05, h * 0.8, takers, stride=h * 0.03 * math.sin(8 * s + 1))
    ball_x = w * 0.5 - min(s, 1.2) * w * 0.3
    fill_circle(frame, ball_x, h * (0.66 + 0.1 * min(s, 1.2)), h * 0.045, WHITE)
    return frame


def scene_walk_back(look: Look, shot: Shot, s: float) -> np.ndarray:
    """Wide view of the halfway line while the players jog back to their halves."""
    frame, left, top = crop_view(look.wide, look.width, look.height, PITCH_LENGTH / 2 + 3 * math.sin(0.3 * s), 28.0)
    u = min(s / max(shot.duration, 1e-6), 1.0)
    players = []
    for x, y, side, keeper in players_around(look.seed, shot.start + s, (52.5, 34.0), pull=0.0):
        target = x * 0.6 + (0.4 * 30.0 if side == "home" else 0.4 * 75.0)
        players.append((x + (target - x) * u, y, side, keeper))
    draw_field_view(frame, look.wide, left, top, look, players, (52.5, 34.0))
    return frame


def scene_sub_board(look: Look, shot: Shot, s: float) -> np.ndarray:
    """The fourth official's LED board (green number in, red number out), then the graphic."""
    frame = background(look.crowd, look, s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    draw_player(frame, w * 0.8, h * 1.25, h * 1.1, BLACK)
    bx0, by0, bx1, by1 = w * 0.24, h * 0.12, w * 0.68, h * 0.62
    fill_rect(frame, bx0, by0, bx1, by1, BLACK)
    draw_rect_outline(frame, bx0, by0, bx1, by1, 4, (90, 90, 90))
    number_in, number_out = shot.params.get("numbers", (12, 7))
    scale = int(h * 0.05)
    draw_text(frame, f"{number_in:02d}", bx0 + w * 0.02, by0 + h * 0.12, scale, LED_GREEN)
    draw_text(frame, f"{number_out:02d}", bx0 + w * 0.23, by0 + h * 0.12, scale, LED_RED)
    if s >= 1.0:
        fill_rect(frame, w * 0.04, h * 0.72, w * 0.96, h * 0.95, (25, 25, 25))
        fill_rect(frame, w * 0.06, h * 0.75, w * 0.5, h * 0.83, LED_GREEN)
        fill_rect(frame, w * 0.06, h * 0.84, w * 0.5, h * 0.92, LED_RED)
    return frame


def scene_close_up(look: Look, shot: Shot, s: float) -> np.ndarray:
    """A distractor: one player in close-up (no event)."""
    frame = background(look.grass if shot.params.get("grass") else look.crowd, look, s, shot.params.get("seed", 0))
    h, w = look.height, look.width
    draw_player(frame, w * (0.4 + 0.05 * math.sin(s)), h * 1.3, h * 1.2, look.team(shot.params.get("team", "home")))
    return frame


def replay_logo(look: Look, u: float) -> np.ndarray:
    """The replay wipe: the competition logo (concentric rings) sweeping across the frame."""
    frame = np.empty((look.height, look.width, 3), dtype=np.uint8)
    frame[:] = REPLAY_LOGO[1]
    cx = look.width * (1.2 - 1.4 * u)
    for k, radius in enumerate((0.9, 0.65, 0.4, 0.2)):
        fill_circle(frame, cx, look.height / 2, look.height * radius, REPLAY_LOGO[k % len(REPLAY_LOGO)])
    return frame


def scene_replay(look: Look, shot: Shot, s: float) -> np.ndarray:
    """Logo wipe, the shot run again at half speed with a REPLAY tag, logo wipe out."""
    wipe = 0.6
    if s < wipe:
        return replay_logo(look, s / wipe)
    if s > shot.duration - wipe:
        return replay_logo(look, (s - shot.duration + wipe) / wipe)
    inner = Shot("shot_run", shot.start, shot.end, shot.params)
    u = 0.45 + 0.55 * (s - wipe) / max(shot.duration - 2 * wipe, 1e-6)
    frame = scene_shot_run(look, inner, s, u=u)
    scale = max(1, look.height // 75)
    draw_text(frame, "REPLAY", look.width - text_width("REPLAY", scale) - 8, 6, scale, REPLAY_LOGO[0])
    return frame


SCENES = {
    "open_play": scene_open_play,
    "shot_run": scene_shot_run,
    "celebration": scene_celebration,
    "keeper_save": scene_keeper_save,
    "miss": scene_miss,
    "penalty_setup": scene_penalty_setup,
    "foul": scene_foul,
    "card": scene_card,
    "sideline": scene_sideline,
    "throw_in": scene_throw_in,
    "corner_setup": scene_corner_setup,
    "kickoff": scene_kickoff,
    "walk_back": scene_walk_back,
    "sub_board": scene_sub_board,
    "close_up": scene_close_up,
    "replay": scene_replay,
}


def render_shot(look: Look, shot: Shot, s: float, score: tuple[int, int]) -> np.ndarray:
    frame = SCENES[shot.scene](look, shot, s)
    draw_scoreboard(frame, look, score)
    return frame

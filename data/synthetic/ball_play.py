"""Open play with a ball that is really played, planned as data: who touches the ball at which frame, and the
ball's path between touches. `data.synthetic.ball_render` draws it; `data.synthetic.ball_season` writes its
`Labels-ball.json`.

The ball moves in straight lines on the ground (x along the pitch, y across it, metres) at a constant
velocity between two touches, so its ground velocity changes at a labelled action's frame and nowhere else
while it is in play; a lofted ball also rises and falls under gravity (z, metres) between its two touches.
Every in-play touch is one of the twelve Ball Action Spotting classes (sn-teamspotting's
`EVENT_DICTIONARY_BALL`): a pass arrives at a team-mate's feet exactly when he plays it on, a drive is the
player running with the ball at the ball's speed, a tackle pokes the ball from a dribbler to the tackler's
team-mate, and so on. OUT is labelled at the frame the ball crosses a line (its team: the side that played the
ball last), GOAL at the frame it crosses the goal line between the posts (the scoring side). After OUT, GOAL or a foul the ball is dead: it rolls on more slowly (OUT, GOAL)
or at the same velocity (a foul on the receiver of a pass), then the camera cuts to the restart (`BallPlan.cuts`),
where the ball waits still until the restart's kick (THROW IN, FREE KICK, a corner's CROSS, a goal kick's HIGH
PASS, a kick-off's PASS).

Teams are named by their side of the video, as the 2025 labels name them: the `left` team defends the goal at
x = 0 (the left of the broadcast camera's picture) and attacks the one at x = 105; one video per game (half 1),
so the sides never swap. Players are numbered 0-10 (left, 0 the keeper) and 11-21 (right, 11 the keeper).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from soccerspot.data.classes import TEAMS_BALL
from soccerspot.data.synthetic.scenes import FORMATION, GOAL_HALF_WIDTH, PITCH_LENGTH, PITCH_WIDTH

FPS = 25  # Ball Action Spotting's frame rate
GRAVITY = 9.81
PLAYERS_PER_TEAM = 11
HEADER_HEIGHT = 2.0  # metres: where a header meets the ball
THROW_HEIGHT = 2.2  # the ball held over the thrower's head
CROSSBAR = 2.44


@dataclass(frozen=True)
class BallAction:
    """One labelled action: `player` touches the ball at `frame` (None for OUT and GOAL, which nobody touches)."""

    frame: int
    label: str
    team: str  # "left" | "right"
    player: int | None


@dataclass(frozen=True)
class BallSegment:
    """The ball from `start` to `end` (frames): at (x, y, z) at `start`, moving at (vx, vy, vz) metres a second,
    rising and falling under gravity when `airborne`; `live`: in play."""

    start: int
    end: int
    x: float
    y: float
    z: float
    vx: float
    vy: float
    vz: float
    airborne: bool
    live: bool

    def position(self, frame: float) -> tuple[float, float, float]:
        dt = (frame - self.start) / FPS
        z = self.z + self.vz * dt - (0.5 * GRAVITY * dt * dt if self.airborne else 0.0)
        return self.x + self.vx * dt, self.y + self.vy * dt, max(z, 0.0)


@dataclass(frozen=True)
class Touch:
    """A player at the ball's feet position from frame `start` to `end` (inclusive)."""

    player: int
    start: int
    end: int


@dataclass
class BallPlan:
    """A planned game: its labelled actions, the ball's path, the players' touches and the camera's cuts."""

    frames: int
    actions: list[BallAction] = field(default_factory=list)
    segments: list[BallSegment] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)  # frames where the dead ball is moved to its restart

    def ball_positions(self) -> np.ndarray:
        """(frames, 3): the ball's x, y, z at every frame."""
        out = np.zeros((self.frames, 3))
        for segment in self.segments:
            for frame in range(segment.start, min(segment.end, self.frames)):
                out[frame] = segment.position(frame)
        return out

    def live(self) -> np.ndarray:
        """(frames,) bool: the ball is in play at the frame."""
        out = np.zeros(self.frames, dtype=bool)
        for segment in self.segments:
            out[segment.start : min(segment.end, self.frames)] = segment.live
        return out


def team_of(player: int) -> str:
    return TEAMS_BALL[player // PLAYERS_PER_TEAM]


def other_team(team: str) -> str:
    return TEAMS_BALL[1 - TEAMS_BALL.index(team)]


def attacked_goal_x(team: str) -> float:
    """The x of the goal `team` attacks: the left team attacks the goal on the right of the video."""
    return PITCH_LENGTH if team == TEAMS_BALL[0] else 0.0


def formation_position(player: int, centre: tuple[float, float]) -> tuple[float, float]:
    """Where a player stands when the play is around `centre`: his post in the formation, shifted with the play."""
    role = player % PLAYERS_PER_TEAM
    hx, hy = FORMATION[role]
    base_x = hx if team_of(player) == TEAMS_BALL[0] else PITCH_LENGTH - hx
    keeper = role == 0
    x = base_x + (0.15 if keeper else 0.6) * (centre[0] - PITCH_LENGTH / 2)
    y = hy + (0.1 if keeper else 0.35) * (centre[1] - PITCH_WIDTH / 2)
    return min(max(x, 1.0), PITCH_LENGTH - 1.0), min(max(y, 2.0), PITCH_WIDTH - 2.0)


def team_players(team: str) -> range:
    first = TEAMS_BALL.index(team) * PLAYERS_PER_TEAM
    return range(first, first + PLAYERS_PER_TEAM)


@dataclass(frozen=True)
class PlayConfig:
    """Speeds (m/s) and odds of the planned play."""

    pass_speed: tuple[float, float] = (10.0, 15.0)
    high_pass_speed: tuple[float, float] = (12.0, 16.0)  # lofted: 25-40 m take about 2 s, up to 5-8 m high
    drive_speed: tuple[float, float] = (4.5, 6.5)
    drive_seconds: tuple[float, float] = (1.0, 2.4)
    cross_speed: tuple[float, float] = (13.0, 17.0)
    shot_speed: tuple[float, float] = (24.0, 30.0)
    header_speed: tuple[float, float] = (9.0, 13.0)
    throw_speed: tuple[float, float] = (9.0, 12.0)
    dead_roll_seconds: tuple[float, float] = (0.8, 1.2)
    restart_wait_seconds: tuple[float, float] = (1.2, 2.0)
    overdue_seconds: float = 30.0  # a class unseen for longer is made likelier (`_Planner.pick`)


def _inside(x: float, y: float, margin: float = 2.0) -> tuple[float, float]:
    return min(max(x, margin), PITCH_LENGTH - margin), min(max(y, margin), PITCH_WIDTH - margin)


class _Planner:
    """Builds a `BallPlan` action by action; each method leaves the ball at the next actor's feet (or head)
    at `self.frame` and returns what happens next as a callable."""

    def __init__(self, seed: int, frames: int, config: PlayConfig):
        self.rng = np.random.default_rng([seed, 29])
        self.config = config
        self.plan = BallPlan(frames=frames)
        self.frame = 0
        self.ball = (PITCH_LENGTH / 2, PITCH_WIDTH / 2, 0.0)
        self.last_seen: dict[str, int] = {}

    # ---------------------------------------------------------------------------------------- primitives

    def uniform(self, bounds: tuple[float, float]) -> float:
        return float(self.rng.uniform(*bounds))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, options: dict[str, tuple[float, str]]) -> str:
        """One of `options` (name -> (weight, the class it leads to)), a class unseen for long made likelier, so
        that a few minutes of play show every class."""
        names = list(options)
        weights = np.array([options[n][0] * self.overdue(options[n][1]) for n in names])
        return names[int(self.rng.choice(len(names), p=weights / weights.sum()))]

    def overdue(self, label: str) -> float:
        """1 for a class seen in the last `overdue_seconds`, growing by 1 every `overdue_seconds` after that."""
        seconds = (self.frame - self.last_seen.get(label, 0)) / FPS
        return 1.0 + max(0.0, seconds / self.config.overdue_seconds - 1.0)

    def act(self, label: str, team: str, player: int | None) -> None:
        self.last_seen[label] = self.frame
        self.plan.actions.append(BallAction(self.frame, label, team, player))
        if player is not None:
            self.plan.touches.append(Touch(player, self.frame, self.frame))

    def move(self, target: tuple[float, float, float], speed: float, airborne: bool = False, live: bool = True,
             frames: int | None = None) -> None:
        """The ball from where it is to `target` at `speed` (ground metres a second), arriving on a whole frame;
        through the air (under gravity) when `airborne` or when it starts or ends off the ground; still when
        `target` is where it is."""
        x0, y0, z0 = self.ball
        if target == self.ball:
            self.plan.segments.append(BallSegment(self.frame, self.frame + frames, x0, y0, z0, 0.0, 0.0, 0.0, False, live))
            self.frame += frames
            return
        airborne = airborne or z0 > 0 or target[2] > 0
        distance = math.hypot(target[0] - x0, target[1] - y0)
        frames = frames if frames is not None else max(3, int(round(distance / speed * FPS)))
        seconds = frames / FPS
        vz = ((target[2] - z0) / seconds + 0.5 * GRAVITY * seconds) if airborne else 0.0
        self.plan.segments.append(BallSegment(self.frame, self.frame + frames, x0, y0, z0,
                                              (target[0] - x0) / seconds, (target[1] - y0) / seconds, vz,
                                              airborne, live))
        self.frame += frames
        self.ball = target

    def roll_on(self, factor: float) -> None:
        """Dead ball: it goes on in the last segment's direction at `factor` of its ground speed, then lies still."""
        last = self.plan.segments[-1]
        frames = int(round(self.uniform(self.config.dead_roll_seconds) * FPS))
        seconds = frames / FPS
        x, y, _ = self.ball
        self.move((x + last.vx * factor * seconds, y + last.vy * factor * seconds, 0.0), 1.0, airborne=True,
                  live=False, frames=frames)

    def restart_at(self, spot: tuple[float, float, float], taker: int) -> None:
        """The camera cuts to the restart: the ball still at `spot`, the taker beside it, until the kick."""
        self.plan.cuts.append(self.frame)
        self.ball = spot
        wait = int(round(self.uniform(self.config.restart_wait_seconds) * FPS))
        self.move(spot, 1.0, live=False, frames=wait)
        self.plan.touches.append(Touch(taker, self.frame - wait, self.frame))

    def nearest(self, players, point: tuple[float, float], exclude: tuple[int, ...] = ()) -> int:
        centre = (self.ball[0], self.ball[1])
        candidates = [p for p in players if p not in exclude]
        return min(candidates, key=lambda p: math.dist(formation_position(p, centre), point))

    def mate_at(self, team: str, player: int, distance: tuple[float, float], forward: float) -> tuple[int, tuple[float, float]]:
        """A team-mate to play to (not the keeper): the one whose post is nearest to a point `distance` metres
        away, `forward` the share of the way pointing at the attacked goal; returns him and where he meets it."""
        x, y, _ = self.ball
        goal_x = attacked_goal_x(team)
        direction = 1.0 if goal_x > x else -1.0
        angle = self.rng.uniform(-1.2, 1.2) if self.chance(forward) else self.rng.uniform(1.6, 2.6) * self.rng.choice([-1, 1])
        length = self.uniform(distance)
        point = _inside(x + direction * length * math.cos(angle), y + length * math.sin(angle), 4.0)
        mates = [p for p in team_players(team) if p % PLAYERS_PER_TEAM != 0]
        receiver = self.nearest(mates, point, exclude=(player,))
        post = formation_position(receiver, point)
        meet = _inside(0.5 * point[0] + 0.5 * post[0] + self.rng.normal(0, 1.5),
                       0.5 * point[1] + 0.5 * post[1] + self.rng.normal(0, 1.5), 3.0)
        if math.dist(meet, (x, y)) < 5.0:  # too close to be a pass: push it on
            meet = _inside(x + direction * 8.0, y + self.rng.uniform(-6, 6), 3.0)
        return receiver, meet

    # ------------------------------------------------------------------------------------------ actions

    def on_feet(self, team: str, player: int, after_drive: bool = False):
        """`player` has the ball at his feet now and plays it at once."""
        x, y, _ = self.ball
        goal_x = attacked_goal_x(team)
        to_goal = math.hypot(goal_x - x, PITCH_WIDTH / 2 - y)
        options = {"PASS": 4.0, "HIGH PASS": 1.0, "DRIVE": 0.0 if after_drive else 3.0}
        if to_goal < 30 and abs(y - PITCH_WIDTH / 2) < 18:
            options["SHOT"] = 5.0
        if abs(goal_x - x) < 36 and abs(y - PITCH_WIDTH / 2) > 13:
            options["CROSS"] = 5.0
        choice = self.pick({name: (weight, name) for name, weight in options.items()})
        if choice == "DRIVE":
            return lambda: self.drive(team, player)
        if choice == "SHOT":
            return lambda: self.shot(team, player, "SHOT")
        if choice == "CROSS":
            return lambda: self.cross(team, player, "CROSS")
        return lambda: self.pass_ball(team, player, choice)

    def pass_ball(self, team: str, player: int, label: str):
        """PASS (along the ground) or HIGH PASS (lofted) to a team-mate; a FREE KICK or a THROW IN played to one
        (`label` names the restart)."""
        high = label == "HIGH PASS" or (label == "FREE KICK" and self.chance(0.5)) or label == "THROW IN"
        self.act(label, team, player)
        receiver, meet = self.mate_at(team, player, (22.0, 40.0) if label == "HIGH PASS" else (9.0, 22.0), 0.8)
        if high:
            speed = self.uniform(self.config.throw_speed if label == "THROW IN" else self.config.high_pass_speed)
            outcome = self.pick({"feet": (0.5, "PASS"), "header": (0.25, "HEADER"), "header_against": (0.15, "HEADER"),
                                 "out": (0.1, "OUT")})
        else:
            speed = self.uniform(self.config.pass_speed)
            outcome = self.pick({"feet": (0.8, "PASS"), "block": (0.08, "BALL PLAYER BLOCK"), "foul": (0.06, "FREE KICK"),
                                 "out": (0.06, "OUT")})
        if outcome == "out":
            return self.out_of_touch(team, speed, high)
        if outcome == "block":
            return self.block_on_the_way(team, meet, speed)
        if outcome in ("header", "header_against"):
            header_team = team if outcome == "header" else other_team(team)
            header = receiver if outcome == "header" else self.nearest(team_players(header_team), meet)
            self.move((meet[0], meet[1], HEADER_HEIGHT), speed, airborne=True)
            return lambda: self.header(header_team, header)
        self.move((meet[0], meet[1], 0.0), speed, airborne=high)
        if outcome == "foul":  # the receiver is brought down as the ball reaches him: it rolls on, dead
            self.plan.touches.append(Touch(receiver, self.frame, self.frame))
            self.roll_on(1.0)
            self.restart_at((meet[0], meet[1], 0.0), receiver)
            return lambda: self.free_kick(team, receiver)
        return lambda: self.on_feet(team, receiver)

    def drive(self, team: str, player: int):
        """The player runs with the ball, at the ball's speed, mostly toward the goal he attacks."""
        self.act("DRIVE", team, player)
        x, y, _ = self.ball
        direction = 1.0 if attacked_goal_x(team) > x else -1.0
        seconds = self.uniform(self.config.drive_seconds)
        angle = self.rng.uniform(-0.9, 0.9)
        length = self.uniform(self.config.drive_speed) * seconds
        target = _inside(x + direction * length * math.cos(angle), y + length * math.sin(angle), 4.0)
        start = self.frame
        self.move((target[0], target[1], 0.0), self.uniform(self.config.drive_speed))
        self.plan.touches.append(Touch(player, start, self.frame - 1))
        ending = self.pick({"on": (0.72, "PASS"), "tackle": (0.2, "PLAYER SUCCESSFUL TACKLE"), "foul": (0.08, "FREE KICK")})
        if ending == "tackle":
            return lambda: self.tackle(other_team(team))
        if ending == "foul":  # brought down: the ball runs on from his feet, dead, and he takes the free kick
            spot = self.ball
            self.roll_on(1.0)
            self.restart_at(spot, player)
            return lambda: self.free_kick(team, player)
        return lambda: self.on_feet(team, player, after_drive=True)

    def tackle(self, team: str):
        """PLAYER SUCCESSFUL TACKLE: an opponent wins the ball from the dribbler and pokes it to a team-mate."""
        tackler = self.nearest(team_players(team), (self.ball[0], self.ball[1]))
        self.act("PLAYER SUCCESSFUL TACKLE", team, tackler)
        receiver, meet = self.mate_at(team, tackler, (7.0, 14.0), 0.5)
        self.move((meet[0], meet[1], 0.0), self.uniform((6.0, 9.0)))
        return lambda: self.on_feet(team, receiver)

    def shot(self, team: str, player: int, label: str):
        """SHOT (or a HEADER or FREE KICK at goal): into the goal, blocked on the way, or wide over the line."""
        self.act(label, team, player)
        goal_x = attacked_goal_x(team)
        speed = self.uniform(self.config.header_speed if label == "HEADER" else self.config.shot_speed)
        outcome = self.pick({"goal": (0.35, "GOAL"), "block": (0.35, "BALL PLAYER BLOCK"), "wide": (0.3, "OUT")})
        if outcome == "goal":
            y = PITCH_WIDTH / 2 + self.rng.uniform(-0.8, 0.8) * GOAL_HALF_WIDTH
            self.move((goal_x, y, self.uniform((0.2, 2.0))), speed, airborne=True)
            return lambda: self.goal(team)
        if outcome == "block":
            x, y, _ = self.ball
            target = (goal_x, PITCH_WIDTH / 2 + self.rng.uniform(-1, 1) * GOAL_HALF_WIDTH)
            share = self.uniform((0.5, 0.9))
            point = (x + share * (target[0] - x), y + share * (target[1] - y))
            return self.block_on_the_way(team, point, speed, airborne=True)
        side = self.rng.choice([-1.0, 1.0])
        y = PITCH_WIDTH / 2 + side * (GOAL_HALF_WIDTH + self.uniform((1.0, 7.0)))
        self.move((goal_x, y, self.uniform((0.3, 3.0))), speed, airborne=True)
        return self.out(team, line="goal")

    def cross(self, team: str, player: int, label: str):
        """CROSS from a wide position into the box: met by a head (either team's), by an attacker's foot, or out."""
        self.act(label, team, player)
        goal_x = attacked_goal_x(team)
        inward = -1.0 if goal_x > 50 else 1.0
        meet = (goal_x + inward * self.uniform((5.0, 12.0)), PITCH_WIDTH / 2 + self.rng.uniform(-6.0, 6.0))
        speed = self.uniform(self.config.cross_speed)
        outcome = self.pick({"head": (0.45, "HEADER"), "head_against": (0.25, "HEADER"), "feet": (0.15, "SHOT"),
                             "out": (0.15, "OUT")})
        if outcome == "out":  # over everyone and over the goal line beyond the far post
            far = PITCH_WIDTH / 2 + (1 if self.ball[1] < PITCH_WIDTH / 2 else -1) * self.uniform((8.0, 20.0))
            self.move((goal_x, far, 1.0), speed, airborne=True)
            return self.out(team, line="goal")
        heading_team = other_team(team) if outcome == "head_against" else team
        box_players = [p for p in team_players(heading_team) if p % PLAYERS_PER_TEAM != 0]
        receiver = self.nearest(box_players, meet)
        if outcome == "feet":
            self.move((meet[0], meet[1], 0.0), speed, airborne=True)
            return lambda: self.shot(team, receiver, "SHOT")
        self.move((meet[0], meet[1], HEADER_HEIGHT), speed, airborne=True)
        return lambda: self.header(heading_team, receiver)

    def header(self, team: str, player: int):
        """HEADER: at goal near the goal it attacks, a clearance near its own, a flick to a team-mate elsewhere."""
        x, y, _ = self.ball
        to_goal = abs(attacked_goal_x(team) - x)
        if to_goal < 16 and abs(y - PITCH_WIDTH / 2) < 12:
            return self.shot(team, player, "HEADER")
        self.act("HEADER", team, player)
        if abs(attacked_goal_x(other_team(team)) - x) < 25:  # a clearance: far up the pitch, to anyone
            direction = 1.0 if attacked_goal_x(team) > x else -1.0
            point = _inside(x + direction * self.uniform((15.0, 28.0)), y + self.rng.uniform(-15, 15), 4.0)
            receiver = self.nearest(range(2 * PLAYERS_PER_TEAM), point)
            self.move((point[0], point[1], 0.0), self.uniform(self.config.header_speed), airborne=True)
            return lambda: self.on_feet(team_of(receiver), receiver)
        receiver, meet = self.mate_at(team, player, (7.0, 15.0), 0.6)
        self.move((meet[0], meet[1], 0.0), self.uniform(self.config.header_speed), airborne=True)
        return lambda: self.on_feet(team, receiver)

    def block_on_the_way(self, team: str, point: tuple[float, float], speed: float, airborne: bool = False):
        """BALL PLAYER BLOCK: an opponent of `team` gets in the ball's way at `point` and it bounces off him."""
        blockers = other_team(team)
        blocker = self.nearest(team_players(blockers), point)
        self.move((point[0], point[1], 0.5 if airborne else 0.0), speed, airborne=airborne)
        self.act("BALL PLAYER BLOCK", blockers, blocker)
        x, y, _ = self.ball
        if self.chance(0.35):  # off him and over a line: a corner, a goal kick or a throw-in
            if abs(attacked_goal_x(team) - x) < 20:
                goal_x = attacked_goal_x(team)
                self.move((goal_x, y + self.rng.uniform(-12, 12), 0.0), self.uniform((7.0, 11.0)))
                return self.out(blockers, line="goal")
            return self.out_of_touch(blockers, self.uniform((7.0, 11.0)), False)
        angle = self.rng.uniform(0, 2 * math.pi)
        length = self.uniform((7.0, 14.0))
        landing = _inside(x + length * math.cos(angle), y + length * math.sin(angle), 4.0)
        receiver = self.nearest(range(2 * PLAYERS_PER_TEAM), landing, exclude=(blocker,))
        self.move((landing[0], landing[1], 0.0), self.uniform((7.0, 11.0)))
        return lambda: self.on_feet(team_of(receiver), receiver)

    def out_of_touch(self, team: str, speed: float, airborne: bool):
        """The ball (last played by `team`) goes over the nearer touchline."""
        x, y, _ = self.ball
        line_y = 0.0 if y < PITCH_WIDTH / 2 else PITCH_WIDTH
        along = min(max(x + self.rng.uniform(-10, 10), 6.0), PITCH_LENGTH - 6.0)
        self.move((along, line_y, 0.0), speed, airborne=airborne)
        return self.out(team, line="touch")

    def out(self, team: str, line: str):
        """OUT at the frame the ball crosses the line; it rolls on, dead; then the restart."""
        self.act("OUT", team, None)
        x, y, _ = self.ball
        self.roll_on(0.3)
        if line == "touch":
            thrower = self.nearest(team_players(other_team(team)), (x, y))
            self.restart_at((x, y, THROW_HEIGHT), thrower)
            return lambda: self.pass_ball(other_team(team), thrower, "THROW IN")
        defending = other_team(team) if attacked_goal_x(team) == x else team
        if defending != team:  # the attackers put it out: a goal kick, long, by the keeper
            keeper = team_players(defending)[0]
            inward = 1.0 if x < 50 else -1.0
            self.restart_at((x + inward * 5.5, PITCH_WIDTH / 2 + self.rng.uniform(-8, 8), 0.0), keeper)
            return lambda: self.pass_ball(defending, keeper, "HIGH PASS")
        attackers = other_team(team)  # the defenders put it out: a corner, crossed
        corner_y = 0.5 if y < PITCH_WIDTH / 2 else PITCH_WIDTH - 0.5
        taker = self.nearest(team_players(attackers), (x, corner_y))
        self.restart_at((x - 0.5 if x > 50 else x + 0.5, corner_y, 0.0), taker)
        return lambda: self.cross(attackers, taker, "CROSS")

    def goal(self, team: str):
        """GOAL at the frame the ball crosses the goal line; into the net; a kick-off by the other team."""
        self.act("GOAL", team, None)
        self.roll_on(0.15)
        conceding = other_team(team)
        taker = team_players(conceding)[9]
        self.restart_at((PITCH_LENGTH / 2, PITCH_WIDTH / 2, 0.0), taker)
        return lambda: self.kick_off(conceding, taker)

    def kick_off(self, team: str, player: int):
        self.act("PASS", team, player)
        receiver = team_players(team)[6]
        back = -1.0 if attacked_goal_x(team) > 50 else 1.0
        meet = (PITCH_LENGTH / 2 + back * self.uniform((8.0, 12.0)), PITCH_WIDTH / 2 + self.rng.uniform(-6, 6))
        self.move((meet[0], meet[1], 0.0), self.uniform(self.config.pass_speed))
        return lambda: self.on_feet(team, receiver)

    def free_kick(self, team: str, player: int):
        x, y, _ = self.ball
        if math.hypot(attacked_goal_x(team) - x, PITCH_WIDTH / 2 - y) < 30:
            return self.shot(team, player, "FREE KICK")
        return self.pass_ball(team, player, "FREE KICK")

    def run(self):
        team = TEAMS_BALL[int(self.rng.integers(2))]
        taker = team_players(team)[9]
        self.restart_at(self.ball, taker)
        self.plan.cuts.clear()  # the game starts on the restart: no cut before it
        step = lambda: self.kick_off(team, taker)  # noqa: E731
        while self.frame < self.plan.frames:
            step = step()
        return self.plan


def plan_ball_game(seed: int, frames: int, config: PlayConfig = PlayConfig()) -> BallPlan:
    """A game of `frames` frames at 25 fps: its actions (those before the last frame), ball path and touches."""
    plan = _Planner(seed, frames, config).run()
    plan.actions = [a for a in plan.actions if a.frame < frames - 1]
    plan.touches = [t for t in plan.touches if t.start < frames]
    plan.cuts = [c for c in plan.cuts if c < frames]
    return plan

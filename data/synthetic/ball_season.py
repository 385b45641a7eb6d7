"""A synthetic Ball Action Spotting season: games of planned play (`data.synthetic.ball_play`) drawn by the
broadcast camera (`data.synthetic.ball_render`), each a game folder as the 2024-2025 data has it: one video,
`1_224p.mkv` (half 1, 25 fps, 398x224 by default), and `Labels-ball.json` with the twelve classes of
`ball-2025`, `team` left/right, `visibility`, `gameTime` "1 - mm:ss" and `position` (milliseconds, a string),
written after the video. Game lists `train.txt`, `valid.txt`, `test.txt` (one game path per line, for
`--split`) and the settings (`ball_season.json`) sit at the season's root. Off unless asked for: the action spotting demo's season is
`data.synthetic.broadcast`'s and does not change.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.games import LABELS_FILE_BALL
from soccerspot.data.labels import Event, GameLabels, write_labels
from soccerspot.data.synthetic.ball_play import FPS, BallPlan, PlayConfig, plan_ball_game
from soccerspot.data.synthetic.ball_render import ball_look, build_scene, render_ball_frame
from soccerspot.data.synthetic.broadcast import VIDEO_NAME, BroadcastConfig, check_config, encode_video
from soccerspot.data.synthetic.parallel import run_render_tasks
from soccerspot.errors import SettingsError

BALL_SPLITS = ("train", "valid", "test")
SEASON_FILE = "ball_season.json"  # the settings the season's games were rendered with


@dataclass(frozen=True)
class BallSeasonConfig:
    """A ball season: games per split, each `minutes` long, drawn from `seed`."""

    train_games: int = 4
    valid_games: int = 1
    test_games: int = 2
    minutes: float = 3.0
    seed: int = 0
    width: int = 398
    height: int = 224
    crf: int = 23

    def games(self, split: str) -> int:
        return getattr(self, f"{split}_games")

    def broadcast(self) -> BroadcastConfig:
        return BroadcastConfig(width=self.width, height=self.height, fps=float(FPS), duration_s=self.minutes * 60.0,
                               crf=self.crf)

    def validate(self) -> "BallSeasonConfig":
        """Raise `SettingsError` naming the first field the season cannot be rendered with."""
        for split in BALL_SPLITS:
            if self.games(split) < 0:
                raise SettingsError(f"{split}_games", f"must be >= 0, got {self.games(split)}")
        if sum(self.games(split) for split in BALL_SPLITS) < 1:
            raise SettingsError("test_games", "a ball season needs at least one game")
        if not self.minutes * 60.0 >= 20.0:
            raise SettingsError("minutes", f"must be at least 1/3 (20 s of play), got {self.minutes:g}")
        for name in ("width", "height"):
            if getattr(self, name) < 16 or getattr(self, name) % 2:
                raise SettingsError(name, f"must be even and >= 16 (H.264 4:2:0), got {getattr(self, name)}")
        return self


def ball_game_labels(plan: BallPlan, url: str) -> GameLabels:
    """The game's `Labels-ball.json` content: each action at its frame's start (frame x 40 ms), half 1, visible
    (the camera follows the ball, so every action is on screen)."""
    events = [Event(half=1, position_ms=round(action.frame * 1000 / FPS), label=action.label, team=action.team)
              for action in plan.actions]
    return GameLabels(url=url, events=events)


def render_ball_game(game_dir: str | Path, seed: int, config: BroadcastConfig = BroadcastConfig(fps=float(FPS)),
                     play: PlayConfig = PlayConfig(), url: str | None = None) -> GameLabels:
    """Plan, draw and encode one game into `game_dir` (`1_224p.mkv`, then `Labels-ball.json`)."""
    check_config(config)
    if config.fps != FPS:
        raise ValueError(f"a ball game is rendered at {FPS} fps (Ball Action Spotting's rate), got {config.fps:g}")
    game_dir = Path(game_dir)
    game_dir.mkdir(parents=True, exist_ok=True)
    frames = int(round(config.duration_s * FPS))
    plan = plan_ball_game(seed, frames, play)
    look = ball_look(seed, config.width, config.height)
    scene = build_scene(plan, seed)
    encode_video(game_dir / VIDEO_NAME.format(half=1), (render_ball_frame(look, scene, f) for f in range(frames)), config)
    labels = ball_game_labels(plan, url or f"synthetic/ball-seed-{seed}")
    write_labels(game_dir / LABELS_FILE_BALL, labels)
    return labels


def ball_game_names(config: BallSeasonConfig) -> dict[str, list[str]]:
    return {split: [f"synthetic_ball/season/{split}-game-{index:02d}" for index in range(config.games(split))]
            for split in BALL_SPLITS}


def ball_game_seed(config: BallSeasonConfig, split: str, index: int) -> int:
    return config.seed * 1000 + 100 * BALL_SPLITS.index(split) + index


def _render_task(task: tuple[Path, int, BroadcastConfig, str]) -> str:
    game_dir, seed, broadcast, url = task
    render_ball_game(game_dir, seed, broadcast, url=url)
    return str(game_dir)


def render_ball_season(root: str | Path, config: BallSeasonConfig = BallSeasonConfig(), workers: int = 1,
                       progress: bool = False) -> dict[str, list[str]]:
    """Render every game of the season under `root`, in `workers` processes, and write the split lists and
    `SEASON_FILE` (the settings); returns the games of each split. A game already there is kept when its labels
    exist (written after its video) and `SEASON_FILE` holds the same settings."""
    config.validate()
    root = Path(root)
    names = ball_game_names(config)
    broadcast = config.broadcast()
    settings = dataclasses.asdict(config)
    try:
        same_settings = json.loads((root / SEASON_FILE).read_text(encoding="utf-8")) == settings
    except (OSError, ValueError):
        same_settings = False
    if not same_settings:  # until every game has the new settings, no game is kept on a rerun
        (root / SEASON_FILE).unlink(missing_ok=True)

    def complete(game: str) -> bool:
        return (root / game / LABELS_FILE_BALL).is_file() and (root / game / VIDEO_NAME.format(half=1)).is_file()

    tasks = [(root / game, ball_game_seed(config, split, index), broadcast, f"synthetic/{game}")
             for split in BALL_SPLITS for index, game in enumerate(names[split])
             if not (same_settings and complete(game))]
    run_render_tasks(_render_task, tasks, workers, progress, "render ball games", "game")
    for split in BALL_SPLITS:
        with atomic_open(root / f"{split}.txt", "w") as handle:
            handle.write("".join(f"{game}\n" for game in names[split]))
    write_json_atomic(root / SEASON_FILE, settings)
    return names

"""`soccerspot ground` on raw video: the checkpoint's features are extracted first, as `spot` does."""
from __future__ import annotations

import torch

from soccerspot.data.cameras import CAMERAS_FILE, DETECTIONS_FILE, read_camera_labels, read_replay_detections, replays_of
from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.synthetic.broadcast import BroadcastConfig, TimelineConfig, make_game
from soccerspot.data.synthetic.replays import ReplayConfig
from soccerspot.models.heads import create_head, head_config
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.cli import main
from test_archive import extractor_settings


def test_ground_a_game_folder_of_videos(tmp_path, capsys):
    game = tmp_path / "game"
    make_game(game, 3, BroadcastConfig(width=128, height=72, fps=5.0, duration_s=90.0, replays=ReplayConfig()),
              TimelineConfig(min_gap_s=8.0, max_gap_s=30.0))
    torch.manual_seed(0)
    config = head_config("baidu-grounding", input_dim=512, num_classes=17, window_frames=20, replay_frames=8)
    save_checkpoint(tmp_path / "ckpt", create_head(config), config, classes=list(CLASS_NAMES_V2),
                    feature_settings=extractor_settings(), fps=2.0, nms=NmsSettings("hard", 25.0, 0.0),
                    extra={"features": "resnet18"})
    code = main(["ground", str(game), "--model", str(tmp_path / "ckpt"), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert (game / "1_resnet18.npy").is_file() and (game / "2_resnet18.npy").is_file()
    replays = replays_of(read_camera_labels(game / CAMERAS_FILE))
    found = read_replay_detections(game / DETECTIONS_FILE)
    assert [(r.half, r.start, r.end) for r in found] == [(r.half, r.start, r.end) for r in replays]
    assert all(d.detections for d in found)

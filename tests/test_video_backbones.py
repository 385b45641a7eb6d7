"""Video backbones: entries read from torchvision's weights metadata, output widths, frozen stages, files."""
from __future__ import annotations

import pytest
import torch

from soccerspot.models.backbones import create_backbone
from soccerspot.models.backbones.video import (
    clip_settings_from_docs, video_backbone_entry, video_backbone_names,
)

REQUIRED = ["video:r3d_18", "video:mc3_18", "video:r2plus1d_18", "video:s3d", "video:mvit_v2_s", "video:swin3d_t"]


def test_the_issue_s_models_are_registered():
    assert set(REQUIRED) <= set(video_backbone_names())


@pytest.mark.parametrize("name", video_backbone_names())
def test_entries_agree_with_torchvision_metadata(name):
    import torchvision

    entry = video_backbone_entry(name)
    enum = torchvision.models.get_model_weights(entry.torchvision_name)
    default = list(enum)[0]
    transforms = default.transforms()
    assert (entry.clip_frames, entry.clip_fps) == clip_settings_from_docs(default.meta["_docs"])
    assert [entry.input_size] == list(transforms.crop_size)[:1]
    assert list(entry.mean) == list(transforms.mean) and list(entry.std) == list(transforms.std)
    assert [w.tag for w in entry.weights] == [w.name for w in enum]
    assert entry.weights[0].imagenet_top1 == default.meta["_metrics"]["Kinetics-400"]["acc@1"]


def test_clip_settings_parse_torchvision_docs():
    docs = "estimated on video-level with parameters `frame_rate=7.5`, `clips_per_video=5`, and `clip_len=16`"
    assert clip_settings_from_docs(docs) == (16, 7.5)
    with pytest.raises(ValueError):
        clip_settings_from_docs("no clip here")


@pytest.mark.parametrize("name, frames, size", [("video:r3d_18", 8, 32), ("video:r2plus1d_18", 8, 32),
                                                ("video:swin3d_t", 4, 64)])
def test_output_width_is_the_entry_s(name, frames, size):
    backbone = create_backbone(name, weights="none").eval()
    with torch.no_grad():
        out = backbone(torch.randn(2, 3, frames, size, size))
    assert out.shape == (2, video_backbone_entry(name).feature_dim)
    assert backbone.weights_id == "none" and backbone.clip_frames == video_backbone_entry(name).clip_frames


def test_none_weights_are_the_same_every_build():
    first, second = (create_backbone("video:r3d_18", weights="none") for _ in range(2))
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_only_the_last_stage_trains_and_frozen_stages_stay_in_eval():
    backbone = create_backbone("video:r3d_18", weights="none", trainable_stages=1).train()
    trainable = {name.split(".")[1] for name, p in backbone.named_parameters() if p.requires_grad}
    assert trainable == {"layer4"}
    assert not backbone.body.layer3.training and backbone.body.layer4.training


def test_a_weights_file_round_trips_and_is_identified(tmp_path):
    source = create_backbone("video:r3d_18", weights="none")
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.add_(0.01)
    path = tmp_path / "r3d.pt"
    torch.save({f"backbone.body.{k}": v for k, v in source.body.state_dict().items()}, path)
    loaded = create_backbone("video:r3d_18", weights=str(path))
    assert loaded.weights_id.startswith("file:")
    for a, b in zip(source.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)

"""build_backbone: dimensions, weights identity, checkpoint files, offline ImageNet, partial freezing."""
from __future__ import annotations

import urllib.error

import pytest
import torch

from soccerspot.models.backbones import BackboneWeightsError, backbone_entry, backbone_names, build_backbone


def test_resnet18_pooled_features_and_seeded_none_weights():
    first = build_backbone("resnet18", weights="none").eval()
    second = build_backbone("resnet18", weights="none").eval()
    assert first.feature_dim == 512 and first.weights_id == "none"
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = first(images)
        assert out.shape == (2, 512)
        torch.testing.assert_close(out, second(images))  # 'none' is the same every run


def test_resnet152_gives_2048_d_penultimate_features():
    backbone = build_backbone("resnet152", weights="none").eval()
    assert backbone.feature_dim == 2048
    with torch.no_grad():
        assert backbone(torch.randn(1, 3, 64, 64)).shape == (1, 2048)


def test_timm_model_pooled_features():
    backbone = build_backbone("timm:regnety_002", weights="none").eval()
    assert backbone.feature_dim == 368 and backbone.name == "timm:regnety_002"
    with torch.no_grad():
        assert backbone(torch.randn(2, 3, 64, 64)).shape == (2, 368)


def test_timm_feature_dim_is_the_output_width_with_a_pre_logits_layer():
    backbone = build_backbone("timm:mobilenetv3_small_100", weights="none").eval()
    with torch.no_grad():
        out = backbone(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, backbone.feature_dim) and backbone.feature_dim == 1024


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("vgg16", weights="none")


def trainable_prefixes(backbone) -> set[str]:
    return {name.split(".")[1] for name, p in backbone.named_parameters() if p.requires_grad}


def test_trainable_stages_freezes_all_but_the_last_n():
    assert trainable_prefixes(build_backbone("resnet18", weights="none")) == set()
    assert trainable_prefixes(build_backbone("resnet18", weights="none", trainable_stages=1)) == {"layer4"}
    assert trainable_prefixes(build_backbone("resnet18", weights="none", trainable_stages=2)) == {"layer3", "layer4"}
    everything = build_backbone("resnet18", weights="none", trainable_stages=5)
    assert all(p.requires_grad for p in everything.parameters())
    timm_model = build_backbone("timm:regnety_002", weights="none", trainable_stages=1)
    assert trainable_prefixes(timm_model) == {"s4"}


def test_frozen_stages_stay_in_eval_mode_when_training():
    backbone = build_backbone("resnet18", weights="none", trainable_stages=1).train()
    assert backbone.body.layer4.training
    assert not backbone.body.layer3.training and not backbone.body.bn1.training
    before = backbone.body.layer3[0].bn1.running_mean.clone()
    backbone(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(backbone.body.layer3[0].bn1.running_mean, before)


def test_checkpoint_file_from_finetune_with_backbone_prefix(tmp_path):
    source = build_backbone("resnet18", weights="none")
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.add_(0.5)
    state = {f"backbone.{key}": value for key, value in source.state_dict().items()}
    state["head.fc.weight"] = torch.zeros(3, 512)
    path = tmp_path / "finetuned.pt"
    torch.save({"state_dict": state}, path)
    loaded = build_backbone("resnet18", weights=str(path))
    assert loaded.weights_id.startswith("file:") and len(loaded.weights_id) == len("file:") + 16
    for (name, expected), actual in zip(source.state_dict().items(), loaded.state_dict().values()):
        torch.testing.assert_close(actual, expected, msg=name)


def test_plain_torchvision_state_dict_with_classifier(tmp_path):
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(model.state_dict(), path)
    loaded = build_backbone("resnet18", weights=str(path))
    torch.testing.assert_close(loaded.body.conv1.weight, model.conv1.weight)


def test_bad_checkpoint_files_are_refused(tmp_path):
    wrong = tmp_path / "resnet18.pt"
    torch.save(build_backbone("resnet18", weights="none").state_dict(), wrong)
    with pytest.raises(BackboneWeightsError, match="does not match"):
        build_backbone("resnet34", weights=str(wrong))
    with pytest.raises(BackboneWeightsError, match="not found"):
        build_backbone("resnet18", weights=str(tmp_path / "missing.pt"))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(BackboneWeightsError, match="not a readable weights file"):
        build_backbone("resnet18", weights=str(garbage))


def test_imagenet_offline_says_how_to_supply_weights(monkeypatch, tmp_path):
    api = pytest.importorskip("torchvision.models._api")
    if not hasattr(api, "load_state_dict_from_url"):
        pytest.skip("this torchvision loads weights differently")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(BackboneWeightsError) as caught:
        build_backbone("resnet18", weights="imagenet")
    message = str(caught.value)
    assert "resnet18-f37072fd.pth" in message and "hub" in message and "--weights" in message


def test_timm_imagenet_offline_fails_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(BackboneWeightsError) as caught:
        build_backbone("timm:regnety_002", weights="imagenet")
    assert "hf download timm/regnety_002" in str(caught.value) and "--weights" in str(caught.value)


# --- the registry's data against the libraries' own metadata and the built models -------------------------


@pytest.mark.parametrize("name", [name for name in backbone_names() if backbone_entry(name).library == "torchvision"])
def test_registered_entries_agree_with_torchvision(name):
    import torchvision

    entry = backbone_entry(name)
    assert entry.library == "torchvision" and "He et al." in entry.paper
    enum = torchvision.models.get_model_weights(name)
    assert [w.tag for w in entry.weights] == [tag for tag in enum.__members__ if tag != "DEFAULT"]  # V1 first
    for weights in entry.weights:
        spec = enum[weights.tag]
        transforms = spec.transforms()
        assert weights.imagenet_top1 == spec.meta["_metrics"]["ImageNet-1K"]["acc@1"]
        assert list(entry.mean) == list(transforms.mean) and list(entry.std) == list(transforms.std)
        assert [entry.input_size] == list(transforms.crop_size)
        assert enum.__name__ in weights.source
    assert entry.pretrained().tag == "IMAGENET1K_V1"  # what plain "imagenet" loads


def test_registered_feature_width_is_what_the_model_returns():
    for name in ("resnet18", "resnet50"):
        backbone = build_backbone(name, weights="none").eval()
        with torch.no_grad():
            out = backbone(torch.randn(1, 3, 64, 64))
        assert out.shape == (1, backbone_entry(name).feature_dim) and backbone.input_size == 224


def test_timm_entry_comes_from_timms_pretrained_config():
    import timm

    entry = backbone_entry("timm:regnety_002")
    cfg = timm.create_model("regnety_002", pretrained=False).pretrained_cfg
    assert entry.library == "timm" and entry.input_size == cfg["input_size"][-1]
    assert entry.mean == tuple(cfg["mean"]) and entry.feature_dim == 368
    assert entry.weights[0].tag == f"timm/{cfg['hf_hub_id']}"


def test_unknown_weight_tags_list_the_known_ones():
    with pytest.raises(BackboneWeightsError, match="no weights 'IMAGENET1K_V2'; known: IMAGENET1K_V1"):
        build_backbone("resnet18", weights="imagenet:IMAGENET1K_V2")
    with pytest.raises(ValueError, match="unknown backbone"):
        backbone_entry("vgg16")

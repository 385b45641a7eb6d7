"""models.finetune: exactly the intended parameters train, the frozen stages keep no autograd state."""
from __future__ import annotations

import pytest
import torch

from soccerspot.models.backbones import create_backbone, normalize_images
from soccerspot.models.finetune import BackboneHeadModel, first_trainable_module
from soccerspot.models.heads import create_head, head_config


def make_model(trainable_stages: int = 1, checkpointing: bool = False) -> BackboneHeadModel:
    backbone = create_backbone("resnet18", weights="none", trainable_stages=trainable_stages)
    head = create_head(head_config("netvlad++", input_dim=512, num_classes=3, window_frames=4, clusters=8,
                                  projection_dim=16))
    return BackboneHeadModel(backbone, head, gradient_checkpointing=checkpointing)


def clips(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (2, 4, 3, 48, 80), dtype=torch.uint8, generator=generator)


def train_steps(model: BackboneHeadModel, steps: int = 3) -> None:
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    targets = torch.tensor([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    model.train()
    for step in range(steps):
        loss = torch.nn.functional.binary_cross_entropy(model(clips(step)), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("checkpointing", [False, True])
def test_only_the_last_stage_and_the_head_change_and_frozen_batchnorm_buffers_stay(checkpointing):
    model = make_model(checkpointing=checkpointing)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    train_steps(model)
    after = model.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    for name in before:
        trainable = name.startswith(("backbone.body.layer4.", "head."))
        if not trainable:
            assert name not in changed, f"{name} is frozen but changed"
    # every trainable weight moved, and layer4's BatchNorm statistics are updated (it trains)
    assert {n for n, p in model.named_parameters() if p.requires_grad} <= changed
    assert "backbone.body.layer4.0.bn1.running_mean" in changed
    assert "backbone.body.layer3.1.bn2.running_mean" not in changed
    assert "backbone.body.bn1.num_batches_tracked" not in changed


def test_frozen_stages_hold_no_autograd_graph():
    model = make_model().train()
    start = first_trainable_module(model.backbone)
    seen = {}

    def record(module, args, output):
        seen[module] = output.requires_grad or output.grad_fn is not None

    handles = [model.backbone.body.get_submodule(name).register_forward_hook(record)
               for name in ("layer1", "layer2", "layer3", "layer4")]
    try:
        model(clips()).sum().backward()
    finally:
        for handle in handles:
            handle.remove()
    by_name = {name: seen[model.backbone.body.get_submodule(name)] for name in ("layer1", "layer2", "layer3", "layer4")}
    assert by_name == {"layer1": False, "layer2": False, "layer3": False, "layer4": True}
    assert start is model.backbone.body.layer4
    assert torch.is_grad_enabled()  # the hook's switch does not leak out of the forward pass


def test_features_equal_the_plain_backbone_and_forward_equals_head_on_them():
    model = make_model().eval()
    batch = clips()
    with torch.no_grad():
        images = batch.flatten(0, 1)
        expected = model.backbone(normalize_images(images, model.backbone.mean, model.backbone.std))
        features = model.features(images)
        torch.testing.assert_close(features, expected)
        torch.testing.assert_close(model(batch), model.head(features.view(2, 4, -1)))


def test_checkpointing_gives_the_same_gradients():
    plain, checkpointed = make_model(), make_model(checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    for model in (plain, checkpointed):
        model.eval()  # no dropout, no BatchNorm statistics: the two passes must agree exactly in maths
        model(clips()).sum().backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), checkpointed.named_parameters()):
        if a.requires_grad:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_all_frozen_trains_the_head_only_and_bad_clips_are_refused():
    model = make_model(trainable_stages=0)
    before = {name: value.clone() for name, value in model.backbone.state_dict().items()}
    train_steps(model, steps=1)
    assert all(torch.equal(before[name], value) for name, value in model.backbone.state_dict().items())
    with pytest.raises(ValueError, match="batch, T, 3, H, W"):
        model(torch.zeros(4, 3, 48, 80, dtype=torch.uint8))

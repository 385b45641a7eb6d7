"""T-DEED (`models.dense.tdeed`) against the authors' whole model (`TDEEDModel.Impl` of
SoccerNet/sn-teamspotting, with its team head, and of arturxe2/T-DEED), same random weights and non-trivial
BatchNorm statistics; their checkpoints (their `Impl.state_dict()` saved with `torch.save`, as their train
script does) through `models.dense.tdeed_peer`.

Their `Impl` asks timm for ImageNet weights (`pretrained=True`); the tests make timm build without them.
Their `update_pred_head` (joint training) moves the new head to CUDA; the tests set the same `FC2Layers`
head on the CPU."""
import json
import types

import pytest
import timm
import torch
from peer_code import imported_from, peer_repo

from soccerspot.errors import DataError, SettingsError
from soccerspot.models.dense.registry import (
    PAD_BLACK, create_dense_model, dense_model_entry, list_dense_models, load_dense_peer_folder,
)
from soccerspot.models.dense.tdeed import TDEED, TDEEDConfig
from soccerspot.models.dense.tdeed_classes import SOCCERNET_BALL_CLASSES, SOCCERNET_V2_CLASSES
from soccerspot.models.dense.tdeed_peer import (
    convert_tdeed_state_dict, is_tdeed_folder, load_tdeed_folder, tdeed_config_from_peer,
)

CLIP = 16
HEIGHT, WIDTH = 64, 112
# sn-teamspotting's config/SoccerNetBall/SoccerNetBall_baseline.json, with a short clip for the tests.
BASELINE = {
    "frame_dir": "/path/to/soccernetball/frames", "save_dir": "/path/to/save", "store_mode": "store",
    "batch_size": 4, "clip_len": CLIP, "crop_dim": -1, "dataset": "soccernetball", "event_team": True,
    "radi_displacement": 4, "epoch_num_frames": 500000, "feature_arch": "rny002_gsf", "learning_rate": 0.0008,
    "mixup": True, "modality": "rgb", "num_classes": 12, "num_epochs": 35, "warm_up_epochs": 3,
    "start_val_epoch": 15, "temporal_arch": "ed_sgp_mixer", "n_layers": 2, "sgp_ks": 9, "sgp_r": 4,
    "only_test": False, "criterion": "map", "num_workers": 4,
    "joint_train": {"frame_dir": "/path/to/soccernet/frames", "dataset": "soccernet", "num_classes": 17},
}
# arturxe2's config/SoccerNet/SoccerNet_big.json (rny008_gsf, 3 levels, kernel 11), short clip.
SOCCERNET_BIG = {
    "clip_len": CLIP, "crop_dim": -1, "dataset": "soccernet", "radi_displacement": 3, "feature_arch": "rny008_gsf",
    "modality": "rgb", "num_classes": 17, "temporal_arch": "ed_sgp_mixer", "n_layers": 3, "sgp_ks": 11, "sgp_r": 4,
}


@pytest.fixture
def no_download(monkeypatch):
    create = timm.create_model
    monkeypatch.setattr(timm, "create_model", lambda name, pretrained=False, **kw: create(name, pretrained=False, **kw))


def their_impl(root, config: dict, seed: int):
    """Their `TDEEDModel.Impl` from a config as their train script reads it, random weights, eval mode."""
    args = types.SimpleNamespace(**{**config, "crop_dim": None if config["crop_dim"] <= 0 else config["crop_dim"]})
    args.event_team = config.get("event_team", False)
    with imported_from(root):
        from model.model import TDEEDModel
        from model.modules import FC2Layers
        torch.manual_seed(seed)
        impl = TDEEDModel.Impl(args=args)
        joint = config.get("joint_train") or config.get("pretrain")
        if joint:  # their update_pred_head, without its .cuda()
            impl._pred_fine = FC2Layers(impl._feat_dim, [config["num_classes"] + 1, joint["num_classes"] + 1])
            impl._double_head = True
    randomise(impl, seed)
    return impl.eval()


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Random weights everywhere, and BatchNorm running statistics away from (0, 1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.05 if p.dim() > 1 else 0.2
            p.add_(torch.randn(p.shape, generator=generator) * scale)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)


def frames(seed: int, batch: int = 1) -> torch.Tensor:
    """uint8-valued frames (B, T, 3, H, W) as float, as their dataset gives them."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, CLIP, 3, HEIGHT, WIDTH), generator=generator).float()


def their_outputs(impl, x: torch.Tensor, num_classes: int) -> dict:
    with torch.no_grad():
        out, _ = impl(x.clone(), inference=True)
    if not isinstance(out, dict):  # arturxe2 without displacement returns the logits alone
        out = {"im_feat": out}
    return {"probs": torch.softmax(out["im_feat"][..., :num_classes + 1], dim=2),
            "displ": out.get("displ_feat"), "team": out.get("team_feat")}


def our_outputs(model: TDEED, x: torch.Tensor) -> dict:
    with torch.no_grad():
        out = model(model.input_spec.normalise(x))
    return {"probs": out.logits.softmax(dim=2), "displ": out.displacement, "team": out.team}


def assert_same(ours: dict, theirs: dict) -> None:
    for name in ("probs", "displ", "team"):
        if theirs[name] is None:
            assert ours[name] is None, name
        else:
            torch.testing.assert_close(ours[name], theirs[name], atol=1e-4, rtol=0, msg=lambda m: f"{name}: {m}")


def ours_from(impl, config: dict) -> TDEED:
    ours_config = tdeed_config_from_peer(config)
    model = TDEED(ours_config).eval()
    joint = config.get("joint_train") or config.get("pretrain")
    state, _ = convert_tdeed_state_dict(impl.state_dict(), ours_config, joint and joint["num_classes"])
    model.load_state_dict(state, strict=True)
    return model


def test_team_spotting_model_matches_theirs(peer_code_root, no_download):
    """sn-teamspotting's baseline (rny002_gsf, ed_sgp_mixer, displacement, team, joint-training heads)."""
    impl = their_impl(peer_repo("SoccerNet/sn-teamspotting", peer_code_root), BASELINE, seed=0)
    model = ours_from(impl, BASELINE)
    x = frames(1, batch=2)
    theirs = their_outputs(impl, x, 12)
    assert theirs["team"] is not None and theirs["displ"] is not None
    assert_same(our_outputs(model, x), theirs)
    assert theirs["probs"].std(dim=1).mean() > 1e-3  # the frames of a clip differ: the test sees the network


def test_soccernet_rny008_matches_theirs(peer_code_root, no_download):
    """arturxe2's SoccerNet_big network (rny008_gsf, 3 levels, kernel 11, displacement, no team head)."""
    config = {**SOCCERNET_BIG, "clip_len": CLIP // 2}
    impl = their_impl(peer_repo("arturxe2/T-DEED", peer_code_root), config, seed=2)
    model = ours_from(impl, config)
    x = frames(3)[:, :CLIP // 2]
    assert_same(our_outputs(model, x), their_outputs(impl, x, 17))


def test_without_shift_or_displacement_matches_theirs(peer_code_root, no_download):
    """A plain RegNetY (their GSM builds CUDA tensors, so it cannot run here), no displacement, a crop."""
    config = {**SOCCERNET_BIG, "feature_arch": "rny002", "radi_displacement": 0, "n_layers": 1, "sgp_ks": 5,
              "crop_dim": 48}
    impl = their_impl(peer_repo("arturxe2/T-DEED", peer_code_root), config, seed=4)
    model = ours_from(impl, config)
    assert not model.has_displacement and model.config.crop_dim == 48
    x = frames(5)
    assert_same(our_outputs(model, x), their_outputs(impl, x, 17))


def write_their_folder(folder, impl, config: dict, name: str = "SoccerNetBall_baseline.json") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(impl.state_dict(), folder / "checkpoint_best.pt")
    (folder / name).write_text(json.dumps(config, indent=4))
    (folder / "loss.json").write_text(json.dumps([{"epoch": 0, "train": 1.0, "val": 1.0, "val_mAP": 0}]))


def test_their_checkpoint_folder_loads_with_the_same_outputs(peer_code_root, no_download, tmp_path):
    impl = their_impl(peer_repo("SoccerNet/sn-teamspotting", peer_code_root), BASELINE, seed=6)
    write_their_folder(tmp_path / "run", impl, BASELINE)
    assert is_tdeed_folder(tmp_path / "run") and not is_tdeed_folder(tmp_path)
    model = load_tdeed_folder(tmp_path / "run")
    assert not model.training
    assert model.classes == SOCCERNET_BALL_CLASSES and model.has_team and model.has_displacement
    assert model.input_spec.padding == PAD_BLACK
    c = model.config
    assert (c.frame_stride, c.clip_overlap, c.start_pad, c.source_fps) == (2, CLIP // 4 * 3, 5, 25.0)
    x = frames(7)
    assert_same(our_outputs(model, x), their_outputs(impl, x, 12))
    by_file = load_tdeed_folder(tmp_path / "run" / "checkpoint_best.pt")  # the checkpoint names its folder
    peer = load_dense_peer_folder(tmp_path / "run")  # the registered folder format
    assert (peer.variant, peer.frame_recipe, peer.classes) == ("T-DEED", "tdeed-ball", SOCCERNET_BALL_CLASSES)
    assert peer.checkpoint == tmp_path / "run" / "checkpoint_best.pt"
    for key, value in model.state_dict().items():
        assert torch.equal(by_file.state_dict()[key], value), key
        assert torch.equal(peer.model.state_dict()[key], value), key


def test_peer_configs_decide_classes_and_frames():
    ball = tdeed_config_from_peer({**BASELINE, "clip_len": 100})
    assert ball.classes == SOCCERNET_BALL_CLASSES and ball.frame_stride == 2 and ball.clip_overlap == 75
    assert ball.frame_fps == 12.5 and ball.event_team and ball.crop_dim is None
    soccernet = tdeed_config_from_peer({**SOCCERNET_BIG, "clip_len": 100})
    assert soccernet.classes == SOCCERNET_V2_CLASSES and soccernet.frame_stride == 12
    assert soccernet.clip_overlap == 50 and not soccernet.event_team  # arturxe2's evaluation: 1/2 on SoccerNet
    teams_soccernet = tdeed_config_from_peer({**SOCCERNET_BIG, "clip_len": 100, "event_team": False})
    assert teams_soccernet.clip_overlap == 75  # sn-teamspotting's train script: 3/4 everywhere


def test_soccernet_classes_are_the_official_order():
    from soccerspot.data.classes import CLASS_NAMES_V2
    assert tuple(CLASS_NAMES_V2) == SOCCERNET_V2_CLASSES


def test_registered_with_their_published_configs():
    names = [n for n in list_dense_models() if n.startswith("tdeed")]
    assert "tdeed-soccernetball-baseline" in names and "tdeed-soccernet-big" in names
    entry = dense_model_entry("tdeed-soccernetball-baseline")
    assert "sn-teamspotting" in entry.paper and entry.defaults["event_team"] is True
    assert "T-DEED" in dense_model_entry("tdeed-soccernetball-challenge2").paper
    model = create_dense_model("tdeed-soccernet-small", clip_len=CLIP).eval()
    assert (model.clip_len, model.num_classes, model.has_displacement, model.has_team) == (CLIP, 17, True, False)
    out = model(torch.zeros(1, CLIP, 3, HEIGHT, WIDTH))
    assert out.logits.shape == (1, CLIP, 18) and out.displacement.shape == (1, CLIP) and out.team is None


def test_rny008_builds_their_parameter_shapes(peer_code_root, no_download):
    """The full-size published network (clip 100, rny008_gsf, SoccerNet_big) has exactly their parameters."""
    config = {**SOCCERNET_BIG, "clip_len": 100}
    args = types.SimpleNamespace(**{**config, "crop_dim": None, "event_team": False})
    with imported_from(peer_repo("arturxe2/T-DEED", peer_code_root)):
        from model.model import TDEEDModel
        theirs = TDEEDModel.Impl(args=args).state_dict()
    ours_config = tdeed_config_from_peer(config)
    converted, _ = convert_tdeed_state_dict(theirs, ours_config)
    expected = TDEED(ours_config).state_dict()
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in expected.items()}


def test_config_round_trips_through_json():
    config = tdeed_config_from_peer({**BASELINE, "clip_len": 100})
    assert TDEEDConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    with pytest.raises(SettingsError, match="not a T-DEED setting"):
        TDEEDConfig.from_json({**config.to_json(), "batch_size": 4})


def test_forward_refuses_a_clip_of_another_length():
    model = create_dense_model("tdeed-soccernetball-challenge1", clip_len=CLIP)
    with pytest.raises(ValueError, match=f"B, {CLIP}, 3, H, W"):
        model(torch.zeros(1, CLIP - 1, 3, HEIGHT, WIDTH))


# Bad input: one clear DataError naming the file.


@pytest.fixture(scope="module")
def baseline_state():
    """A state dict with their key names, built from ours by the inverse renaming (no peer code needed)."""
    config = tdeed_config_from_peer(BASELINE)
    model = TDEED(config)
    with_their_names = {}
    for key, value in model.state_dict().items():
        key = key.replace("temporal.temporal_encoding.weight", "temp_enc")
        key = key.replace("temporal.encoder_decoder.mixers.", "_temp_fine._sgpMixer.")
        key = key.replace("temporal.encoder_decoder.blocks.", "_temp_fine._sgp.")
        key = key.replace("temporal.class_head.fc.", "_pred_fine._fc1._fc_out.")
        key = key.replace("temporal.displacement_head.fc.", "_pred_displ._fc_out.")
        key = key.replace("temporal.team_head.fc.", "_pred_team._fc_out.")
        key = key.replace("backbone.regnet.", "_features.")
        key = key.replace("conv1.layer.", "conv1.net.").replace("conv1.shift.gates.conv.", "conv1.gs.conv3D.")
        key = key.replace("conv1.shift.gates.norm.", "conv1.gs.bn.")
        key = key.replace("conv1.shift.fuse.0.", "conv1.gs.channel_conv1.").replace("conv1.shift.fuse.1.", "conv1.gs.channel_conv2.")
        with_their_names[key] = value
    with_their_names["_pred_fine._fc2._fc_out.weight"] = torch.zeros(18, 368)
    with_their_names["_pred_fine._fc2._fc_out.bias"] = torch.zeros(18)
    return with_their_names


def folder_with(tmp_path, state: dict, config: dict, name: str = "SoccerNetBall_baseline.json"):
    folder = tmp_path / "run"
    folder.mkdir(parents=True)
    torch.save(state, folder / "checkpoint_best.pt")
    (folder / name).write_text(json.dumps(config))
    return folder


def test_inverse_renaming_loads(tmp_path, baseline_state):
    load_tdeed_folder(folder_with(tmp_path, baseline_state, BASELINE))  # the fixture itself is right


@pytest.mark.parametrize("change,message", [
    ({"feature_arch": "rny004_gsf"}, "feature_arch: T-DEED has no feature_arch 'rny004_gsf'"),
    ({"feature_arch": "resnet50_gsf"}, "feature_arch: T-DEED has no feature_arch 'resnet50_gsf'"),
    ({"temporal_arch": "gru"}, "temporal_arch: T-DEED has no temporal_arch 'gru'"),
    ({"dataset": "finediving"}, "dataset 'finediving' is not one soccerspot spots with T-DEED"),
    ({"num_classes": 11}, "classes: 12 class names for num_classes=11"),
    ({"sgp_ks": 4}, "sgp_ks: must be odd"),
    ({"modality": "flow"}, "modality 'flow': T-DEED runs on rgb only"),
])
def test_config_we_cannot_run_is_refused(tmp_path, baseline_state, change, message):
    folder = folder_with(tmp_path, baseline_state, {**BASELINE, **change})
    with pytest.raises(DataError, match="SoccerNetBall_baseline.json: " + message.replace("(", r"\(").replace(")", r"\)")):
        load_tdeed_folder(folder)


def test_config_without_network_keys_is_refused(tmp_path, baseline_state):
    config = {k: v for k, v in BASELINE.items() if k not in ("sgp_r", "n_layers")}
    with pytest.raises(DataError, match="SoccerNetBall_baseline.json: not a T-DEED config: no n_layers, sgp_r"):
        load_tdeed_folder(folder_with(tmp_path, baseline_state, config))


def test_state_dict_without_the_team_head_is_refused(tmp_path, baseline_state):
    state = {k: v for k, v in baseline_state.items() if not k.startswith("_pred_team.")}
    with pytest.raises(DataError, match=r"checkpoint_best.pt: does not match SoccerNetBall_baseline.json "
                                        r"\(rny002_gsf, 12 classes\): missing 2 \(temporal.team_head.fc.bias, "
                                        r"temporal.team_head.fc.weight\)"):
        load_tdeed_folder(folder_with(tmp_path, state, BASELINE))


def test_state_dict_of_another_network_is_refused(tmp_path, baseline_state):
    state = dict(baseline_state)
    state["_pred_fine._fc1._fc_out.weight"] = torch.zeros(18, 368)
    state["_temp_fine._extra.weight"] = torch.zeros(3)
    with pytest.raises(DataError, match=r"unexpected 1 \(_temp_fine._extra.weight\); wrong shape 1 "
                                        r"\(_pred_fine._fc1._fc_out.weight \(18, 368\) \(config: \(13, 368\)\)\)"):
        load_tdeed_folder(folder_with(tmp_path, state, BASELINE))


def test_joint_training_heads_must_match_the_config(tmp_path, baseline_state):
    no_joint = {k: v for k, v in BASELINE.items() if k != "joint_train"}
    with pytest.raises(DataError, match=r"unexpected 4 \(_pred_fine._fc1._fc_out.bias"):
        load_tdeed_folder(folder_with(tmp_path / "a", baseline_state, no_joint))
    wrong_joint = {**BASELINE, "joint_train": {"dataset": "soccernet", "num_classes": 16}}
    with pytest.raises(DataError, match=r"_pred_fine._fc2._fc_out.weight has 18 outputs; .* 16 \+ 1"):
        load_tdeed_folder(folder_with(tmp_path / "b", baseline_state, wrong_joint))
    single = {k: v for k, v in baseline_state.items() if not k.startswith("_pred_fine._fc2.")}
    with pytest.raises(DataError, match=r"no _pred_fine._fc2._fc_out.weight: the config names a joint-training"):
        load_tdeed_folder(folder_with(tmp_path / "c", single, BASELINE))


def test_folder_without_a_config_or_with_two(tmp_path, baseline_state):
    folder = folder_with(tmp_path, baseline_state, BASELINE)
    (folder / "SoccerNetBall_baseline.json").unlink()
    with pytest.raises(DataError, match=r"run: no T-DEED config \(a JSON with feature_arch and temporal_arch\)"):
        load_tdeed_folder(folder)
    (folder / "a.json").write_text(json.dumps(BASELINE))
    (folder / "b.json").write_text(json.dumps(BASELINE))
    with pytest.raises(DataError, match=r"several T-DEED configs \(a.json, b.json\)"):
        load_tdeed_folder(folder)


def test_checkpoint_that_is_not_a_state_dict(tmp_path, baseline_state):
    folder = folder_with(tmp_path, baseline_state, BASELINE)
    (folder / "checkpoint_best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="checkpoint_best.pt: not a PyTorch state dict"):
        load_tdeed_folder(folder)
    (folder / "checkpoint_best.pt").unlink()
    with pytest.raises(DataError, match="checkpoint_best.pt: no such checkpoint"):
        load_tdeed_folder(folder)

"""TSM, GSM and GSF in a RegNetY (`models.dense.temporal_shift`): against independent definitions, and against
the peers' own modules (E2E-Spot's `model/shift.py` for TSM and GSM, sn-teamspotting's for GSF) with the same
random weights
(compared in float64, where they agree to rounding)."""
from __future__ import annotations

import pytest
import timm
import torch

from dense_peer_helpers import peer_modules, randomize, renamed
from peer_code import peer_repo
from soccerspot.models.dense.temporal_shift import (
    GateShift, GateShiftFuse, ShiftedRegNet, TemporalShift, gate_fold, peer_renames, shift_frames,
)

torch.set_num_threads(2)
CLIP = 4
SIZE = (64, 112)


def test_shift_frames_matches_indexing():
    x = torch.randn(2, 3, 5, 2)
    ahead, behind = shift_frames(x, 1), shift_frames(x, -1)
    for t in range(5):
        assert torch.equal(ahead[:, :, t], x[:, :, t + 1] if t < 4 else torch.zeros_like(x[:, :, 0]))
        assert torch.equal(behind[:, :, t], x[:, :, t - 1] if t > 0 else torch.zeros_like(x[:, :, 0]))


def test_tsm_moves_one_eighth_each_way():
    x = torch.randn(2 * CLIP, 16, 3, 3)
    y = TemporalShift(16, CLIP)(x).view(2, CLIP, 16, 3, 3)
    clips = x.view(2, CLIP, 16, 3, 3)
    assert torch.equal(y[:, :-1, :2], clips[:, 1:, :2]) and not y[:, -1, :2].any()
    assert torch.equal(y[:, 1:, 2:4], clips[:, :-1, 2:4]) and not y[:, 0, 2:4].any()
    assert torch.equal(y[:, :, 4:], clips[:, :, 4:])


def test_gate_fold_is_e2e_spots_rounding():
    # ceil((c // 4) / 4) * 4 for regnety_002's block inputs
    assert [gate_fold(c) for c in (32, 24, 56, 152, 368)] == [8, 8, 16, 40, 92]


def test_gsm_at_init_only_interleaves_the_gated_channels():
    """With its zero-initialised gate nothing moves in time; each half of the gated channels comes out
    with its two quarters alternating (channel 2i + j <- j * fold/4 + i)."""
    channels = 24
    x = torch.randn(2 * CLIP, channels, 3, 3)
    y = GateShift(channels, CLIP).eval()(x)
    fold = gate_fold(channels)
    quarter = fold // 4
    order = [base + j * quarter + i for base in (0, fold // 2) for i in range(quarter) for j in range(2)]
    assert torch.allclose(y[:, :fold], x[:, order])
    assert torch.equal(y[:, fold:], x[:, fold:])


def test_gsf_keeps_the_unshifted_part_where_its_fuse_weight_is_zero():
    """Zero gates shift nothing and a fuse weight of sigmoid(-100) keeps only the unshifted part: GSF is then
    GSM at init, a permutation of the gated channels."""
    gsf, gsm = GateShiftFuse(24, CLIP).eval(), GateShift(24, CLIP).eval()
    torch.nn.init.zeros_(gsf.gates.conv.weight)
    torch.nn.init.zeros_(gsf.gates.conv.bias)
    for conv in gsf.fuse:
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.constant_(conv.bias, -100.0)
    x = torch.randn(2 * CLIP, 24, 3, 3)
    assert torch.allclose(gsf(x), gsm(x))


def _peer_and_ours(root, monkeypatch, kind: str, stages, shortcut: bool):
    torch.manual_seed(0)
    with peer_modules(root, monkeypatch):
        from model.shift import make_temporal_shift
        peer = timm.create_model("regnety_002", pretrained=False)
        peer.head.fc = torch.nn.Identity()
        if kind == "gsf":
            make_temporal_shift(peer, CLIP, mode="gsf")
        else:
            make_temporal_shift(peer, CLIP, is_gsm=kind == "gsm")
    randomize(peer, seed=1)
    ours = ShiftedRegNet(timm.create_model("regnety_002", pretrained=False), kind=kind, clip_len=CLIP,
                         stages=stages, shift_shortcut=shortcut).eval()
    ours.regnet.load_state_dict(renamed(peer.state_dict(), peer_renames(kind, shift_shortcut=shortcut)))
    # float64: the two differ only by rounding (fp32: up to 5e-4 on features of magnitude 30)
    return peer.double(), ours.double()


@pytest.mark.parametrize("kind", ["tsm", "gsm"])
def test_shifted_regnet_equals_e2e_spot(kind, peer_code_root, monkeypatch):
    root = peer_repo("jhong93/spot", peer_code_root)
    peer, ours = _peer_and_ours(root, monkeypatch, kind, ("s1", "s2", "s3", "s4"), shortcut=kind == "tsm")
    x = torch.randn(2, CLIP, 3, *SIZE, dtype=torch.float64)
    with torch.no_grad():
        expected = peer(x.clone().view(-1, 3, *SIZE)).view(2, CLIP, -1)
        got = ours(x)
    assert got.shape == expected.shape == (2, CLIP, 368)
    assert torch.allclose(got, expected, atol=1e-9, rtol=0), (got - expected).abs().max()


def test_shifted_regnet_equals_teamspotting_gsf(peer_code_root, monkeypatch):
    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    peer, ours = _peer_and_ours(root, monkeypatch, "gsf", ("s3", "s4"), shortcut=False)
    x = torch.randn(2, CLIP, 3, *SIZE, dtype=torch.float64)
    with torch.no_grad():
        expected = peer(x.view(-1, 3, *SIZE)).view(2, CLIP, -1)
        got = ours(x)
    assert torch.allclose(got, expected, atol=1e-9, rtol=0), (got - expected).abs().max()


def test_wrong_clip_length_is_refused():
    model = ShiftedRegNet(timm.create_model("regnety_002", pretrained=False), kind="gsm", clip_len=CLIP).eval()
    with pytest.raises(ValueError, match="clips of 4 frames got 3"):
        model(torch.zeros(1, 3, 3, 32, 32))

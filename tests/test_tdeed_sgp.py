"""T-DEED's temporal layers (`models.dense.sgp`) against the authors' own modules (`model/modules.py` of
SoccerNet/sn-teamspotting and arturxe2/T-DEED at their pinned commits), same random weights."""
import math

import pytest
import torch
import torch.nn.functional as F
from peer_code import imported_from, peer_repo

from soccerspot.models.dense.sgp import (
    ChannelLayerNorm, SGPBlock, SGPEncoderDecoder, SGPMixer, TDEEDTemporal, long_window_size,
)

PEERS = ["SoccerNet/sn-teamspotting", "arturxe2/T-DEED"]
DIM = 32  # GroupNorm(16, dim) needs a multiple of 16


def randomise(module: torch.nn.Module, seed: int) -> None:
    """Every parameter away from its initial value (LayerNorm and GroupNorm affine included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3 + (1.0 if p.dim() == 3 and p.shape[0] == 1 else 0.0))


def load_ours(ours: torch.nn.Module, theirs: torch.nn.Module, rename=lambda k: k) -> None:
    state = {rename(k): v for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state, strict=True)


def ed_rename(key: str) -> str:
    return key.replace("_sgpMixer.", "mixers.").replace("_sgp.", "blocks.")


@pytest.fixture(params=PEERS)
def peer_modules(request, peer_code_root):
    root = peer_repo(request.param, peer_code_root)
    with imported_from(root):
        from model import modules
        yield modules


def test_long_window_matches_their_rule():
    # up_size = round((ks + 1) * k), made odd: ks 9, r 4 -> 41; ks 11, r 4 -> 49; ks 3, r 1.5 -> 7
    assert long_window_size(9, 4) == 41
    assert long_window_size(11, 4) == 49
    assert long_window_size(3, 1.5) == 7
    assert long_window_size(3, 2) == 9


def test_channel_layer_norm_is_layer_norm_over_channels():
    x = torch.randn(2, 24, 7)
    norm = ChannelLayerNorm(24)
    randomise(norm, 0)
    expected = F.layer_norm(x.transpose(1, 2), (24,), norm.weight.view(-1), norm.bias.view(-1), eps=1e-5)
    torch.testing.assert_close(norm(x), expected.transpose(1, 2), atol=1e-5, rtol=1e-5)


def test_sgp_block_matches_theirs(peer_modules):
    torch.manual_seed(0)
    theirs = peer_modules.SGPBlock(DIM, kernel_size=9, k=4, init_conv_vars=0.1).eval()
    randomise(theirs, 1)
    ours = SGPBlock(DIM, kernel_size=9, window_factor=4).eval()
    load_ours(ours, theirs)
    x = torch.randn(3, DIM, 20)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("concat", [True, False])
def test_sgp_mixer_matches_theirs(peer_modules, concat):
    torch.manual_seed(0)
    theirs = peer_modules.SGPMixer(DIM, kernel_size=5, k=2, init_conv_vars=0.1, t_size=13, concat=concat).eval()
    randomise(theirs, 2)
    ours = SGPMixer(DIM, kernel_size=5, window_factor=2, out_len=13, concat=concat).eval()
    load_ours(ours, theirs)
    x, z = torch.randn(2, DIM, 7), torch.randn(2, DIM, 13)
    torch.testing.assert_close(ours(x, z), theirs(x=x, z=z), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("clip_len,layers,ks,r", [(100, 2, 9, 4), (50, 3, 11, 4), (25, 1, 3, 2)])
def test_encoder_decoder_matches_theirs(peer_modules, clip_len, layers, ks, r):
    torch.manual_seed(0)
    theirs = peer_modules.EDSGPMIXERLayers(DIM, clip_len, num_layers=layers, ks=ks, k=r, concat=True).eval()
    randomise(theirs, 3)
    ours = SGPEncoderDecoder(DIM, clip_len, num_layers=layers, kernel_size=ks, window_factor=r).eval()
    load_ours(ours, theirs, ed_rename)
    assert [p.output_size for p in ours.pools] == [math.ceil(clip_len / 2 ** (i + 1)) for i in range(layers)]
    x = torch.randn(2, clip_len, DIM)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-4, rtol=1e-4)


def test_temporal_part_and_heads_match_theirs(peer_modules):
    """Temporal encoding + encoder-decoder + class, displacement and team heads, composed as their
    `TDEEDModel.Impl.forward` composes them after the backbone."""
    torch.manual_seed(0)
    clip_len, classes = 40, 5
    encoder = peer_modules.EDSGPMIXERLayers(DIM, clip_len, num_layers=2, ks=9, k=4, concat=True).eval()
    heads = {name: peer_modules.FCLayers(DIM, out).eval()
             for name, out in (("class", classes + 1), ("displacement", 1), ("team", 1))}
    temp_enc = torch.normal(mean=0, std=1 / clip_len, size=(clip_len, DIM))
    for i, module in enumerate([encoder, *heads.values()]):
        randomise(module, 10 + i)
    ours = TDEEDTemporal(DIM, clip_len, classes, num_layers=2, kernel_size=9, window_factor=4,
                         radi_displacement=4, event_team=True).eval()
    state = {"temporal_encoding.weight": temp_enc}
    state.update({"encoder_decoder." + ed_rename(k): v for k, v in encoder.state_dict().items()})
    for name, head in heads.items():
        state.update({f"{name}_head.fc.{k.split('.')[-1]}": v for k, v in head.state_dict().items()})
    ours.load_state_dict(state, strict=True)

    features = torch.randn(2, clip_len, DIM)
    x = encoder(features + temp_enc.expand(2, -1, -1))
    out = ours(features)
    torch.testing.assert_close(out.logits, heads["class"](x), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.displacement, heads["displacement"](x).squeeze(-1), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.team, heads["team"](x).squeeze(-1), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.logits.softmax(-1), heads["class"](x).softmax(-1), atol=1e-5, rtol=0)


def test_optional_heads_absent_when_off():
    temporal = TDEEDTemporal(DIM, 16, 3, num_layers=1, kernel_size=3, window_factor=2,
                             radi_displacement=0, event_team=False).eval()
    out = temporal(torch.randn(1, 16, DIM))
    assert out.logits.shape == (1, 16, 4)
    assert out.displacement is None and out.team is None
    assert not any(k.startswith(("displacement_head", "team_head")) for k in temporal.state_dict())


def test_temporal_part_refuses_another_clip_length():
    temporal = TDEEDTemporal(DIM, 16, 3, num_layers=1, kernel_size=3, window_factor=2)
    with pytest.raises(ValueError, match="clips of 16 frames, got 12"):
        temporal(torch.randn(1, 12, DIM))


def test_sgp_block_refuses_even_kernel():
    with pytest.raises(ValueError, match="odd"):
        SGPBlock(DIM, kernel_size=4)

"""Pooling heads: projection -> temporal pooling -> dropout -> linear -> sigmoid.

Giancola & Ghanem, "Temporally-Aware Feature Pooling for Action Spotting in Soccer Broadcasts", CVPR-W 2021
(NetVLAD++ and its pooling ablation) and the SoccerNet-v2 pooling baselines: optional learned linear
projection (2048 -> 512), a temporal pooling from `models.pooling`, dropout 0.4, linear layer to C+1,
sigmoid. `kind` is the name of the pooling layer (`models.pooling.list_poolings()`).

Whole-half inference (`PoolingHead.half_probabilities`) is linear in the number of frames and equal to
scoring every window separately (window centring: `models.sliding.window_offset`):
  - the projection (2048 -> 512) runs once per frame instead of T times per frame;
  - "++" heads: past and future segments (`WindowPooling.segments`) are done separately and their fc
    contributions added (the fc of a concatenation is the sum of each part times its slice of the weights);
  - each segment's layer scores every window of a tile at once through the pooling contract
    `WindowPooling.window_readout(weight)` (`models/pooling.py`): window sums of per-frame terms
    (AvgPool; NetVLAD / NetRVLAD without ever forming a window's clusters x dim VLAD vector, which
    is what makes a 45-minute half cost less than a second, `scripts/bench_head_infer.py`) or a
    sliding-window max (MaxPool).
  Outputs equal the per-window path to float32 rounding (tested <= 1e-5 for every pooling type).

Peer checkpoints: the SoccerNet baselines' `model.pth.tar` state dicts are converted here
(`convert_peer_state_dict`, registered as the "soccernet-pooling" converter). Supported: sn-spotting /
OSL-ActionSpotting NetVLAD++ and NetRVLAD++ (`pool_layer_before.clusters[2]`), their single NetVLAD /
NetRVLAD (`pool_layer.clusters[2]`), the SoccerNet-v2 "Pooling" baselines' NetVLAD (`pool_layer.centroids`
+ `pool_layer.conv.weight`) and max/avg pooling (`fc.*` only).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from soccerspot.errors import SettingsError
from soccerspot.models.heads.registry import (
    BaseHeadConfig, PeerHead, WindowHead, register_head, register_peer_converter,
)
from soccerspot.models.pooling import (
    TEMPORALLY_AWARE_PAPER, WindowPooling, create_pooling, pooling_entry, pooling_paper,
)
from soccerspot.models.sliding import pad_replicate, window_offset
from soccerspot.models.state_dict import strip_prefixes

__all__ = ["PoolingHeadConfig", "PoolingHead", "convert_peer_state_dict", "PeerModel", "PEER_POOLS"]

DEFAULT_TILE = 1024  # frames per tile of the fast path: bounds its per-frame terms (a few MB a tile for
# NetVLAD++ with 18 outputs); on a 45-min half 256 ran 0.112 s, 512 0.097 s, 1024 0.090 s, 2048 0.159 s
# (medians of 8, 2 cores)


@dataclass
class PoolingHeadConfig(BaseHeadConfig):
    """A `PoolingHead`: `kind` is the name of its pooling layer (`models.pooling.list_poolings()`)."""

    clusters: int = 64  # K for NetVLAD/NetRVLAD ("++": K/2 per half); unused by max/avg pooling
    projection_dim: int | None = 512  # learned linear projection before pooling; None = pool raw features
    assignment_bias: bool = True  # bias of the soft-assignment layer (peers' layers have none)
    normalize_input: bool = True  # L2-normalise each frame before the VLAD soft assignment

    @property
    def pooled_dim(self) -> int:
        """Width of the features that reach the pooling layer."""
        return self.projection_dim or self.input_dim

    def _validate_family(self) -> None:
        pooling = pooling_entry(self.kind)
        vlad, split = pooling.uses_clusters, pooling.splits_window
        if split and self.window_frames < 2:
            raise SettingsError("window_frames", f"{self.kind} splits the window in two: window_frames must be >= 2")
        if vlad and self.clusters < 1:
            raise SettingsError("clusters", f"{self.kind} needs clusters >= 1, got {self.clusters}")
        if vlad and split and self.clusters % 2:
            raise SettingsError("clusters", f"{self.kind} gives K/2 clusters to each half: clusters must be even, got {self.clusters}")
        if self.projection_dim is not None and self.projection_dim < 1:
            raise SettingsError("projection_dim", f"projection_dim must be None or >= 1, got {self.projection_dim}")



class PoolingHead(WindowHead):
    """projection -> temporal pooling -> dropout -> linear -> sigmoid."""

    def __init__(self, config: PoolingHeadConfig):
        super().__init__()
        self.config = config
        if config.projection_dim:
            self.projection: nn.Module = nn.Linear(config.input_dim, config.projection_dim)
        else:
            self.projection = nn.Identity()
        self.pooling: WindowPooling = create_pooling(
            config.kind,
            config.pooled_dim,
            clusters=config.clusters,
            assignment_bias=config.assignment_bias,
            normalize_input=config.normalize_input,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(self.pooling.out_dim, config.num_classes + 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame part of the head (the projection): (..., input_dim) -> (..., pooled_dim)."""
        return self.projection(x)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled window vectors -> probabilities (..., num_classes + 1)."""
        return torch.sigmoid(self.fc(self.dropout(pooled)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.pooling(self.embed(x)))

    fast_inference = True

    @torch.no_grad()
    def half_probabilities(self, features: torch.Tensor, *, progress: bool = False,
                           tile_frames: int = DEFAULT_TILE, **_) -> torch.Tensor:
        """(frames, classes + 1) probabilities of every row's window in O(frames), equal to the per-window
        path to float32 rounding (module docstring). Dropout is the identity here (eval mode)."""
        window_frames = self.config.window_frames
        num_frames = features.shape[0]
        if num_frames == 0:
            return features.new_zeros((0, self.config.num_classes + 1))
        embedded = self.embed(features)
        offset = window_offset(window_frames)
        # padded row p is frame p - offset (clamped); frame i's window is padded rows [i, i + window_frames)
        padded = pad_replicate(embedded, offset, window_frames - offset)
        segments = self.pooling.segments(window_frames)
        readouts, column = [], 0
        for layer, _, _ in segments:  # fc(concat(parts)) = sum over parts of the part times its weight slice
            readouts.append(layer.window_readout(self.fc.weight[:, column : column + layer.out_dim]))
            column += layer.out_dim
        outputs = []
        starts = range(0, num_frames, tile_frames)
        for start in tqdm(starts, desc="tiles", unit="tile", disable=not progress, leave=False):
            count = min(tile_frames, num_frames - start)
            logits = self.fc.bias.expand(count, -1).clone()
            for (_, begin, end), readout in zip(segments, readouts):
                length = end - begin
                logits += readout(padded[start + begin : start + begin + count + length - 1], length)
            outputs.append(torch.sigmoid(logits).float())
        return torch.cat(outputs)


# The NetVLAD++ recipe, which its pooling ablation keeps for every pooling layer: K = 64 clusters and the
# linear layer to 512-d from the paper; the dropout rate from the released code (the paper names dropout
# without its rate).
PAPER_POOLING = dict(clusters=64, projection_dim=512, dropout=0.4)


@register_head("netvlad++", config=PoolingHeadConfig, paper=TEMPORALLY_AWARE_PAPER, **PAPER_POOLING)
def netvlad_temporally_aware(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("netrvlad++", config=PoolingHeadConfig, paper=TEMPORALLY_AWARE_PAPER, **PAPER_POOLING)
def netrvlad_temporally_aware(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("maxpool++", config=PoolingHeadConfig, paper=TEMPORALLY_AWARE_PAPER, **PAPER_POOLING)
def maxpool_temporally_aware(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("avgpool++", config=PoolingHeadConfig, paper=TEMPORALLY_AWARE_PAPER, **PAPER_POOLING)
def avgpool_temporally_aware(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("netvlad", config=PoolingHeadConfig, paper=f"{pooling_paper('netvlad')}; {TEMPORALLY_AWARE_PAPER}",
               **PAPER_POOLING)
def netvlad(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("netrvlad", config=PoolingHeadConfig,
               paper=f"{pooling_paper('netrvlad')}; {TEMPORALLY_AWARE_PAPER}", **PAPER_POOLING)
def netrvlad(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("maxpool", config=PoolingHeadConfig, paper=f"{pooling_paper('maxpool')}; {TEMPORALLY_AWARE_PAPER}",
               **PAPER_POOLING)
def maxpool(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("avgpool", config=PoolingHeadConfig, paper=f"{pooling_paper('avgpool')}; {TEMPORALLY_AWARE_PAPER}",
               **PAPER_POOLING)
def avgpool(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)




# --- peer checkpoints (SoccerNet baselines) ----------------------------------------------------------------

# sn-spotting `--pool` values -> our head kinds
PEER_POOLS = {
    "MAX": "maxpool", "MAX++": "maxpool++", "AVG": "avgpool", "AVG++": "avgpool++",
    "NetVLAD": "netvlad", "NetVLAD++": "netvlad++", "NetRVLAD": "netrvlad", "NetRVLAD++": "netrvlad++",
}
_PEER_PREFIXES = ("module.", "model.", "backbone.", "neck.", "head.")


def _dim_major_fc_to_cluster_major(weight: torch.Tensor, parts: int, dim: int, clusters: int) -> torch.Tensor:
    """The peers flatten VLAD as (dim, clusters) per part; ours is (clusters, dim)."""
    outputs = weight.shape[0]
    return weight.reshape(outputs, parts, dim, clusters).transpose(2, 3).reshape(outputs, -1).contiguous()


@dataclass
class PeerModel:
    """A peer state dict converted to ours, with what the weights alone say about the head."""

    variant: str
    kind: str
    state: dict[str, torch.Tensor]
    input_dim: int
    projection_dim: int | None
    clusters: int
    num_classes: int
    era: str  # "pooling" (SoccerNet-v2 baselines, 2021-02) | "temporally-aware" (sn-spotting / OSL)


def convert_peer_state_dict(state: dict[str, torch.Tensor], pool: str | None = None) -> PeerModel:
    """Map a peer state dict onto our modules. `pool` (the log's `--pool`) disambiguates fc-only files."""
    state = strip_prefixes(state, _PEER_PREFIXES)
    ours: dict[str, torch.Tensor] = {}
    projection_dim = None
    if "feature_extractor.weight" in state:
        ours["projection.weight"] = state["feature_extractor.weight"]
        ours["projection.bias"] = state["feature_extractor.bias"]
        projection_dim, input_dim = state["feature_extractor.weight"].shape
    fc_weight, fc_bias = state.get("fc.weight"), state.get("fc.bias")
    if fc_weight is None or fc_bias is None:
        raise ValueError("no fc.weight / fc.bias: not a SoccerNet pooling baseline")
    num_classes = fc_weight.shape[0] - 1
    clusters = 64
    if "pool_layer_before.clusters" in state:  # sn-spotting / OSL temporally-aware VLAD
        has_centres = "pool_layer_before.clusters2" in state
        kind = "netvlad++" if has_centres else "netrvlad++"
        dim, half = state["pool_layer_before.clusters"].shape
        clusters = 2 * half
        for peer_name, our_name in (("pool_layer_before", "pooling.past"), ("pool_layer_after", "pooling.future")):
            ours[f"{our_name}.assignment.weight"] = state[f"{peer_name}.clusters"].t().contiguous()
            if has_centres:
                ours[f"{our_name}.centers"] = state[f"{peer_name}.clusters2"][0].t().contiguous()
        ours["fc.weight"] = _dim_major_fc_to_cluster_major(fc_weight, 2, dim, half)
        variant, era = f"sn-spotting {kind}", "temporally-aware"
    elif "pool_layer.clusters" in state:  # sn-spotting single NetVLAD / NetRVLAD
        has_centres = "pool_layer.clusters2" in state
        kind = "netvlad" if has_centres else "netrvlad"
        dim, clusters = state["pool_layer.clusters"].shape
        ours["pooling.assignment.weight"] = state["pool_layer.clusters"].t().contiguous()
        if has_centres:
            ours["pooling.centers"] = state["pool_layer.clusters2"][0].t().contiguous()
        ours["fc.weight"] = _dim_major_fc_to_cluster_major(fc_weight, 1, dim, clusters)
        variant, era = f"sn-spotting {kind}", "temporally-aware"
    elif "pool_layer.centroids" in state:  # SoccerNet-v2 "Pooling" baseline NetVLAD (1x1 conv, no bias)
        kind = "netvlad"
        clusters, dim = state["pool_layer.centroids"].shape
        conv = state["pool_layer.conv.weight"]
        ours["pooling.assignment.weight"] = conv.reshape(conv.shape[0], conv.shape[1]).contiguous()
        if "pool_layer.conv.bias" in state:
            ours["pooling.assignment.bias"] = state["pool_layer.conv.bias"]
        ours["pooling.centers"] = state["pool_layer.centroids"]
        ours["fc.weight"] = fc_weight
        variant, era = "soccernet-v2 pooling netvlad", "pooling"
    else:  # max / avg pooling: only the classifier has weights
        kind = PEER_POOLS.get(pool or "MAX")
        if kind is None or pooling_entry(kind).uses_clusters:
            raise ValueError(f"fc-only checkpoint but the log says pool {pool!r}")
        width = fc_weight.shape[1]
        split = pooling_entry(kind).splits_window
        dim = width // 2 if split else width
        # without a log, a bare max/avg pooling over raw features is taken for the SoccerNet-v2 baseline
        era = "pooling" if projection_dim is None and not split else "temporally-aware"
        variant = f"soccernet {kind}"
        ours["fc.weight"] = fc_weight
    ours["fc.bias"] = fc_bias
    if projection_dim is None:
        input_dim = dim
    elif projection_dim != dim:
        raise ValueError(f"projection gives {projection_dim}-d frames but the pooling expects {dim}-d")
    return PeerModel(variant, kind, ours, int(input_dim), None if projection_dim is None else int(projection_dim),
                     int(clusters), int(num_classes), era)




@register_peer_converter("soccernet-pooling")
def peer_pooling_head(state: dict[str, torch.Tensor], *, pool: str | None, window_frames) -> PeerHead:
    """A SoccerNet pooling baseline's state dict as a `PoolingHead` (`window_frames(era)` rows)."""
    peer = convert_peer_state_dict(state, pool)
    entry = pooling_entry(peer.kind)
    config = PoolingHeadConfig(
        kind=peer.kind, input_dim=peer.input_dim, num_classes=peer.num_classes, window_frames=window_frames(peer.era),
        clusters=peer.clusters, projection_dim=peer.projection_dim, normalize_input=True,
        assignment_bias=("pooling.past.assignment.bias" if entry.splits_window else "pooling.assignment.bias")
        in peer.state,
    )
    return PeerHead(config.validate(), peer.state, peer.variant, peer.era)

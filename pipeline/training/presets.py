"""Training presets: each a full `TrainConfig` naming the paper (or report) its values come from and what
we chose ourselves, registered by name (`register_preset`; a new head registers its own the same way).
`soccerspot train --preset NAME` starts from one; `--field value` flags replace single fields.
"""
from __future__ import annotations

import dataclasses

from soccerspot.data.calf_targets import K_SOCCERNET_V2_SECONDS
from soccerspot.models.papers import (
    BAIDU_REPORT, CALF_PAPER, E2E_SPOT_PAPER, RMSNET_PAPER, SOCCERNET_V2_PAPER, TDEED_PAPER, TEAM_SPOTTING_PAPER,
    TEMPORALLY_AWARE_PAPER,
)
from soccerspot.pipeline.training.config import TrainConfig

NETVLADPP_PAPER = f"{TEMPORALLY_AWARE_PAPER}; recipe of sn-spotting TemporallyAwarePooling"
SOCCERNET_V2_BASELINE = (
    f"{SOCCERNET_V2_PAPER}: published MaxPool baseline (training log of the "
    "MAXPOOL_v2 checkpoint: PCA512, chunk 20 s, NMS 20 s, batch 256, Adam 1e-3, patience 10)"
)


# The peers' VLAD layers assign frames with softmax(x . clusters), no bias (sn-spotting netvlad.py).
PEER_VLAD = {"assignment_bias": False}
# The NetVLAD++ paper's pooling head (`models.heads.pooling_head.PoolingHeadConfig`): a linear layer to 512-d,
# then K = 64 clusters (32 past + 32 future for "++"); max and average pooling have no clusters.
PAPER_PROJECTION = {"projection_dim": 512}
PAPER_VLAD = {**PAPER_PROJECTION, "clusters": 64, **PEER_VLAD}


def _pooling_preset(head: str, vlad: bool) -> TrainConfig:
    """The paper's recipe with another pooling layer: the paper compares all of them this way."""
    return TrainConfig(
        preset=head.replace("+", "p") + "-paper",
        source=f"{NETVLADPP_PAPER}: same recipe as netvladpp-paper, pooling '{head}' (the paper's pooling ablation)",
        head=head,
        head_options=dict(PAPER_VLAD) if vlad else dict(PAPER_PROJECTION),
    )


PRESETS: dict[str, TrainConfig] = {
    "netvladpp-paper": TrainConfig(
        preset="netvladpp-paper",
        source=(
            f"{NETVLADPP_PAPER}. Paper (Sec. 3-4): ResNet-152 features 2048-d at 2 fps, each frame L2-normalised, "
            "a learned linear 2048->512 instead of PCA, T = 15 s split into past and future halves, K = 64 "
            "(32 past + 32 future), a sigmoid classifier with dropout trained on non-overlapping chunks with "
            "multi-label BCE, inference at stride 1, NMS 30 s with no confidence threshold, Adam 1e-3 with "
            "PyTorch's default betas, lr x0.1 after 10 epochs without a lower validation loss, stop below 1e-8. "
            "From the released code (the paper gives no value): dropout 0.4, batch 256, the best checkpoint on "
            "validation loss, validation Average-mAP every 10 epochs (main.py's default). Departure: the paper's "
            "soft assignment (its Eq. 3) has a bias b_k per cluster; the released layer has none and neither "
            "does this preset (assignment_bias False), so the released NetVLAD++ head loads as it is."
        ),
        head_options=dict(PAPER_VLAD),
    ),
    "baidu-transformer": TrainConfig(
        preset="baidu-transformer",
        source=(
            f"{BAIDU_REPORT}. Report (Sec. 3.1, 4.2, Table 2): sine/cosine positions, transformer encoder (3 "
            "layers, 4 heads, hidden dimension 64: model_dim here) over 7 s chunks of the combined embeddings "
            "(features at 1 fps), C + 1 outputs, NMS 20 s, lr 5e-4, 50 epochs, mixup. Our choices (not given "
            "by the report): Adam (the report names no optimizer), batch 256 (its batch-size ablation is on "
            "grounding), mixup alpha 0.2, feed-forward width 256, max over the window as read-out, constant lr, "
            "best checkpoint on validation loss. The report's best figures train on train + valid + test for a "
            "fixed number of epochs ('ultra' mode); this preset keeps the validation split."
        ),
        head="transformer",
        dropout=0.1,
        window_seconds=7.0,
        lr=5e-4,
        scheduler="none",
        max_epochs=50,
        mixup_alpha=0.2,
        eval_every=10,
        nms_window=20.0,
    ),
    "maxpool-soccernet-v2": TrainConfig(
        preset="maxpool-soccernet-v2",
        source=SOCCERNET_V2_BASELINE,
        head="maxpool",
        head_options={"projection_dim": None},
        window_seconds=20.0,
        nms_window=20.0,
    ),
}
# (head, whether its pooling is a VLAD layer with the peers' bias-free soft assignment)
for _head, _vlad in (("netvlad", True), ("netrvlad", True), ("netrvlad++", True), ("maxpool", False),
                     ("maxpool++", False), ("avgpool", False), ("avgpool++", False)):
    _preset = _pooling_preset(_head, _vlad)
    PRESETS[_preset.preset] = _preset


# Fine-tuning a backbone's last stage with a head (`soccerspot finetune`).
PRESETS["rmsnet-finetune"] = TrainConfig(
    preset="rmsnet-finetune",
    source=(
        f"{RMSNET_PAPER}. Paper (Sec. IV-B and IV-E: fine-tuning keeps 'all the other implementation details'): "
        "ResNet-152 with only its last block (layer4) trained together with the head, frames at 2 fps, the "
        "whole 398x224 picture (no centre crop, no spatial augmentation), 20 s clips (T = 41 rows there; 40 "
        "here: window_seconds x fps), batch 24 clips, base lr 0.025, SGD momentum 0.9, weight decay 1e-4, 50 "
        "epochs at most, class-balanced sampling of foreground clips with the event at a uniform offset and "
        "background clips nF/C. Departures: the NetVLAD++ head instead of RMS-Net's own (`--head rmsnet` "
        "trains that one); ReduceLROnPlateau x0.1 patience 3 on the validation loss where the paper warms the "
        "lr up linearly over the first epoch and anneals it with a cosine (no such schedule here); the best "
        "checkpoint on validation loss where the paper stops early on validation Average-mAP (computed every "
        "5 epochs here); precision auto (bf16 on CUDA; on a CPU, bf16 where measured faster than fp32)."
    ),
    window_seconds=20.0,
    batch_size=24,
    optimizer="sgd",
    lr=0.025,
    momentum=0.9,
    weight_decay=1e-4,
    plateau_patience=3,
    max_epochs=50,
    eval_every=5,
    precision="auto",
    head_options=dict(PAPER_VLAD),
)


PRESETS["rmsnet-paper"] = TrainConfig(
    preset="rmsnet-paper",
    source=(
        f"{RMSNET_PAPER}. Paper (Sec. III, IV-B, Table I): windows of T = 41 rows (20 s at 2 fps, both ends "
        "counted; here window_seconds 20.5 x 2 fps = 41), FC 512 -> 256, two temporal convolutions of kernel 9 "
        "(256 -> 256 -> 128), dropout 0.1, max over time, FC 128 -> 64, softmax over C+1 and a sigmoid offset "
        "regressor, loss CE + 10 x MSE, uniform-offset foreground windows with background at nF/C, the rows "
        "before the event replaced by a background clip's with probability p = 1/3 when the event lies in the "
        "first half of the window (q = 0.5); SGD momentum 0.9, lr 0.05 with a one-epoch warm-up and cosine "
        "annealing, weight decay 1e-4, batch 64, 50 epochs, early stopping on validation Average-mAP; at "
        "inference one window every T rows, each giving one spot. Departures, ours: the second convolution "
        "keeps 256 channels (so FC 256 -> 64) and there is no dropout (0; `--dropout 0.1` puts the paper's "
        "rate before the classifier, not after the convolutions); any foreground window is masked, with "
        "probability 0.5 (mask_probability; q is not modelled); Adam 1e-3, batch 256, plateau patience 10 on "
        "the validation loss (no cosine schedule here); windows at every row voting at the rows their offsets "
        "point to, votes summed, then NMS 10 s (models.heads.rmsnet). The README's RMS-Net figures "
        "(bench_heads.py) were measured with these settings, which is why they stay."
    ),
    head="rmsnet",
    dropout=0.0,
    window_seconds=20.5,
    nms_window=10.0,
)


def _calf_paper() -> TrainConfig:
    return TrainConfig(
        preset="calf-paper",
        source=(
            f"{CALF_PAPER}, settings of the authors' released SoccerNet-v2 code: chunks of 120 s (240 rows "
            "at 2 fps), receptive field 40 s (window_frames // 3), 16-d capsules, 15 detection slots, per-class "
            "slicing K1..K4 of that code (seconds, SoccerNet-v2 class order), margins 0.1 / 0.9, loss "
            "0.000367 x segmentation + 1 x spotting with lambda_coord 5 and lambda_noobj 0.5, 18000 "
            "class-balanced chunks per epoch, batch 32, Adam lr 1e-3 eps 1e-7, ReduceLROnPlateau patience 25 "
            "down to 1e-6. Our choices: x0.1 plateau factor and stop as the other presets, validation "
            "Average-mAP every 20 epochs, NMS 30 s threshold 0, best checkpoint on validation loss. How this "
            "departs from the paper, and why: the paper (Sec. 4, SoccerNet v1's 3 classes, ResNet PCA-512 "
            "features) gives chunks of 240 rows, capsules of f = 16, r = 80 rows, margins 0.1 / 0.9, "
            "alpha_2 = 5 and beta = 0.5 (lambda_coord and lambda_noobj here), but N_pred = 5 detection slots, "
            "lambda_seg = 1.5, slicing K for its 3 classes only, 1000 epochs with the lr falling linearly from "
            "1e-3 to 1e-6, Adam's default parameters, and batches of one video's chunks (one around each action "
            "+ N_GT / C of background). Those values were tuned for 3 classes; the 17-class values (15 slots, "
            "the 17 classes' slicing, the segmentation weight) exist only in the released SoccerNet-v2 code, "
            "whose head reports 40.7 test Average-mAP, so this preset follows that code."
        ),
        head="calf",
        dropout=0.0,
        window_seconds=120.0,
        batch_size=32,
        lr=1e-3,
        adam_eps=1e-7,
        plateau_patience=25,
        stop_lr=1e-6,
        eval_every=20,
        nms_window=30.0,
        head_options={"slicing_seconds": [list(k) for k in K_SOCCERNET_V2_SECONDS]},
    )


PRESETS["calf-paper"] = _calf_paper()


def _calf_short() -> TrainConfig:
    paper = _calf_paper()
    return dataclasses.replace(
        paper,
        preset="calf-short",
        source=(
            f"{paper.source} | calf-short, our choices for small training sets (measured on bench_heads' "
            "synthetic season of 8 training halves of 180 s, one seed, one thread): chunks of 20 s (40 rows at "
            "2 fps, receptive field 13 rows) instead of 120 s and 1024 chunks per epoch; inference by chunks at "
            "every row whose votes are summed and divided by the chunks keeping the row (vote 'sum', "
            "inference_stride 1; models.heads.calf); the rest is calf-paper. "
            "With 120 s chunks a chunk holds 2/3 of a half, the 8 halves give few distinct chunks and the slot "
            "locations, regressed relative to the chunk, need 6x finer precision per second: held-out loose "
            "0.21 / tight 0.04 there; with 20 s chunks loose 0.91 / tight 0.43 after 30 epochs (47 s) and "
            "0.98 / 0.68 after 100 epochs (224 s). 10 s and 30 s chunks, lr 3e-3 and larger segmentation "
            "weights (0.0022, 0.02) did no better. The summed votes of chunks at every row took that "
            "100-epoch checkpoint from tight 0.68 to 0.89 (NMS 10 s)."
        ),
        window_seconds=20.0,
        head_options={**paper.head_options, "chunks_per_epoch": 1024, "inference_stride": 1, "vote": "sum"},
    )


PRESETS["calf-short"] = _calf_short()


# Replay grounding (`models.heads.grounding`, `pipeline.training.tasks.grounding`): trained beside the spotting labels
# (Labels-v2.json) on the replays of Labels-cameras.json.
PRESETS["baidu-grounding"] = TrainConfig(
    preset="baidu-grounding",
    source=(
        f"{BAIDU_REPORT}, replay grounding. Report: candidate chunk features + replay clip features, "
        "sine/cosine positions, 4 transformer encoder layers, two outputs (replay probability and positional "
        "offset), BCE + L2 loss, candidates within 120 s before the replay, 4 positive + 4 negative samples "
        "per replay clip, detections after the replay's end or more than 100 s before its end dropped, fusion "
        "with spotting results (W 42 s, S 0.02, beta1 1.25, beta2 0.8; on where the game has spotting results), "
        "NMS 25 s. Our choices (not given by or not retrieved "
        "from the report): candidate chunks of 10 s (window_seconds), replay clips resampled to 16 rows, "
        "4 heads of width 64 and feed-forward 128, half of the 4 negatives drawn as chunks holding another "
        "labelled action of the search span (hard_negatives 0.5), max read-out over the candidate rows, offset weight 1, "
        "candidates every 1 s at inference, the k-th best detection of a replay scored x 0.5^k after NMS "
        "(rank_decay; see pipeline.inference.grounding), fusion's unstated details (pipeline.inference.grounding), "
        "batch 64, Adam 1e-3, 100 epochs at most with the plateau "
        "schedule, validation Average-AP (loose) every 5 epochs choosing the best checkpoint. Measured on "
        "bench_grounding's season (12 training games, held-out loose Average-AP after 15 epochs): 10 s chunks "
        "with feed-forward 128 0.65 at ~3 s per epoch, 20 s chunks with feed-forward 256 0.43 at ~25 s per epoch; "
        "on another season of that size, after 60 epochs, hard_negatives 0.5 0.83 against 0.75 without (one seed). "
        "On the exploration seasons of bench_grounding with 24 training / 6 held-out games (season seeds 7000 and "
        "8000, 60 epochs, seed 0): loose 0.901 / 0.892, tight 0.821 / 0.804; the training augmentations "
        "(replay_jitter 0.2, feature_noise 0.1; ours) on season 8000 gave loose 0.884, tight 0.849, so they stay "
        "off; detections from the chunks' mean probability over each row instead of each chunk's own detection "
        "lowered season 7000's loose figure to 0.83-0.85. The architecture and training values above were not "
        "changed for the bench's default season (9000). "
        "Read against the report since (Sec. 3.2.2, 4.2, Table 3), three of the choices above depart from values "
        "it does give: video chunks of 30 s, lr 2e-4 for 40 epochs (in its 'ultra' mode, trained on train + "
        "valid + test), batch 128. They stay at 10 s, Adam 1e-3 for up to 100 epochs with validation, and batch "
        "64 because these were chosen and measured on bench_grounding's seasons (20 s chunks did worse there, "
        "above); the report's values were not run here."
    ),
    head="baidu-grounding",
    dropout=0.1,
    head_options={"feedforward_dim": 128, "hard_negatives": 0.5},
    window_seconds=10.0,
    batch_size=64,
    max_epochs=100,
    eval_every=5,
    nms_window=25.0,
)


# The CALF-based replay grounding baseline of the SoccerNet-v2 benchmark (`models.heads.calf_grounding`,
# `pipeline.training.tasks.calf_grounding`).
PRESETS["calf-grounding"] = TrainConfig(
    preset="calf-grounding",
    source=(
        f"{SOCCERNET_V2_PAPER}, replay grounding baseline: CALF ({CALF_PAPER}) fed a chunk and the replay, "
        "settings of the released code (SoccerNet/sn-grounding, SoccerNetv2-ReplayGrounding-CALF): chunks of "
        "120 s (240 rows at 2 fps), receptive field 40 s, the replay's rows repeated over the chunk, one "
        "16-d capsule, one detection slot, symmetric context-aware loss with K = (-20, -10, 10, 20) s and "
        "margins 0.1 / 0.9 (x0.002) + detection loss with lambda_coord 5 and lambda_noobj 0.5 (x1), "
        "positive and negative chunks 1:1, half the negatives around another action of the replayed class, "
        "Adam lr 1e-3, ReduceLROnPlateau patience 50 down to 1e-6, inference chunks every 80 s (L - R) keeping "
        "the slots of their central rows. Ours: batch 32 (released: 1), 8 chunks per replay and epoch "
        "(released: 1), input standardisation, the last repetition of the replay filled, the post-processing "
        "of baidu-grounding (search span 120 s, keep window 100 s, fusion with spotting results, NMS 25 s, rank_decay 0.5; "
        "pipeline.inference.grounding), validation Average-AP (loose) every 5 epochs choosing the best "
        "checkpoint, 100 epochs at most. On bench_grounding's exploration season 7000 (24 training / 6 held-out "
        "games, 20 epochs, seed 0): loose Average-AP 0.759, tight 0.135; inference chunks every 10 s instead "
        "of 80 s: 0.729."
    ),
    head="calf-grounding",
    dropout=0.0,
    head_options={"stride_s": 80.0},
    window_seconds=120.0,
    batch_size=32,
    lr=1e-3,
    plateau_patience=50,
    stop_lr=1e-6,
    max_epochs=100,
    eval_every=5,
    nms_window=25.0,
)


def register_preset(config: TrainConfig) -> TrainConfig:
    """Register `config` under `config.preset`; a name is registered once."""
    if config.preset in PRESETS:
        raise ValueError(f"preset {config.preset!r} is registered twice")
    PRESETS[config.preset] = config
    return config


def get_preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    return dataclasses.replace(PRESETS[name], head_options=dict(PRESETS[name].head_options))


# Dense frame models trained end to end (`soccerspot train-dense`, `pipeline.training.dense`): `head` names the
# registered dense model (`models.dense`), `head_options` its settings. Kept apart from PRESETS, whose `head`
# is a spotting head of `models.heads` (`train`, `finetune`).
DENSE_PRESETS: dict[str, TrainConfig] = {}
DENSE_PRESETS["e2e-spot-paper"] = TrainConfig(
    preset="e2e-spot-paper",
    source=(
        f"{E2E_SPOT_PAPER}; jhong93/spot train_e2e.py defaults and its published soccer models "
        "(soccer_rny002gsm_gru_rgb): RegNetY-200MF with GSM, bidirectional GRU, clips of 100 frames, batch 8, "
        "AdamW lr 1e-3 (torch's weight decay 0.01), linear warm-up from 1 % over 3 epochs chained with a cosine "
        "over the other 47 (per step), 50 epochs, mixup of two clips with Beta(0.2, 0.2), cross-entropy with "
        "foreground weight 5, EPOCH_NUM_FRAMES 500000 (5000 clips an epoch), the best epoch on validation "
        "mAP. Frames: their SoccerNet-v2 JPEGs (every int(fps / 2)-th frame, 398x224), decoded to memory here. "
        "Ours: validation Average-mAP (loose) every 5 epochs through spot's dense inference; pretrained false "
        "(theirs starts from timm's ImageNet weights: set head_options.pretrained where they can be loaded)."
    ),
    head="e2e-spot",
    head_options={"feature_arch": "rny002_gsm", "temporal_arch": "gru", "clip_len": 100, "pretrained": False},
    dropout=0.0,
    batch_size=8,
    optimizer="adamw",
    lr=1e-3,
    weight_decay=0.01,
    scheduler="warmup-cosine",
    warmup_epochs=3,
    max_epochs=50,
    mixup_alpha=0.2,
    eval_every=5,
    select_on="valid_a_mAP",
    precision="auto",
)

DENSE_PRESETS["tdeed-ball"] = TrainConfig(
    preset="tdeed-ball",
    source=(
        f"{TDEED_PAPER}; {TEAM_SPOTTING_PAPER}: config/SoccerNetBall/SoccerNetBall_baseline.json and "
        "train_tdeed_bas.py: rny002_gsf, ed_sgp_mixer (2 levels, kernel 9, r 4), clips of 100 frames read every "
        "second 25 fps frame (12.5 a second, 796x448), radi_displacement 4, team head, batch 4, AdamW lr 8e-4 "
        "(torch's weight decay 0.01), linear warm-up from 1 % over 3 epochs then cosine over the other 32 (per "
        "step), 35 epochs, mixup Beta(0.2, 0.2), class CE (foreground weight 5) + displacement MSE + 2 x team BCE, "
        "500000 frames an epoch (5000 clips) drawn from their stored clips (a start every 10 source frames, 5 "
        "rows), no flip (theirs is commented out: it would swap the teams), the best epoch on validation mAP@1. "
        "Departures: validation Team mAP@1 every 5 epochs (theirs: mAP@1 every epoch from epoch 15); their "
        "colour jitter and blur are not reproduced; their joint training with SoccerNet-v2 (a second class head, "
        "batches of both datasets) is not built: pre-train on v2 with tdeed-soccernetv2 and start from it with "
        "--init-from; pretrained false (theirs starts from timm's ImageNet weights: set head_options.pretrained "
        "where they can be loaded)."
    ),
    head="tdeed-soccernetball-baseline",
    head_options={"feature_arch": "rny002_gsf", "clip_len": 100, "radi_displacement": 4, "event_team": True,
                  "pretrained": False},
    dropout=0.0,
    batch_size=4,
    optimizer="adamw",
    lr=8e-4,
    weight_decay=0.01,
    scheduler="warmup-cosine",
    warmup_epochs=3,
    max_epochs=35,
    mixup_alpha=0.2,
    eval_every=5,
    classes="ball-2025",
    metric="at1",
    select_on="valid_a_mAP",
    precision="auto",
)
DENSE_PRESETS["tdeed-soccernetv2"] = TrainConfig(
    preset="tdeed-soccernetv2",
    source=(
        f"{TDEED_PAPER}; arturxe2/T-DEED config/SoccerNet/SoccerNet_small.json and train_tdeed.py: rny002_gsf, "
        "ed_sgp_mixer (3 levels, kernel 9, r 4), clips of 100 frames every 12th 25 fps frame (796x448), "
        "radi_displacement 3, batch 8, AdamW lr 8e-4 (weight decay 0.01), warm-up 6 epochs then cosine, 100 "
        "epochs, mixup Beta(0.2, 0.2), class CE (foreground weight 5) + displacement MSE, 5000 clips an epoch "
        "from their stored clips holding a label, flips, the best epoch on validation tight Average-mAP. "
        "Departures: their stored clips start every 50 source frames, which is not a whole number of the cache's "
        "12-frame rows: here every 4 rows (48 frames), so every clip's frames are the ones inference reads; "
        "validation every 5 epochs (theirs every epoch from epoch 60); no colour jitter or blur; pretrained "
        "false."
    ),
    head="tdeed-soccernet-small",
    head_options={"feature_arch": "rny002_gsf", "clip_len": 100, "radi_displacement": 3, "pretrained": False},
    dropout=0.0,
    batch_size=8,
    optimizer="adamw",
    lr=8e-4,
    weight_decay=0.01,
    scheduler="warmup-cosine",
    warmup_epochs=6,
    max_epochs=100,
    mixup_alpha=0.2,
    eval_every=5,
    classes="v2",
    metric="tight",
    select_on="valid_a_mAP",
    precision="auto",
)
# What a dense preset sets of `pipeline.training.dense.DenseSettings` (the data and loss beside the model):
# flags override them, `DenseSettings`' defaults (E2E-Spot's) fill the rest.
DENSE_PRESET_SETTINGS: dict[str, dict] = {
    "e2e-spot-paper": {"frame_recipe": "e2e-soccernetv2", "variant": "E2E-Spot"},
    "tdeed-ball": {"frame_recipe": "tdeed-ball", "variant": "T-DEED", "task": "ball", "start_step": 5,
                   "peer_rows": True, "flip": False, "displacement_weight": 1.0, "team_weight": 2.0},
    "tdeed-soccernetv2": {"frame_recipe": "tdeed-soccernetv2", "variant": "T-DEED", "task": "spotting",
                          "start_step": 4, "event_clips_only": True, "peer_rows": True, "flip": True,
                          "displacement_weight": 1.0},
}


def get_dense_preset(name: str) -> TrainConfig:
    if name not in DENSE_PRESETS:
        raise KeyError(f"unknown dense preset {name!r}; presets: {', '.join(sorted(DENSE_PRESETS))}")
    return dataclasses.replace(DENSE_PRESETS[name], head_options=dict(DENSE_PRESETS[name].head_options))

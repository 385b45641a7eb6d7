"""The papers soccerspot's models and recipes come from: one citation each, named once."""

RESNET_PAPER = "He et al., 'Deep Residual Learning for Image Recognition', CVPR 2016"
NETVLAD_PAPER = "Arandjelović et al., 'NetVLAD: CNN architecture for weakly supervised place recognition', CVPR 2016"
NETRVLAD_PAPER = "Miech et al., 'Learnable pooling with Context Gating for video classification', 2017"
SOCCERNET_PAPER = "Giancola et al., 'SoccerNet: A Scalable Dataset for Action Spotting in Soccer Videos', CVPR-W 2018"
TEMPORALLY_AWARE_PAPER = ("Giancola & Ghanem, 'Temporally-Aware Feature Pooling for Action Spotting in Soccer "
                          "Broadcasts', CVPR-W 2021 (arXiv 2104.06779)")
BAIDU_REPORT = ("Zhou et al., 'Feature Combination Meets Attention: Baidu Soccer Embeddings and Transformer based "
                "Temporal Detection', technical report 2021 (arXiv 2106.14447)")
CALF_PAPER = ("Cioppa et al., 'A Context-Aware Loss Function for Action Spotting in Soccer Videos', CVPR 2020 "
              "(arXiv 1912.01326)")
RMSNET_PAPER = ("Tomei et al., 'RMS-Net: Regression and Masking for Soccer Event Spotting', ICPR 2020 "
                "(arXiv 2102.07624)")
SOCCERNET_V2_PAPER = "Deliège et al., 'SoccerNet-v2: A Dataset and Benchmarks for Holistic Understanding of Broadcast Soccer Videos', CVPR-W 2021"
TRAN_PAPER = "Tran et al., 'A Closer Look at Spatiotemporal Convolutions for Action Recognition', CVPR 2018"
MVIT_PAPER = "Fan et al., 'Multiscale Vision Transformers', ICCV 2021; Li et al., 'MViTv2', CVPR 2022"
SWIN_PAPER = "Liu et al., 'Video Swin Transformer', CVPR 2022"
E2E_SPOT_PAPER = ("Hong et al., 'Spotting Temporally Precise, Fine-Grained Events in Video', ECCV 2022 "
                  "(arXiv 2207.10213)")
TDEED_PAPER = ("Xarles et al., 'T-DEED: Temporal-Discriminability Enhancer Encoder-Decoder for Precise Event "
               "Spotting in Sports Videos', CVPR-W 2024 (arXiv 2404.05392)")
TSM_PAPER = "Lin et al., 'TSM: Temporal Shift Module for Efficient Video Understanding', ICCV 2019"
GSM_PAPER = "Sudhakaran et al., 'Gate-Shift Networks for Video Action Recognition', CVPR 2020"
GSF_PAPER = "Sudhakaran et al., 'Gate-Shift-Fuse for Video Action Recognition', TPAMI 2023 (arXiv 2203.08897)"
MSTCN_PAPER = ("Farha & Gall, 'MS-TCN: Multi-Stage Temporal Convolutional Network for Action Segmentation', "
               "CVPR 2019")
TEAM_SPOTTING_PAPER = ("SoccerNet Team Ball Action Spotting 2025 baseline: T-DEED with a team head "
                       "(github.com/SoccerNet/sn-teamspotting)")

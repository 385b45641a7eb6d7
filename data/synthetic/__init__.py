"""Synthetic soccer broadcasts, rendered as real H.264 videos with their SoccerNet labels, so the whole chain
(decode -> backbone -> head -> NMS -> Average-mAP) runs, and is shown to learn, where no SoccerNet video or
pretrained weights can be had. `broadcast`: timelines, camera scripts, rendering and encoding of halves and
games; `scenes`: the shots (pitch, players, graphics) a script is made of; `draw`: the drawing primitives.
"""

"""FrameCV's frame rule settled at the end of a live run (features of the `ResNET_TF2` recipe).

While the stream grows, live keeps frames by FrameCV's counter on the header's average rate
(`pipeline.live.extraction`). FrameCV itself then checks that rate against the container's duration and
re-reads at `(frames + 1) / duration` when too few frames came (`extract.framecv.framecv_rate`): that needs
the finished file. At the end of a run on a file, the rule is read from the file (`framecv_timing`) and the
frames it keeps are compared with those live kept; where they differ, the rows are re-made from the file by
the offline extractor (what `spot` makes of it), and the session settles its events against those. A run
stopped before its recording ended keeps its rows (the finished file's rule is not known yet), and a stream
(URL, playlist) has no container duration: its rows follow the header's rate. Each case is said in one line.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from soccerspot.extract.decode import probe
from soccerspot.extract.framecv import framecv_timing, kept_numbers


@dataclass
class FrameCVSettlement:
    features: np.ndarray  # the final rows (after any PCA)
    times: list[float]
    timing: dict  # the numbers the final rows' keep rule ran on (`FrameCVTiming` fields; duration None: unknown)
    remade: bool = False  # the rows were re-made from the finished file
    note: str | None = None  # what the user is told, when the rule was not (or could not be) checked as FrameCV does


def settle_framecv(extractor, source, live, features: np.ndarray, times: list[float], *, stopped: bool,
                   progress: bool = False) -> FrameCVSettlement:
    """The rows a live run on `source` ends with under FrameCV's rule (see the module docstring). `live`: the
    run's `LiveFeatures` (its counter and rate); `features`, `times`: the rows it made."""
    fps = float(extractor.config.fps)
    live_fps = live.framecv_fps  # None: no frame came in this run (a URL resumed that sent nothing more)
    as_kept = {"header_fps": live_fps, "duration": None, "frames": live.counted, "fps_video": live_fps}
    if source.kind != "file":
        rate = f"{live_fps:g} fps" if live_fps else "unknown: no frame came in this run"
        return FrameCVSettlement(features, times, as_kept, note=(
            f"{source.spec}: FrameCV checks its frame rate against a file's duration, which a stream does not have: "
            f"the rows follow the stream's header rate ({rate})"))
    info = probe(source.path)
    timing = framecv_timing(info)
    counted = live.counted if stopped else timing.frames
    kept = kept_numbers(live.counted, live_fps, fps) if live_fps else []
    if kept == kept_numbers(counted, timing.fps_video, fps):
        return FrameCVSettlement(features, times, dataclasses.asdict(timing))
    if timing.fps_video != live_fps:
        rule = (f"FrameCV's frame rate for {source.path} is {timing.fps_video:g} fps ({timing.frames} frames in its "
                f"{timing.duration:g} s, header {timing.header_fps:g} fps), not the {live_fps or 0:g} fps live counted "
                "frames by")
    else:
        rule = f"{source.path} holds {timing.frames} video frames where live counted {live.counted}"
    if stopped:
        return FrameCVSettlement(features, times, as_kept, note=(
            f"{rule}; the run was stopped before the recording ended, so its {len(times)} rows stay as live made "
            "them: spot the finished recording (soccerspot spot) for FrameCV's rows"))
    config = extractor.config
    extractor.config = dataclasses.replace(config, progress=progress)
    try:
        remade, remade_times = extractor.features(info, desc=f"{source.path.name} (FrameCV's rate)")
    finally:
        extractor.config = config
    return FrameCVSettlement(remade, [float(t) for t in remade_times], dataclasses.asdict(timing), remade=True, note=(
        f"{rule}: its {len(times)} rows are replaced by the {len(remade_times)} rows FrameCV keeps, re-made from the "
        "file as `spot` makes them, and the events are settled against those"))

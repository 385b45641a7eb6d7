"""Highlight reels: cut a window around each chosen spot out of the match video and join them.

`make_highlight_reel(VIDEO_OR_GAME, PREDICTIONS, OUT)` takes one video file or a SoccerNet game folder
(`1_224p.mkv` + `2_224p.mkv`), keeps the spots of the asked classes above a confidence, merges the
overlapping windows, and cuts each window with the ffmpeg binary of the `imageio-ffmpeg` wheel (driven
through ffmpeg-python). A window that starts on a keyframe is stream-copied (no quality loss, fast);
one that does not is re-encoded, so that it starts on the asked time and not on the keyframe before.
Audio, where every half has it, is re-encoded to AAC in both cases so that all segments can be joined.
The segments are then joined by stream copy, with the chapter list embedded; the chapter list is also
written beside the reel (JSON and text, `chapters.py`).

Checks come before any work: the output must be writable, the class names known, and some prediction
must fall inside the video(s) (otherwise they are another game's predictions).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from soccerspot.data.cameras import read_replay_detections
from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.games import PREDICTIONS_FILE, half_of, half_videos, is_video_name
from soccerspot.data.labels import GamePredictions, read_predictions
from soccerspot.errors import DataError
from soccerspot.pipeline.reports.chapters import Chapter, build_chapters, ffmetadata, write_chapter_lists
from soccerspot.pipeline.reports.clock import format_clock
from soccerspot.pipeline.reports.replay_windows import with_replays
from soccerspot.pipeline.reports.windows import (
    HighlightOptions, Window, merge_windows, select_spots, spot_windows, spots_inside,
)

REEL_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
ENCODE_OPTIONS = {"c:v": "libx264", "preset": "veryfast", "crf": 18, "pix_fmt": "yuv420p"}
AUDIO_OPTIONS = {"c:a": "aac", "b:a": "128k"}


@dataclass(frozen=True)
class HalfVideo:
    half: int
    path: Path
    duration: float  # seconds
    fps: float
    keyframes: tuple[float, ...]  # presentation times of the keyframes, seconds from the first frame
    has_audio: bool


@dataclass(frozen=True)
class Segment:
    """How one window is cut: stream copy from a keyframe, or re-encoded from the asked time."""

    window: Window
    video: HalfVideo
    start: float
    duration: float
    copy: bool


@dataclass
class Reel:
    path: Path
    chapters_json: Path
    chapters_text: Path
    chapters: list[Chapter]
    segments: list[Segment]
    duration: float  # seconds, as measured in the written reel
    skipped_spots: int  # chosen spots outside every video (a half without video, past the end)


# ------------------------------------------------------------------------------------------ inputs


def find_half_videos(path: str | Path) -> dict[int, Path]:
    """{half: video}: a game folder's `1_*.mkv` / `2_*.mkv` (224p preferred), or one file (half 1 unless
    it is named like a half, `2_224p.mkv`)."""
    path = Path(path)
    if path.is_dir():
        found = half_videos(path)
        if not found:
            raise DataError(path, "no half videos in this folder (expected 1_224p.mkv and 2_224p.mkv, or give a video file)")
        return found
    if not path.exists():
        raise DataError(path, "no such video file or game folder")
    if not is_video_name(path):
        raise DataError(path, "not a video file name (expected .mkv, .mp4, ...) nor a game folder")
    return {half_of(path) or 1: path}


def probe_half(path: Path, half: int) -> HalfVideo:
    """Duration, frame rate, keyframe times and audio presence, read by demuxing (no decoding)."""
    from soccerspot.extract.decode import _open_container, _video_stream, check_file

    check_file(path)
    with _open_container(path) as container:
        stream = _video_stream(container, path)
        has_audio = bool(container.streams.audio)
        rate = stream.average_rate or stream.base_rate
        fps = float(rate) if rate else 25.0
        keyframes, first, last = [], None, 0.0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            seconds = float(packet.pts * packet.time_base)
            first = seconds if first is None else min(first, seconds)
            last = max(last, seconds + float((packet.duration or 0) * packet.time_base))
            if packet.is_keyframe:
                keyframes.append(seconds)
    if first is None:
        raise DataError(path, "the video stream holds no frames")
    duration = last - first
    if duration <= 0:
        raise DataError(path, "the video lasts 0 s")
    return HalfVideo(half, path, duration, fps, tuple(sorted(k - first for k in keyframes)), has_audio)


def check_output(path: str | Path, inputs: Sequence[Path]) -> Path:
    """The reel's path, or a usage error (`ValueError`) before any work: unknown container, a folder,
    an input video, or a folder that cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in REEL_FORMATS:
        raise ValueError(f"{path}: the reel must be one of {', '.join(REEL_FORMATS)}")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give the reel's file name (e.g. {path / 'reel.mp4'})")
    if any(path.resolve() == Path(source).resolve() for source in inputs):
        raise ValueError(f"{path}: would overwrite an input video")
    try:  # write a file there: permission bits alone do not tell (root, read-only mounts, /proc)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise ValueError(f"{path}: cannot write in {path.parent} ({error.strerror or error})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{path}: exists and is not writable")
    return path


def valid_classes(predictions: GamePredictions) -> list[str]:
    """SoccerNet-v2's classes, then any other class the predictions use (synthetic seasons' own)."""
    extra = sorted({p.label for p in predictions.predictions} - set(CLASS_NAMES_V2))
    return list(CLASS_NAMES_V2) + extra


def check_classes(asked: Sequence[str] | None, valid: Sequence[str]) -> None:
    if asked is None:
        return
    unknown = [name for name in asked if name not in valid]
    if unknown:
        raise ValueError(f"unknown class name(s) {', '.join(map(repr, unknown))}; valid classes: {', '.join(valid)}")


def check_same_game(predictions: GamePredictions, videos: dict[int, HalfVideo], where: Path) -> None:
    durations = {half: video.duration for half, video in videos.items()}
    if predictions.predictions and spots_inside(predictions.predictions, durations) == 0:
        spans = "; ".join(f"half {half}: 00:00-{format_clock(d)}" for half, d in sorted(durations.items()))
        latest = max(predictions.predictions, key=lambda p: p.position_ms)
        raise DataError(where, f"no prediction falls inside the video ({spans}; predictions for halves "
                               f"{sorted({p.half for p in predictions.predictions})}, up to "
                               f"{format_clock(latest.position_ms / 1000)}): are these another game's predictions?")


# ------------------------------------------------------------------------------------------ planning


def plan_segment(window: Window, video: HalfVideo) -> Segment:
    """Stream copy when a keyframe lies within half a frame of the window's start, else re-encode."""
    half_frame = 0.5 / video.fps
    keyframe = next((k for k in video.keyframes if abs(k - window.start) <= half_frame), None)
    if keyframe is not None:
        return Segment(window, video, keyframe, window.end - keyframe, True)
    return Segment(window, video, window.start, window.duration, False)


def plan_reel(windows: Sequence[Window], videos: dict[int, HalfVideo]) -> list[Segment]:
    return [plan_segment(window, videos[window.half]) for window in windows]


# ------------------------------------------------------------------------------------------ ffmpeg


def _run_ffmpeg(stream, source: Path) -> None:
    import ffmpeg
    import imageio_ffmpeg

    try:
        stream.global_args("-hide_banner", "-nostdin").run(
            cmd=imageio_ffmpeg.get_ffmpeg_exe(), capture_stdout=True, capture_stderr=True, overwrite_output=True)
    except ffmpeg.Error as error:
        lines = [line for line in (error.stderr or b"").decode("utf-8", "replace").splitlines() if line.strip()]
        raise DataError(source, f"ffmpeg failed: {lines[-1] if lines else 'no message'}") from None


def cut_segment(segment: Segment, out: Path, audio: bool) -> None:
    """Write one segment: input seeking (fast), then copy or re-encode the picture."""
    import ffmpeg

    source = ffmpeg.input(str(segment.video.path), ss=f"{segment.start:.6f}", t=f"{segment.duration:.6f}")
    streams = [source.video] + ([source.audio] if audio else [])
    video_options = {"c:v": "copy"} if segment.copy else dict(ENCODE_OPTIONS)
    audio_options = dict(AUDIO_OPTIONS) if audio else {"an": None}
    _run_ffmpeg(ffmpeg.output(*streams, str(out), f="mp4", **video_options, **audio_options), segment.video.path)


def media_duration(path: Path) -> float:
    """The container's duration in seconds (what the concat step offsets the next segment by)."""
    import av

    with av.open(str(path)) as container:
        return container.duration / 1_000_000 if container.duration else 0.0


def _concat_quote(path: Path) -> str:
    """A path quoted for ffmpeg's concat list: single quotes, a quote written as '\\''."""
    return "'" + os.fspath(path.resolve()).replace("'", "'\\''") + "'"


def join_segments(parts: Sequence[Path], metadata: Path, out: Path, audio: bool, container_format: str) -> None:
    import ffmpeg

    listing = out.with_name(out.name + ".txt")
    listing.write_text("".join(f"file {_concat_quote(p)}\n" for p in parts))
    joined = ffmpeg.input(str(listing), f="concat", safe=0)
    # The metadata input has no streams; an optional map makes ffmpeg-python list it as an input.
    chapters = ffmpeg.input(str(metadata), f="ffmetadata")
    streams = [joined.video] + ([joined.audio] if audio else []) + [chapters["d?"]]
    options = {"c": "copy", "map_metadata": 1, "map_chapters": 1, "f": container_format}
    if container_format in ("mp4", "mov"):
        options["movflags"] = "+faststart"
    _run_ffmpeg(ffmpeg.output(*streams, str(out), **options), parts[0])


# ------------------------------------------------------------------------------------------ the reel


def make_highlight_reel(video_or_game: str | Path, predictions: str | Path | None, output: str | Path,
                        options: HighlightOptions = HighlightOptions(), *, progress: bool = True,
                        replays: str | Path | None = None) -> Reel:
    """Cut and join the windows around the chosen spots; write the reel and its chapter lists.
    `replays`: a Detection-replays.json whose replays follow their actions (`replay_windows`).

    `predictions`: a `results_spotting.json`; None takes the game folder's own. Raises `ValueError`
    for usage errors (output, class names) and `DataError` for bad input files, all before cutting."""
    from tqdm import tqdm

    videos_by_half = find_half_videos(video_or_game)
    out = check_output(output, list(videos_by_half.values()))
    if predictions is None:
        if not Path(video_or_game).is_dir():
            raise ValueError("--predictions is needed for a video file (a game folder defaults to its own "
                             f"{PREDICTIONS_FILE})")
        predictions = Path(video_or_game) / PREDICTIONS_FILE
    predictions = Path(predictions)
    game_predictions = read_predictions(predictions)
    check_classes(options.classes, valid_classes(game_predictions))
    videos = {half: probe_half(path, half) for half, path in videos_by_half.items()}
    check_same_game(game_predictions, videos, predictions)
    chosen = select_spots(game_predictions.predictions, options)
    durations = {half: video.duration for half, video in videos.items()}
    windows = merge_windows(spot_windows(chosen, durations, options))
    if replays is not None and windows:

        windows = with_replays(windows, read_replay_detections(replays), durations)
    if not windows:
        classes = "every class" if options.classes is None else ", ".join(options.classes)
        raise DataError(predictions, f"no spot of {classes} with confidence >= {options.min_confidence} inside "
                                     "the video: nothing to put in a reel (lower --min-confidence?)")
    segments = plan_reel(windows, videos)
    audio = all(video.has_audio for video in videos.values())
    container_format = REEL_FORMATS[out.suffix.lower()]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as work:
        work_dir = Path(work)
        parts, lengths = [], []
        bar = tqdm(total=sum(s.duration for s in segments), unit="s", desc="cutting", disable=not progress,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of match [{elapsed}<{remaining}]")
        with bar:
            for index, segment in enumerate(segments):
                part = work_dir / f"segment_{index:04d}.mp4"
                cut_segment(segment, part, audio)
                parts.append(part)
                lengths.append(media_duration(part))
                bar.update(segment.duration)
        chapters = build_chapters(windows, lengths)
        metadata = work_dir / "chapters.ffmetadata"
        metadata.write_text(ffmetadata(chapters), encoding="utf-8")
        joined = work_dir / f"reel{out.suffix}"
        join_segments(parts, metadata, joined, audio, container_format)
        os.replace(joined, out)
    json_path, text_path = write_chapter_lists(out, chapters, {h: str(v.path) for h, v in videos.items()})
    skipped = len(chosen) - sum(len(w.spots) for w in windows)
    return Reel(out, json_path, text_path, chapters, segments, media_duration(out), skipped)


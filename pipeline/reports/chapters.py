"""The chapter list of a highlight reel: one chapter per merged window, in reel time and match time.

Written beside the reel as `<reel>.chapters.json` and `<reel>.chapters.txt` (one line per chapter, the
"mm:ss title" form video sites read as chapters), and embedded in the reel through an FFmetadata file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.pipeline.reports.clock import format_clock, format_game_time
from soccerspot.pipeline.reports.windows import Window


@dataclass(frozen=True)
class ChapterSpot:
    game_time: str
    label: str
    confidence: float


@dataclass(frozen=True)
class Chapter:
    reel_start: float  # seconds in the reel
    reel_end: float
    half: int
    match_start: float  # seconds from the start of the half
    match_end: float
    spots: tuple[ChapterSpot, ...]

    @property
    def title(self) -> str:
        labels = list(dict.fromkeys(spot.label for spot in self.spots))
        return f"{format_game_time(self.half, self.match_start)}-{format_clock(self.match_end)} {', '.join(labels)}"


def build_chapters(windows: Sequence[Window], durations: Sequence[float]) -> list[Chapter]:
    """Chapters of windows laid end to end, each as long as its cut segment really is (`durations`)."""
    if len(windows) != len(durations):
        raise ValueError(f"{len(windows)} windows but {len(durations)} segment durations")
    chapters, clock = [], 0.0
    for window, duration in zip(windows, durations):
        spots = tuple(ChapterSpot(format_game_time(s.half, s.position_ms / 1000.0), s.label, round(s.confidence, 4))
                      for s in sorted(window.spots, key=lambda s: s.position_ms))
        chapters.append(Chapter(round(clock, 3), round(clock + duration, 3), window.half,
                                round(window.start, 3), round(window.end, 3), spots))
        clock += duration
    return chapters


def chapter_paths(reel: str | Path) -> tuple[Path, Path]:
    reel = Path(reel)
    return reel.with_name(reel.name + ".chapters.json"), reel.with_name(reel.name + ".chapters.txt")


def chapters_text(chapters: Sequence[Chapter]) -> str:
    """One line per chapter: reel time, match time and classes, the spots' confidences after them."""
    lines = []
    for chapter in chapters:
        details = ", ".join(f"{s.label} at {s.game_time} ({s.confidence:.2f})" for s in chapter.spots)
        lines.append(f"{format_clock(chapter.reel_start)} {chapter.title}   [{details}]")
    return "\n".join(lines) + "\n"


def ffmetadata(chapters: Sequence[Chapter]) -> str:
    """FFmpeg's metadata file format with one [CHAPTER] per chapter (times in ms)."""
    def escape(text: str) -> str:
        for char in "\\=;#\n":
            text = text.replace(char, "\\" + char)
        return text

    lines = [";FFMETADATA1"]
    for chapter in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(chapter.reel_start * 1000)}",
                  f"END={round(chapter.reel_end * 1000)}", f"title={escape(chapter.title)}"]
    return "\n".join(lines) + "\n"


def write_chapter_lists(reel: str | Path, chapters: Sequence[Chapter], video_sources: dict[int, str]) -> tuple[Path, Path]:
    """Write `<reel>.chapters.json` and `<reel>.chapters.txt` atomically; returns their paths."""
    json_path, text_path = chapter_paths(reel)
    write_json_atomic(json_path, {
        "reel": Path(reel).name,
        "sources": {str(half): source for half, source in sorted(video_sources.items())},
        "chapters": [dict(asdict(chapter), title=chapter.title) for chapter in chapters],
    })
    with atomic_open(text_path, "w") as handle:
        handle.write(chapters_text(chapters))
    return json_path, text_path

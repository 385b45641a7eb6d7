"""Match time on plot axes and in chapter lists: seconds from the start of a half shown as mm:ss."""
from __future__ import annotations

# Tick spacings a reader counts in easily, in seconds; the first that gives at most `MAX_TICKS` wins.
TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900)
MAX_TICKS = 12


def format_clock(seconds: float) -> str:
    """mm:ss, minutes not capped at 59 (a half with stoppage time runs past 45:00)."""
    total = max(0, int(seconds))
    return f"{total // 60:02d}:{total % 60:02d}"


def format_game_time(half: int, seconds: float) -> str:
    """SoccerNet's "H - mm:ss"."""
    return f"{half} - {format_clock(seconds)}"


def tick_step(duration_s: float) -> int:
    """The tick spacing for an axis covering `duration_s` seconds."""
    for step in TICK_STEPS_S:
        if duration_s / step <= MAX_TICKS:
            return step
    return TICK_STEPS_S[-1] * int(duration_s // (TICK_STEPS_S[-1] * MAX_TICKS) + 1)


def set_match_time_axis(ax, duration_s: float, label: str = "match time (mm:ss from the start of the half)") -> None:
    """Limit the x axis to [0, duration] and label it in mm:ss."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    ax.set_xlim(0, max(duration_s, 1.0))
    step = tick_step(duration_s)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: format_clock(value)))
    if label:
        ax.set_xlabel(label)

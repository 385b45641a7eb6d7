"""Small numpy rasterisers for the synthetic broadcast generator (no OpenCV here).

Every function draws in place on an `(H, W, 3) uint8` image, clips to the image, and accepts float
coordinates in pixels. Shapes are hard-edged: the generator wants large, high-contrast regions, and
hard edges keep rendering deterministic and cheap.
"""
from __future__ import annotations

import numpy as np

Color = tuple[int, int, int]


def _clip_box(image: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int] | None:
    height, width = image.shape[:2]
    left, top = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    right, bottom = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
    if left >= right or top >= bottom:
        return None
    return left, top, right, bottom


def fill_rect(image: np.ndarray, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
    """Axis-aligned filled rectangle covering [x0, x1) x [y0, y1)."""
    box = _clip_box(image, round(x0), round(y0), round(x1), round(y1))
    if box is not None:
        left, top, right, bottom = box
        image[top:bottom, left:right] = color


def fill_ellipse(image: np.ndarray, cx: float, cy: float, rx: float, ry: float, color: Color) -> None:
    """Filled axis-aligned ellipse centred at (cx, cy) with radii rx, ry."""
    if rx <= 0 or ry <= 0:
        return
    box = _clip_box(image, cx - rx, cy - ry, cx + rx + 1, cy + ry + 1)
    if box is None:
        return
    left, top, right, bottom = box
    ys = (np.arange(top, bottom) + 0.5 - cy) / ry
    xs = (np.arange(left, right) + 0.5 - cx) / rx
    mask = ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0
    image[top:bottom, left:right][mask] = color


def fill_circle(image: np.ndarray, cx: float, cy: float, radius: float, color: Color) -> None:
    fill_ellipse(image, cx, cy, radius, radius, color)


def draw_ring(image: np.ndarray, cx: float, cy: float, rx: float, ry: float, thickness: float, color: Color) -> None:
    """Ellipse outline of about `thickness` pixels (inside the radii)."""
    box = _clip_box(image, cx - rx, cy - ry, cx + rx + 1, cy + ry + 1)
    if box is None or rx <= thickness or ry <= thickness:
        return
    left, top, right, bottom = box
    ys = (np.arange(top, bottom) + 0.5 - cy)[:, None]
    xs = (np.arange(left, right) + 0.5 - cx)[None, :]
    outer = (ys / ry) ** 2 + (xs / rx) ** 2 <= 1.0
    inner = (ys / (ry - thickness)) ** 2 + (xs / (rx - thickness)) ** 2 <= 1.0
    image[top:bottom, left:right][outer & ~inner] = color


def draw_line(image: np.ndarray, x0: float, y0: float, x1: float, y1: float, thickness: float, color: Color) -> None:
    """Thick segment: every pixel within thickness/2 of the segment."""
    half = thickness / 2.0
    box = _clip_box(image, min(x0, x1) - half, min(y0, y1) - half, max(x0, x1) + half + 1, max(y0, y1) + half + 1)
    if box is None:
        return
    left, top, right, bottom = box
    ys = (np.arange(top, bottom) + 0.5)[:, None]
    xs = (np.arange(left, right) + 0.5)[None, :]
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    if length2 == 0:
        t = np.zeros((1, 1))
    else:
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0)
    distance2 = (xs - (x0 + t * dx)) ** 2 + (ys - (y0 + t * dy)) ** 2
    image[top:bottom, left:right][distance2 <= half * half] = color


def draw_rect_outline(image: np.ndarray, x0: float, y0: float, x1: float, y1: float, thickness: float, color: Color) -> None:
    fill_rect(image, x0, y0, x1, y0 + thickness, color)
    fill_rect(image, x0, y1 - thickness, x1, y1, color)
    fill_rect(image, x0, y0, x0 + thickness, y1, color)
    fill_rect(image, x1 - thickness, y0, x1, y1, color)


def draw_grid(image: np.ndarray, x0: float, y0: float, x1: float, y1: float, spacing: float, thickness: float, color: Color) -> None:
    """A net: horizontal and vertical lines every `spacing` pixels inside the box."""
    box = _clip_box(image, x0, y0, x1, y1)
    if box is None or spacing <= 0:
        return
    left, top, right, bottom = box
    ys = np.arange(top, bottom) - y0
    xs = np.arange(left, right) - x0
    mask = ((ys % spacing) < thickness)[:, None] | ((xs % spacing) < thickness)[None, :]
    image[top:bottom, left:right][mask] = color


def fill_stripes(image: np.ndarray, x0: float, y0: float, x1: float, y1: float, period: float, colors: list[Color], phase: float = 0.0) -> None:
    """Vertical stripes cycling through `colors`, each `period` pixels wide (ad boards, crowds)."""
    box = _clip_box(image, x0, y0, x1, y1)
    if box is None:
        return
    left, top, right, bottom = box
    index = (((np.arange(left, right) - x0 + phase) // period).astype(np.int64)) % len(colors)
    palette = np.asarray(colors, dtype=np.uint8)
    image[top:bottom, left:right] = palette[index][None, :, :]


# A 3x5 bitmap font: enough for banners ("GOAL", "REPLAY"), scores and substitution boards.
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", "A": "010101111101101", "C": "111100100100111",
    "D": "110101101101110", "E": "111100111100111", "F": "111100111100100", "G": "111100101101111",
    "K": "101101110101101", "L": "100100100100111", "N": "111101101101101", "O": "111101101101111",
    "P": "111101111100100", "R": "111101110101101", "S": "111100111001111", "T": "111010010010010",
    "U": "101101101101111", "Y": "101101010010010", "-": "000000111000000", " ": "000000000000000",
    "!": "010010010000010", ":": "000010000010000",
}


def draw_text(image: np.ndarray, text: str, x: float, y: float, scale: int, color: Color) -> float:
    """Draw `text` with the 3x5 font, each font pixel a `scale`-sized square; returns the end x."""
    cursor = x
    for char in text.upper():
        bits = _FONT.get(char, _FONT[" "])
        for index, bit in enumerate(bits):
            if bit == "1":
                row, col = divmod(index, 3)
                fill_rect(image, cursor + col * scale, y + row * scale, cursor + (col + 1) * scale, y + (row + 1) * scale, color)
        cursor += 4 * scale
    return cursor


def text_width(text: str, scale: int) -> int:
    return max(len(text) * 4 * scale - scale, 0)

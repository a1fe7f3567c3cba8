"""Drawing helpers shared by slides and thumbnails: fonts, colours, wrapping, backgrounds."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONTS_DIR = Path(__file__).parent / "fonts"
REGULAR = FONTS_DIR / "DejaVuSans.ttf"
BOLD = FONTS_DIR / "DejaVuSans-Bold.ttf"
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class ColorError(ValueError):
    pass


def parse_color(value: str) -> tuple[int, int, int]:
    match = _HEX.match((value or "").strip())
    if not match:
        raise ColorError(f"{value!r} is not a colour: use #RRGGBB, for example #1E2A44.")
    h = match[1]
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def legible_on(background: tuple[int, int, int], preferred: tuple[int, int, int]) -> tuple[int, int, int]:
    """The preferred text colour if it reads well (WCAG 4.5:1), else black or white."""
    if contrast(background, preferred) >= 4.5:
        return preferred
    white, black = (255, 255, 255), (17, 17, 17)
    return white if contrast(background, white) >= contrast(background, black) else black


def shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    if factor < 1:
        return tuple(int(c * factor) for c in rgb)  # type: ignore[return-value]
    return tuple(int(c + (255 - c) * (factor - 1)) for c in rgb)  # type: ignore[return-value]


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(BOLD if bold else REGULAR), size)


def wrap(text: str, fnt: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap by measured width; a single over-long word is kept on its own line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split():
            trial = f"{current} {word}".strip()
            if not current or fnt.getlength(trial) <= width:
                current = trial
            else:
                lines.append(current)
                current = word
        if current:
            lines.append(current)
    return lines


def fit(text: str, width: int, max_lines: int, start: int, minimum: int, bold: bool = True) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font size (from start down to minimum) that wraps text into max_lines."""
    size = start
    while True:
        fnt = font(size, bold)
        lines = wrap(text, fnt, width)
        if len(lines) <= max_lines and all(fnt.getlength(l) <= width for l in lines):
            return fnt, lines
        if size <= minimum:
            if len(lines) > max_lines:
                lines = lines[:max_lines]
                lines[-1] = lines[-1].rstrip(".,;:") + "…"
            return fnt, lines
        size = max(minimum, int(size * 0.92))


def background(size: tuple[int, int], primary: tuple[int, int, int], accent: tuple[int, int, int], seed: int) -> Image.Image:
    """A vertical gradient in the brand colour with soft accent shapes (varied by seed)."""
    w, h = size
    top, bottom = shade(primary, 1.12), shade(primary, 0.55)
    column = Image.linear_gradient("L").resize((1, h))
    img = Image.composite(Image.new("RGB", (1, h), bottom), Image.new("RGB", (1, h), top), column).resize((w, h))
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    r = max(w, h)
    cx = [0.85, 0.1, 0.75, 0.2][seed % 4] * w
    cy = [0.15, 0.8, 0.85, 0.2][seed % 4] * h
    for k, alpha in ((0.55, 28), (0.38, 36), (0.22, 44)):
        rad = r * k
        draw.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=(*accent, alpha))
    return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")


def draw_lines(draw: ImageDraw.ImageDraw, lines: list[str], fnt: ImageFont.FreeTypeFont, xy: tuple[int, int],
               fill: tuple[int, int, int], spacing: float = 1.18, anchor_center: bool = False, width: int = 0,
               shadow: bool = True) -> int:
    """Draw wrapped lines; returns the y below the last line."""
    x, y = xy
    line_h = int(fnt.size * spacing)
    for line in lines:
        lx = x + (width - fnt.getlength(line)) / 2 if anchor_center else x
        if shadow:
            draw.text((lx + fnt.size // 24 + 1, y + fnt.size // 24 + 1), line, font=fnt, fill=(0, 0, 0))
        draw.text((lx, y), line, font=fnt, fill=fill)
        y += line_h
    return y

"""Drawing helpers shared by slides and thumbnails: fonts, colours, wrapping, backgrounds.

Text in any script: a line is drawn run by run, each run in the font that has its characters
(:mod:`pipeline.media.fonts`), runs put in visual order (right-to-left runs reversed as the Unicode
bidi algorithm orders them at levels 0-2) and shaped by Raqm in their own direction, all on one
baseline. A line DejaVu draws alone is drawn exactly as before, in one call.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipeline.media import fonts
from pipeline.media.bidi import base_direction, has_rtl, visual_pieces  # noqa: F401 - base_direction re-exported

REGULAR = fonts.BUNDLED_DIR / "DejaVuSans.ttf"
BOLD = fonts.BUNDLED_DIR / "DejaVuSans-Bold.ttf"
# The folder libass is given (the subtitles filter's fontsdir), as found when this module was imported:
# every font of the fallback chain. New code should call fonts.fonts_dir() where it builds the filter.
FONTS_DIR = fonts.fonts_dir()
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
    """The base font (DejaVu Sans) at a size; characters it lacks are drawn with fallback fonts."""
    return ImageFont.truetype(str(BOLD if bold else REGULAR), size)


def _is_bold(fnt: ImageFont.FreeTypeFont) -> bool:
    return Path(str(getattr(fnt, "path", ""))).name == BOLD.name


def segments(line: str, fnt: ImageFont.FreeTypeFont,
             base: str | None = None) -> list[tuple[str, ImageFont.FreeTypeFont, str]]:
    """(text, font, direction) pieces of one line in visual order, left to right. ``base`` is the
    paragraph's direction ('ltr'/'rtl'; default: the line's own), so a wrapped line of digits stays RTL."""
    base = base or base_direction(line)
    runs = fonts.runs(line, _is_bold(fnt))
    if len(runs) == 1 and runs[0][1].path.name == Path(fnt.path).name and base == "ltr" and not has_rtl(line):
        return [(line, fnt, "ltr")]  # the common case: as it was always drawn
    out = []
    for text, face, level in visual_pieces(((ch, face) for text, face in runs for ch in text), base):
        same = face.path.name == Path(fnt.path).name
        out.append((text, fnt if same else fonts.pillow_font(face, fnt.size), "rtl" if level % 2 else "ltr"))
    return out


def text_length(text: str, fnt: ImageFont.FreeTypeFont) -> float:
    """Width of one line drawn with fallback fonts (what :func:`draw_text` will draw)."""
    return sum(f.getlength(t, direction=d) if d == "rtl" else f.getlength(t) for t, f, d in segments(text, fnt))


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fnt: ImageFont.FreeTypeFont,
              fill, base: str | None = None, **kwargs) -> None:
    """draw.text for any script: xy is the top left (at the base font's ascender), as Pillow's default."""
    pieces = segments(text, fnt, base)
    if len(pieces) == 1 and pieces[0][1] is fnt:
        draw.text(xy, text, font=fnt, fill=fill, **kwargs)
        return
    x, y = xy
    baseline = y + fnt.getmetrics()[0]  # every run on the base font's baseline, whatever its own ascender
    for piece, f, direction in pieces:
        extra = {"direction": direction} if direction == "rtl" else {}
        draw.text((x, baseline), piece, font=f, fill=fill, anchor="ls", **extra, **kwargs)
        x += f.getlength(piece, **extra)


# Line breaking: CJK text has no spaces, so a break may fall between any two characters, except before
# closing punctuation and after opening punctuation (a simplified UAX #14 / kinsoku).
NO_BREAK_BEFORE = set("、。，．,.!?！？）」』】〉》〕］｝:;：；…‥ー・゠"
                      "ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々〻")  # small kana, iteration marks
NO_BREAK_AFTER = set("（「『【〈《〔［｛")


def breaks_anywhere(ch: str) -> bool:
    """Whether a line may break before or after ch whatever is beside it (CJK ideographs, kana, fullwidth)."""
    cp = ord(ch)
    return (0x2E80 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0xFF00 <= cp <= 0xFFEF
            or 0x20000 <= cp <= 0x3FFFF)


def break_units(paragraph: str) -> list[tuple[str, str]]:
    """(glue, piece) pairs: a piece may start a line; glue (" " or "") joins it to the previous one."""
    units: list[tuple[str, str]] = []
    for word in paragraph.split():
        glue = " "
        piece = ""
        for ch in word:
            if piece and (breaks_anywhere(ch) or breaks_anywhere(piece[-1])) \
                    and ch not in NO_BREAK_BEFORE and piece[-1] not in NO_BREAK_AFTER:
                units.append((glue, piece))
                glue, piece = "", ""
            piece += ch
        units.append((glue, piece))
    return units


def _split_long(piece: str, fnt: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """A spaceless run of a script without word spaces (Thai, Lao, Khmer) wider than the line: broken
    between clusters (never before a combining mark). A Latin word stays whole, as it always has."""
    if all(ord(ch) < 0x0590 for ch in piece) or text_length(piece, fnt) <= width:
        return [piece]
    parts, current = [], ""
    for ch in piece:
        if current and not unicodedata.category(ch).startswith("M") and text_length(current + ch, fnt) > width:
            parts.append(current)
            current = ""
        current += ch
    return parts + ([current] if current else [])


def wrap(text: str, fnt: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy wrap by measured width (with fallback fonts); a single over-long word is kept on its own
    line. CJK breaks between characters; scripts without spaces break between clusters when too long."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for glue, unit in break_units(paragraph):
            for k, piece in enumerate(_split_long(unit, fnt, width)):
                trial = current + (glue if k == 0 else "") + piece if current else piece
                if not current or text_length(trial, fnt) <= width:
                    current = trial
                else:
                    lines.append(current)
                    current = piece
        if current:
            lines.append(current)
    return lines


def fit(text: str, width: int, max_lines: int, start: int, minimum: int, bold: bool = True) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font size (from start down to minimum) that wraps text into max_lines."""
    size = start
    while True:
        fnt = font(size, bold)
        lines = wrap(text, fnt, width)
        if len(lines) <= max_lines and all(text_length(line, fnt) <= width for line in lines):
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
    """Draw wrapped lines; returns the y below the last line. With a width, a right-to-left line that is
    not centred is set flush right, where its reader starts."""
    x, y = xy
    line_h = int(fnt.size * spacing)
    base = base_direction(" ".join(lines))  # the paragraph's, for every line of it
    for line in lines:
        if anchor_center:
            lx = x + (width - text_length(line, fnt)) / 2
        elif width and base == "rtl":
            lx = x + width - text_length(line, fnt)
        else:
            lx = x
        if shadow:
            draw_text(draw, (lx + fnt.size // 24 + 1, y + fnt.size // 24 + 1), line, fnt, (0, 0, 0), base)
        draw_text(draw, (lx, y), line, fnt, fill, base)
        y += line_h
    return y

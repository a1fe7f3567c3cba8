"""The thumbnail: 1280x720 JPEG under 2 MB with the title large enough to read on a phone."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageDraw

from pipeline.media.draw import background, draw_lines, fit, font, legible_on, parse_color, shade
from pipeline.providers.base import Brand

SIZE = (1280, 720)
MAX_BYTES = 2 * 1024 * 1024


def make_thumbnail(title: str, brand: Brand, out: Path) -> Path:
    primary, accent = parse_color(brand.primary_color), parse_color(brand.accent_color)
    img = background(SIZE, primary, accent, seed=2)
    draw = ImageDraw.Draw(img)
    text = legible_on(shade(primary, 0.85), parse_color(brand.text_color))
    left, top, width = 90, 70, SIZE[0] - 180
    title = title.replace("#Shorts", "").strip()
    fnt, lines = fit(title.upper() if len(title) < 40 else title, width, 3, 132, 72)
    block_h = len(lines) * int(fnt.size * 1.1)
    y = top + max(0, (SIZE[1] - 170 - block_h) // 2)
    draw.rectangle([left - 40, y, left - 24, y + block_h - int(fnt.size * 0.1)], fill=accent)
    for line in lines:  # a thick outline keeps the title readable on any frame of the feed
        draw.text((left, y), line, font=fnt, fill=text, stroke_width=max(3, fnt.size // 18), stroke_fill=(0, 0, 0))
        y += int(fnt.size * 1.1)
    name_font = font(40, bold=True)
    tag_w = int(name_font.getlength(brand.name)) + 48
    draw.rounded_rectangle([left, SIZE[1] - 120, left + tag_w, SIZE[1] - 56], radius=14, fill=accent)
    draw_lines(draw, [brand.name], name_font, (left + 24, SIZE[1] - 112), legible_on(accent, (17, 17, 17)), shadow=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    for quality in (90, 80, 70, 55):  # stay under YouTube's 2 MB thumbnail limit
        img.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        if out.stat().st_size < MAX_BYTES:
            break
    return out

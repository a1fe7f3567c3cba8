"""The thumbnail: 1280x720 JPEG under 2 MB with the title large enough to read on a phone.

Over footage, the strongest scene's frame is the background, graded darker where the title
sits (left) and under the channel tag (bottom), so the title reads on any picture; without one,
the brand's gradient card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps, UnidentifiedImageError

from pipeline.media.draw import background as brand_background
from pipeline.media.draw import (base_direction, draw_lines, draw_text, fit, font, legible_on, parse_color, shade,
                                 text_length)
from pipeline.providers.base import Brand

SIZE = (1280, 720)
MAX_BYTES = 2 * 1024 * 1024
# The grade over a photo: overall brightness, then a shade from the left edge (where the title is)
# fading towards the right, and one rising from the bottom (the channel tag).
PHOTO_BRIGHTNESS = 0.8
LEFT_SHADE = (0.78, 0.25)  # opacity of black at the left edge, at the right edge
BOTTOM_SHADE = 0.55  # opacity of black at the bottom edge, fading out a third of the way up


def make_thumbnail(title: str, brand: Brand, out: Path, background: Path | None = None) -> Path:
    """Draw the thumbnail to ``out``: the title and the channel tag over ``background`` (a still of the
    strongest scene, graded so the title stays readable) or, without one, over the brand's card."""
    primary, accent = parse_color(brand.primary_color), parse_color(brand.accent_color)
    if background is not None:
        img = graded_photo(background)
        behind = (40, 40, 40)  # what the title sits on after the grade, at worst
    else:
        img = brand_background(SIZE, primary, accent, seed=2)
        behind = shade(primary, 0.85)
    draw = ImageDraw.Draw(img)
    text = legible_on(behind, parse_color(brand.text_color))
    left, top, width = 90, 70, SIZE[0] - 180
    title = title.replace("#Shorts", "").strip()
    fnt, lines = fit(title.upper() if len(title) < 40 else title, width, 3, 132, 72)
    block_h = len(lines) * int(fnt.size * 1.1)
    y = top + max(0, (SIZE[1] - 170 - block_h) // 2)
    draw.rectangle([left - 40, y, left - 24, y + block_h - int(fnt.size * 0.1)], fill=accent)
    base = base_direction(title)
    for line in lines:  # a thick outline keeps the title readable on any frame of the feed
        draw_text(draw, (left, y), line, fnt, text, base, stroke_width=max(3, fnt.size // 18), stroke_fill=(0, 0, 0))
        y += int(fnt.size * 1.1)
    name_font = font(40, bold=True)
    tag_w = int(text_length(brand.name, name_font)) + 48
    draw.rounded_rectangle([left, SIZE[1] - 120, left + tag_w, SIZE[1] - 56], radius=14, fill=accent)
    draw_lines(draw, [brand.name], name_font, (left + 24, SIZE[1] - 112), legible_on(accent, (17, 17, 17)), shadow=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    for quality in (90, 80, 70, 55):  # stay under YouTube's 2 MB thumbnail limit
        img.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        if out.stat().st_size < MAX_BYTES:
            break
    return out


def graded_photo(path: Path) -> Image.Image:
    """The picture cover-fitted to SIZE and darkened where text goes. ValueError if it is not an image."""
    try:
        with Image.open(path) as src:
            src = ImageOps.exif_transpose(src).convert("RGB")
            img = ImageOps.fit(src, SIZE, Image.Resampling.LANCZOS, centering=(0.5, 0.45))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"The thumbnail background {Path(path).name} is not a readable image: {exc}") from exc
    img = ImageEnhance.Brightness(img).enhance(PHOTO_BRIGHTNESS)
    img = ImageEnhance.Color(img).enhance(1.1)  # a little colour back after darkening
    w, h = SIZE
    across = np.linspace(*LEFT_SHADE, w)[None, :]
    rising = np.clip(np.linspace(-2.0, 1.0, h), 0.0, 1.0)[:, None] * BOTTOM_SHADE  # the lowest third
    keep = 1.0 - np.maximum(across, rising)
    return Image.fromarray((np.asarray(img, dtype=np.float32) * keep[..., None]).astype(np.uint8))

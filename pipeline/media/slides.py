"""Slides drawn with Pillow: a title card, one per section, and a closing card.

Slides are drawn larger than the video (``OVERSCAN``) so the renderer can pan
across them; all text stays inside the region every pan position shows, and
above the band where subtitles are burned in.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from pipeline.media.draw import (background, base_direction, draw_lines, draw_text, fit, font, legible_on, parse_color,
                                 shade, wrap)
from pipeline.providers.base import Brand
from pipeline.script import Block

OVERSCAN = 1.1
SUBTITLE_BAND = 0.24  # bottom share of the frame kept free for subtitles


def canvas_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    return (int(w * OVERSCAN) // 2 * 2, int(h * OVERSCAN) // 2 * 2)


def _safe_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Left, top, right, bottom (on the canvas) always visible and clear of subtitles."""
    cw, ch = canvas_size(size)
    w, h = size
    mx, my = (cw - w) + int(w * 0.06), (ch - h) + int(h * 0.07)
    return mx, my, cw - mx, ch - (ch - h) - int(h * SUBTITLE_BAND)


def draw_slide(block: Block, index: int, total: int, brand: Brand, size: tuple[int, int], bullets: list[str]) -> Image.Image:
    primary, accent = parse_color(brand.primary_color), parse_color(brand.accent_color)
    text = legible_on(shade(primary, 0.85), parse_color(brand.text_color))
    cw, ch = canvas_size(size)
    img = background((cw, ch), primary, accent, index)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = _safe_box(size)
    width = right - left
    portrait = size[1] > size[0]
    unit = min(size) / 1080  # scale type to the short side

    if block.key in ("hook", "cta"):
        heading = block.heading if block.key == "hook" else "Thanks for watching"
        fnt, lines = fit(heading, width, 4 if portrait else 3, int(112 * unit), int(64 * unit))
        block_h = len(lines) * int(fnt.size * 1.18)
        y = top + max(0, (bottom - top - block_h) // 2 - int(40 * unit))
        y = draw_lines(draw, lines, fnt, (left, y), text, anchor_center=True, width=width)
        bar_w = int(width * 0.22)
        draw.rounded_rectangle([left + (width - bar_w) // 2, y + int(18 * unit), left + (width + bar_w) // 2, y + int(30 * unit)],
                               radius=int(6 * unit), fill=accent)
        sub = brand.name if block.key == "hook" else f"Subscribe to {brand.name}"
        sub_font = font(int(52 * unit))
        draw_lines(draw, wrap(sub, sub_font, width)[:2], sub_font, (left, y + int(60 * unit)), text, anchor_center=True, width=width)
        return img

    badge = f"{index:02d}"
    badge_font = font(int(44 * unit), bold=True)
    bw = int(badge_font.getlength(badge) + 40 * unit)
    bh = int(badge_font.size * 1.5)
    draw.rounded_rectangle([left, top, left + bw, top + bh], radius=int(12 * unit), fill=accent)
    draw.text((left + (bw - badge_font.getlength(badge)) / 2, top + (bh - badge_font.size) / 2 - 4 * unit), badge,
              font=badge_font, fill=legible_on(accent, (17, 17, 17)))
    y = top + bh + int(36 * unit)
    head_font, head_lines = fit(block.heading, width, 3 if portrait else 2, int(96 * unit), int(56 * unit))
    y = draw_lines(draw, head_lines, head_font, (left, y), text, width=width)  # width: RTL sets flush right
    rtl = base_direction(block.heading) == "rtl"
    rule = int(width * 0.18)
    rule_x = right - rule if rtl else left  # the rule sits under where the heading starts
    draw.rectangle([rule_x, y + int(10 * unit), rule_x + rule, y + int(18 * unit)], fill=accent)
    y += int(56 * unit)
    body_font = font(int(54 * unit))
    for bullet in bullets[:4]:
        lines = wrap(bullet, body_font, width - int(60 * unit))[:2]
        if y + len(lines) * body_font.size * 1.2 > bottom:
            break
        dot = int(14 * unit)
        rtl = base_direction(bullet) == "rtl"  # the dot goes where the reader starts
        dx = right - dot if rtl else left
        mid = y + body_font.size // 2
        draw.ellipse([dx, mid - dot // 2, dx + dot, mid + dot // 2], fill=accent)
        y = draw_lines(draw, lines, body_font, (left if rtl else left + int(44 * unit), y), text, spacing=1.2,
                       width=width - int(44 * unit)) + int(22 * unit)
    small = font(int(30 * unit))
    draw_text(draw, (left, bottom - small.size), f"{brand.name}  ·  {index}/{total}", small,
              shade(text, 0.8) if text != (17, 17, 17) else text)
    return img


def render_slides(blocks: list[Block], bullets: dict[str, list[str]], brand: Brand, size: tuple[int, int], out_dir: Path) -> list[Path]:
    """Draw every block's slide as PNG into out_dir; returns the paths in block order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [b for b in blocks if b.key.startswith("section-")]
    paths = []
    for i, block in enumerate(blocks):
        number = sections.index(block) + 1 if block in sections else 0
        img = draw_slide(block, number, len(sections), brand, size, bullets.get(block.key, []))
        path = out_dir / f"slide-{i:02d}-{block.key}.png"
        img.save(path, optimize=False, compress_level=1)  # speed over size: these are intermediates
        paths.append(path)
    return paths

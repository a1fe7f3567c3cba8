"""The subtitle API from before caption styles, kept for its callers: the sentence style of
:mod:`pipeline.media.captions`.

Every sentence has an exact span in the narration. A sentence too long for the screen is split at
word boundaries (by measured width) into several screens: with word timings each screen shows from
its first word; without, the screens share the span in proportion to their characters, so the text on
screen never runs ahead of the voice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.media import captions
from pipeline.media.captions import (BOX_COLOUR, CaptionStyle, ass_escape, ass_time,  # noqa: F401 - re-exported
                                     coverage, srt_time, write_srt, write_vtt)
from pipeline.providers.base import Cue


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    chars_per_line: int  # a guide for callers that budget text by characters; lines are wrapped by width
    max_lines: int
    font_size: int
    margin_v: int


def layout_for(size: tuple[int, int]) -> Layout:
    """The sentence style's placement for a frame size (Shorts: narrow lines, clear of the UI at the bottom)."""
    w, h = size
    geo = captions.geometry(size, CaptionStyle())
    margin_v = h - geo.area[3] + geo.reserve
    return Layout(w, h, 24 if h > w else 42, geo.max_lines, geo.font_size, margin_v)


def split_text(text: str, max_chars: int) -> list[str]:
    """Split text into lines of at most max_chars at word boundaries (a longer word stands alone)."""
    lines, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and len(trial) > max_chars:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def display_cues(cues: list[Cue], layout: Layout) -> list[tuple[float, float, list[str]]]:
    """(start, end, lines) for the screen: each sentence split into screens of at most max_lines lines."""
    return captions.display(cues, (layout.width, layout.height), CaptionStyle())


def write_ass(cues: list[Cue], size: tuple[int, int], path: Path, font_name: str = "DejaVu Sans", *,
              boxed: bool = False) -> Path:
    """Write sentence-style subtitles. ``boxed`` puts each line on a translucent dark box (for footage,
    where white text with an outline can sit on white); without it, outlined text for slides, which keep
    their subtitle band clear. Placement is the same either way."""
    font = "" if font_name == "DejaVu Sans" else font_name
    return captions.write_ass(cues, size, CaptionStyle(font=font, boxed=boxed), path)

"""Subtitle cues from narration timings, written as ASS (burned in) and SRT (uploaded).

Every sentence has an exact span in the narration. A sentence too long for the
screen is split at word boundaries into several cues that share its span in
proportion to their characters, so the text on screen never runs ahead of the voice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.providers.base import Cue


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    chars_per_line: int
    max_lines: int
    font_size: int
    margin_v: int


def layout_for(size: tuple[int, int]) -> Layout:
    w, h = size
    if h > w:  # Shorts: narrow lines, higher on the screen (clear of the UI at the bottom)
        return Layout(w, h, 24, 3, 64, int(h * 0.22))
    return Layout(w, h, 42, 2, 58, int(h * 0.06))


# The box (ASS BorderStyle 3: OutlineColour fills a box padded by Outline): black at 30% transparency.
# White text on it keeps at least 4.5:1 contrast over pure white footage.
BOX_COLOUR = "&H4D000000"


def _boxed_style(layout: Layout) -> str:
    """BorderStyle, Outline (the box's padding) and Shadow for the boxed look."""
    return f"3,{max(6, layout.font_size // 5)},0"


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
    """(start, end, lines) for the screen: each sentence split into screens of max_lines lines."""
    out = []
    for cue in cues:
        lines = split_text(cue.text, layout.chars_per_line)
        screens = [lines[i:i + layout.max_lines] for i in range(0, len(lines), layout.max_lines)]
        total_chars = sum(len(" ".join(s)) for s in screens) or 1
        start, span = cue.start, cue.end - cue.start
        for i, screen in enumerate(screens):
            share = len(" ".join(screen)) / total_chars
            end = cue.end if i == len(screens) - 1 else start + span * share
            out.append((start, end, screen))
            start = end
    return out


def ass_time(seconds: float) -> str:
    cs = max(0, int(round(seconds * 100)))
    h, cs = divmod(cs, 360000)
    m, cs = divmod(cs, 6000)
    s, cs = divmod(cs, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def srt_time(seconds: float) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3600000)
    m, ms = divmod(ms, 60000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def ass_escape(text: str) -> str:
    # Braces start override blocks and a backslash starts an escape in ASS.
    return text.replace("\\", "\uff3c").replace("{", "(").replace("}", ")")


def write_ass(cues: list[Cue], size: tuple[int, int], path: Path, font_name: str = "DejaVu Sans", *,
              boxed: bool = False) -> Path:
    """Write the burned-in subtitles. ``boxed`` puts each line on a translucent dark box (for footage,
    where white text with an outline can sit on white); without it, today's outlined text for slides,
    which keep their subtitle band clear. Placement (size, margins, safe areas) is the same either way."""
    layout = layout_for(size)
    style = _boxed_style(layout) if boxed else "1,4,2"  # BorderStyle, Outline, Shadow
    header = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {layout.width}",
        f"PlayResY: {layout.height}",
        "WrapStyle: 2",
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding",
        f"Style: Default,{font_name},{layout.font_size},&H00FFFFFF,&H000000FF,{BOX_COLOUR if boxed else '&H00101010'},"
        f"&H96000000,-1,0,0,0,100,100,0,0,{style},2,"
        f"60,60,{layout.margin_v},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = [
        f"Dialogue: 0,{ass_time(start)},{ass_time(end)},Default,,0,0,0,," + r"\N".join(ass_escape(l) for l in lines)
        for start, end, lines in display_cues(cues, layout)
    ]
    path.write_text("\n".join(header + events) + "\n", encoding="utf-8")
    return path


def write_srt(cues: list[Cue], size: tuple[int, int], path: Path) -> Path:
    blocks = []
    for i, (start, end, lines) in enumerate(display_cues(cues, layout_for(size)), start=1):
        blocks.append(f"{i}\n{srt_time(start)} --> {srt_time(end)}\n" + "\n".join(lines) + "\n")
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def coverage(cues: list[Cue], display: list[tuple[float, float, list[str]]]) -> float:
    """Share of spoken time that has a subtitle on screen (0..1)."""
    spoken = sum(c.end - c.start for c in cues)
    if spoken <= 0:
        return 0.0
    covered = 0.0
    for cue in cues:
        for start, end, _ in display:
            covered += max(0.0, min(cue.end, end) - max(cue.start, start))
    return min(1.0, covered / spoken)


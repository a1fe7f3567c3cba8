"""Caption files: the burned-in ASS, the SRT and WebVTT tracks for YouTube, and the style preview.

SRT and WebVTT carry the sentence screens whatever the burned-in style (a caption track is read, not
watched); WebVTT adds each word's time as an inline timestamp (``<00:00:01.250>``), which players use
to paint the words as they are spoken.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pipeline.media import ffmpeg, fonts
from pipeline.media.caption_layout import (BOX_COLOUR, SHADOW_COLOUR, ass_colour, box_padding, display, events,
                                           geometry, screens)
from pipeline.media.caption_style import CaptionStyle
from pipeline.media.draw import background, parse_color
from pipeline.media.render import escape
from pipeline.providers.base import Brand, Cue, Word

SAMPLE = ("Octopuses have three hearts and blue blood.", "Two hearts pump blood through the gills.")
SAMPLE_WORD_S = 0.32  # the fake narration's pace in the preview: about 190 words a minute
PREVIEW_AT_WORD = 4  # the preview frame shows the first sentence's fifth word lit
PREVIEW_TIMEOUT_S = 20.0


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


def vtt_time(seconds: float) -> str:
    return srt_time(seconds).replace(",", ".")


def write_ass(cues: list[Cue], size: tuple[int, int], style: CaptionStyle, path: Path) -> Path:
    """Write the burned-in captions in a style. The subtitles filter needs ``fontsdir=fonts.fonts_dir()``
    for the fallback fonts the events name."""
    geo = geometry(size, style)
    w, h = size
    x0, y0, x1, y1 = geo.area
    unit = min(w, h) / 1080
    if style.boxed:  # BorderStyle 3: the outline colour fills a box padded by Outline
        border, edge = f"3,{box_padding(geo.font_size)},0", BOX_COLOUR
    else:
        border, edge = f"1,{round(style.outline * unit)},{round(style.shadow * unit)}", ass_colour(style.outline_colour)
    header = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {w}",
        f"PlayResY: {h}",
        "WrapStyle: 2",  # lines are broken here, by measured width: libass must not re-wrap them
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding",
        f"Style: Default,{geo.base.family},{geo.font_size},{ass_colour(style.text_colour)},&H000000FF,{edge},"
        f"{SHADOW_COLOUR},-1,0,0,0,100,100,0,0,{border},2,"
        # Encoding -1: libass detects each line's direction and runs bidi over the whole line, not per run
        f"{x0 + geo.reserve},{w - x1 + geo.reserve},{h - y1 + geo.reserve},-1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    lines = [f"Dialogue: 0,{ass_time(e.start)},{ass_time(e.end)},Default,,0,0,0,,{e.text}"
             for e in events(cues, size, style)]
    path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    return path


def write_srt(cues: list[Cue], size: tuple[int, int], path: Path) -> Path:
    """The caption track: sentence screens, numbered, with their times."""
    blocks = []
    for i, (start, end, lines) in enumerate(display(cues, size, CaptionStyle()), start=1):
        blocks.append(f"{i}\n{srt_time(start)} --> {srt_time(end)}\n" + "\n".join(lines) + "\n")
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_vtt(cues: list[Cue], size: tuple[int, int], path: Path) -> Path:
    """WebVTT: the sentence screens, each word after the first preceded by its time as an inline timestamp.
    The spec wants each timestamp after the cue's start and the one before it, and before the cue's end:
    a word whose time would break that order goes without one."""
    style = CaptionStyle()
    geo = geometry(size, style)
    blocks = ["WEBVTT", ""]
    n = 0
    for cue in cues:
        for lines, start, end in screens(cue, geo, style):
            start_ms, end_ms = round(start * 1000), round(end * 1000)
            if end_ms <= start_ms:
                continue
            last, text_lines = start_ms, []
            for line in lines:
                parts = []
                for k, token in enumerate(line):
                    at = round(token.start * 1000)
                    stamp = ""
                    if cue.words and last < at < end_ms:  # only real word times: none guessed for old cues
                        stamp, last = f"<{vtt_time(at / 1000)}>", at
                    parts.append((token.glue if k else "") + stamp + _vtt_escape(token.text))
                text_lines.append("".join(parts))
            n += 1
            blocks += [str(n), f"{vtt_time(start_ms / 1000)} --> {vtt_time(end_ms / 1000)}", *text_lines, ""]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def sample_cues() -> tuple[list[Cue], float]:
    """Two sentences with made-up word times, and the moment the preview shows (a word mid-sentence)."""
    cues, t = [], 0.2
    for sentence in SAMPLE:
        words = []
        for text in sentence.split():
            words.append(Word(round(t, 3), round(t + SAMPLE_WORD_S - 0.04, 3), text))
            t += SAMPLE_WORD_S
        cues.append(Cue(words[0].start, words[-1].end, sentence, "hook", words))
        t += 0.5
    moment = cues[0].words[PREVIEW_AT_WORD]
    return cues, (moment.start + moment.end) / 2


def preview_png(style: CaptionStyle, brand: Brand, size: tuple[int, int], out: Path) -> Path:
    """One real frame of the style (libass over the brand's background) with a word lit mid-sentence,
    for the Channels page. Takes a fraction of a second."""
    cues, moment = sample_cues()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="caption-preview-") as tmp:
        bg = Path(tmp) / "bg.png"
        background(size, parse_color(brand.primary_color), parse_color(brand.accent_color), 0).save(
            bg, compress_level=1)
        ass = write_ass(cues, size, style, Path(tmp) / "preview.ass")
        chain = (f"setpts=PTS+{moment:.3f}/TB,subtitles=filename={escape(str(ass))}"
                 f":fontsdir={escape(str(fonts.fonts_dir()))}")
        partial = out.with_name(out.stem + ".partial.png")
        ffmpeg.run(["-i", str(bg), "-vf", chain, "-frames:v", "1", str(partial)], timeout_s=PREVIEW_TIMEOUT_S)
        partial.replace(out)
    return out

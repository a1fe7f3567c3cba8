"""Caption layout: lines wrapped by measured width, screens and pop groups timed by the words, and the
ASS events with their places in the frame, inside the format's safe area.

Widths are measured with Pillow in the very fonts libass will use, sized as libass sizes them (the
OS/2 win cell is the ASS font size), fallback runs scaled to the base font's em; a test renders with
libass and checks the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pipeline.media import fonts
from pipeline.media.caption_style import CaptionStyle
from pipeline.media.caption_text import Token, balanced_lines, line_text, reshare, screen_times, tokens
from pipeline.media.draw import parse_color
from pipeline.providers.base import Cue

PAUSE_S = 0.35  # a silence this long inside a sentence ends a pop group
HOLD_S = 0.3  # how long a pop group stays after its last word when a pause follows
CLAUSE_END = tuple(".,;:!?…。，、；：！？")
# The box (BorderStyle 3: OutlineColour fills a box padded by Outline): black at 30% transparency.
# White text on it keeps at least 4.5:1 contrast over pure white footage.
BOX_COLOUR = "&H4D000000"
SHADOW_COLOUR = "&H96000000"


def safe_area(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inside which every caption stays. 16:9 and other landscape sizes: the title-safe
    area (5% margins). 9:16: clear of the top 10%, the bottom 22% (Shorts' caption, channel and
    description zone) and the right 13% (the like/comment/share rail), 5% from the left edge."""
    w, h = size
    if h > w:
        return round(w * 0.05), round(h * 0.10), round(w * 0.87), round(h * 0.78)
    return round(w * 0.05), round(h * 0.05), round(w * 0.95), round(h * 0.95)


@dataclass(frozen=True)
class Geometry:
    """Where and how large captions of one style are drawn in one frame size."""

    size: tuple[int, int]
    area: tuple[int, int, int, int]
    font_size: int  # the ASS Fontsize (libass makes a font's win cell this tall)
    line_width: float  # the widest a line's text may be
    max_lines: int
    reserve: int  # border (outline or box padding) plus shadow, kept inside the area
    base: fonts.Face

    @property
    def em(self) -> float:
        return self.font_size * self.base.em_per_size


def geometry(size: tuple[int, int], style: CaptionStyle) -> Geometry:
    w, h = size
    unit = min(w, h) / 1080  # sizes are set for 1080p and scale with the frame
    portrait = h > w
    standard = (104 if portrait else 88) if style.style == "pop" else (64 if portrait else 58)
    font_size = max(8, round(standard * style.size / 100 * unit))
    # The same reserve boxed or not, so a job's captions sit in one place whatever the footage.
    reserve = round(max(box_padding(font_size), style.outline * unit) + style.shadow * unit) + 2
    area = safe_area(size)
    width = area[2] - area[0]
    if not portrait and style.style != "pop":
        width = min(width, round(w * 0.70))  # about 42 characters: longer lines are hard to follow
    max_lines = 1 if style.style == "pop" else (3 if portrait else 2)
    base = fonts.base_face(True, style.font)
    return Geometry(size, area, font_size, width - 2 * reserve, max_lines, reserve, base)


def box_padding(font_size: int) -> int:
    return max(6, font_size // 5)


@lru_cache(maxsize=16384)  # wrapping measures each growing line, and balancing wraps several times
def measure(text: str, geo: Geometry, font: str = "") -> tuple[float, float]:
    """(width, height) libass gives one line of text: every run at the base font's em (fallback runs are
    scaled to it in the ASS), the line as tall as its tallest font's win cell."""
    width, height = 0.0, float(geo.font_size)
    for run, face in fonts.runs(text, True, font):
        width += fonts.pillow_font(face, round(geo.em, 2)).getlength(run)
        height = max(height, geo.em * (face.win_ascent + face.win_descent) / face.upem)
    return width, height


@dataclass(frozen=True)
class Event:
    """One caption on screen: its time, the ASS text (with overrides), its lines, the word lit (karaoke,
    pop) and the box it occupies in the frame, border and shadow included."""

    start: float
    end: float
    text: str
    lines: tuple[str, ...]
    highlight: str | None
    box: tuple[float, float, float, float]


LIT_BRIDGE_S = 0.15  # karaoke and pop: a word stays lit across a gap this short to the next word


def ass_escape(text: str) -> str:
    # Braces start override blocks: they become parentheses. A backslash starts an escape (\N, \h): a word
    # joiner after it (invisible, no glyph needed) keeps it a plain backslash.
    return text.replace("\\", "\\\u2060").replace("{", "(").replace("}", ")")


def ass_colour(hex_colour: str, alpha: int | None = 0) -> str:
    """#RRGGBB as ASS writes it: &HAABBGGRR in a style; &HBBGGRR& in a \\c override (alpha None)."""
    r, g, b = parse_color(hex_colour)
    return f"&H{b:02X}{g:02X}{r:02X}&" if alpha is None else f"&H{alpha:02X}{b:02X}{g:02X}{r:02X}"


def _ass_text(lines: list[list[Token]], lit: Token | None, geo: Geometry, style: CaptionStyle) -> str:
    """The lines as ASS, in logical order: fallback runs in their own font, scaled to the base em; the lit
    word in the accent. (The style's Encoding -1 makes libass lay out each line as one bidi paragraph of
    detected direction, across these runs, so Arabic and Hebrew come out right to left among Latin.)"""
    out: list[str] = []
    face_now, lit_now = geo.base, False
    for n, line in enumerate(lines):
        if n:
            out.append(r"\N")
        for k, token in enumerate(line):
            if k and token.glue:  # a space keeps the look of what it follows: no needless style change
                out.append(token.glue)
            for run, face in fonts.runs(ass_escape(token.text), True, style.font):
                tags = ""
                if face != face_now:
                    scale = round(100 * geo.base.em_per_size / face.em_per_size)
                    tags += f"\\fn{face.family}\\fscx{scale}\\fscy{scale}"
                    face_now = face
                if (token is lit) != lit_now:
                    lit_now = token is lit
                    tags += f"\\c{ass_colour(style.highlight_colour if lit_now else style.text_colour, None)}"
                out.append(("{" + tags + "}" if tags else "") + run)
    return "".join(out)


def _placed(lines: list[list[Token]], geo: Geometry, style: CaptionStyle) -> tuple[list[str], str, tuple]:
    """Line texts, the ASS prefix (position, a smaller size when one word is too wide) and the box."""
    texts = [line_text(line) for line in lines]
    sizes = [measure(t, geo, style.font) for t in texts]
    widest = max(w for w, _ in sizes)
    tall = sum(h for _, h in sizes)
    x0, y0, x1, y1 = geo.area
    fit = min(1.0, geo.line_width / widest if widest else 1.0, (y1 - y0 - 2 * geo.reserve) / tall)
    prefix = f"\\fs{int(geo.font_size * fit)}" if fit < 1.0 else ""
    fit = int(geo.font_size * fit) / geo.font_size if fit < 1.0 else 1.0
    width, height = widest * fit, tall * fit
    cx = (x0 + x1) / 2
    if style.style == "pop":
        w, h = geo.size
        target = h * (0.63 if h > w else 0.78)
        cy = min(max(target, y0 + geo.reserve + height / 2), y1 - geo.reserve - height / 2)
        prefix = f"\\an5\\pos({round(cx)},{round(cy)})" + prefix
        top = cy - height / 2
    else:  # bottom-centred by the style's margins
        top = y1 - geo.reserve - height
    r = geo.reserve
    box = (cx - width / 2 - r, top - r, cx + width / 2 + r, top + height + r)
    return texts, prefix, box


def _groups(cue: Cue, toks: list[Token], geo: Geometry, style: CaptionStyle) -> list[list[Token]]:
    """Pop groups: one to three words, never across a clause end or a pause, never wider than a line."""
    groups: list[list[Token]] = []
    for token in toks:
        last = groups[-1] if groups else None
        if last and len(last) < 3 and not last[-1].text.endswith(CLAUSE_END) \
                and token.start - last[-1].end < PAUSE_S \
                and measure(line_text([*last, token]), geo, style.font)[0] <= geo.line_width:
            last.append(token)
        else:
            groups.append([token])
    return groups


def screens(cue: Cue, geo: Geometry, style: CaptionStyle) -> list[tuple[list[list[Token]], float, float]]:
    """(lines of tokens, start, end) for each screen of one sentence: a pop group is a one-line screen."""
    toks = tokens(cue)
    if not toks:
        return []
    if style.style == "pop":
        groups = _groups(cue, toks, geo, style)
        out = []
        for i, group in enumerate(groups):
            nxt = groups[i + 1][0].start if i + 1 < len(groups) else None
            start = cue.start if i == 0 else group[0].start
            end = cue.end if nxt is None else (nxt if nxt - group[-1].end < PAUSE_S else group[-1].end + HOLD_S)
            out.append(([group], start, max(end, start)))
        return out
    lines = balanced_lines(toks, lambda text: measure(text, geo, style.font)[0], geo.line_width)
    chunks = [lines[i:i + geo.max_lines] for i in range(0, len(lines), geo.max_lines)]
    times = screen_times(cue, chunks)
    return [(chunk if cue.words else reshare(chunk, s, e), s, e) for chunk, (s, e) in zip(chunks, times)]


def events(cues: list[Cue], size: tuple[int, int], style: CaptionStyle) -> list[Event]:
    """Every caption event of the video, in time order: one per screen (sentence), or one per word and
    per silence between words (karaoke, pop), so the accent lights exactly while a word is spoken."""
    geo = geometry(size, style)
    out: list[Event] = []
    for cue in cues:
        for lines, start, end in screens(cue, geo, style):
            texts, prefix, box = _placed(lines, geo, style)
            if style.style == "sentence":
                out.append(_event(start, end, lines, None, geo, style, prefix, texts, box))
                continue
            cursor = start
            words = [t for line in lines for t in line]
            for k, word in enumerate(words):
                following = words[k + 1].start if k + 1 < len(words) else None
                # A gap shorter than LIT_BRIDGE_S (the stop before a consonant, a breath between words) keeps the
                # word lit until the next one starts: unlit for a frame or two reads as a flicker, not a pause.
                stop = following if following is not None and 0 <= following - word.end < LIT_BRIDGE_S else word.end
                w0, w1 = max(word.start, cursor), min(stop, end)
                if w0 - cursor >= 0.005:
                    out.append(_event(cursor, w0, lines, None, geo, style, prefix, texts, box))
                if w1 - w0 >= 0.005:
                    out.append(_event(w0, w1, lines, word, geo, style, prefix, texts, box))
                cursor = max(cursor, w1)
            if end - cursor >= 0.005:
                out.append(_event(cursor, end, lines, None, geo, style, prefix, texts, box))
    return out


def _event(start, end, lines, lit, geo, style, prefix, texts, box) -> Event:
    body = _ass_text(lines, lit, geo, style)
    return Event(start, end, ("{" + prefix + "}" if prefix else "") + body, tuple(texts),
                 lit.text if lit else None, box)


def display(cues: list[Cue], size: tuple[int, int],
            style: CaptionStyle | None = None) -> list[tuple[float, float, list[str]]]:
    """(start, end, lines) of what is on screen, merged per screen (for coverage and previews)."""
    out: list[tuple[float, float, list[str]]] = []
    for e in events(cues, size, style or CaptionStyle()):
        if out and list(e.lines) == out[-1][2] and abs(out[-1][1] - e.start) < 1e-9:
            out[-1] = (out[-1][0], e.end, out[-1][2])
        else:
            out.append((e.start, e.end, list(e.lines)))
    return out


def coverage(cues: list[Cue], shown) -> float:
    """Share of spoken time that has a caption on screen (0..1). ``shown``: display() tuples or Events."""
    spoken = sum(c.end - c.start for c in cues)
    if spoken <= 0:
        return 0.0
    spans = [(s.start, s.end) if isinstance(s, Event) else (s[0], s[1]) for s in shown]
    covered = 0.0
    for cue in cues:
        for start, end in spans:
            covered += max(0.0, min(cue.end, end) - max(cue.start, start))
    return min(1.0, covered / spoken)

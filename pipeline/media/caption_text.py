"""A sentence's words as caption tokens: the text as written, each word's time, and where lines break.

The voice reports each word with its time (``Cue.words``); the text on screen is the sentence as the
script wrote it, so each word is found in it, and whatever lies between (a dash the voice skipped, the
final full stop) rides with its neighbour. CJK text has no spaces: tokens there join with no glue. A
cue without word times (a job made before them) shares its span among its words by characters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from pipeline.media.draw import break_units, breaks_anywhere
from pipeline.providers.base import Cue, Word


@dataclass(frozen=True, eq=False)  # compared by identity: "this token is the one lit"
class Token:
    text: str
    start: float
    end: float
    glue: str = ""  # what joins it to the token before it on a line: " " or "" (CJK)


def line_text(line: list[Token]) -> str:
    return line[0].text + "".join(t.glue + t.text for t in line[1:]) if line else ""


def tokens(cue: Cue) -> list[Token]:
    """The cue's words with their times, in order, ready for wrapping."""
    text = " ".join(cue.text.split())
    words = sorted((w for w in cue.words if w.text.strip()), key=lambda w: w.start)
    if words:
        return _found(words, text, cue) or _joined(words, cue)
    return share(break_units(text), cue.start, cue.end)


def share(units: list[tuple[str, str]], start: float, end: float) -> list[Token]:
    """(glue, text) units with the span [start, end] shared by characters, contiguous."""
    weights = [len(p) + (len(g) if i else 0) for i, (g, p) in enumerate(units)]
    total = sum(weights) or 1
    out, t = [], start
    for i, ((glue, piece), weight) in enumerate(zip(units, weights)):
        e = end if i == len(units) - 1 else t + (end - start) * weight / total
        out.append(Token(piece, t, e, glue if i else ""))
        t = e
    return out


def _clamped(word: Word, cue: Cue) -> tuple[float, float]:
    start = min(max(word.start, cue.start), cue.end)
    return start, min(max(word.end, start), cue.end)


def _found(words: list[Word], text: str, cue: Cue) -> list[Token] | None:
    """Tokens located in the sentence's text, or None when a word is not in it (a voice's own spelling)."""
    out: list[Token] = []
    cursor = 0
    for word in words:
        spelled = " ".join(word.text.split())
        at = text.find(spelled, cursor)
        if at < 0:
            return None
        between = text[cursor:at]
        if between.strip():  # text the voice did not time: with the word before it, else the one after
            if out:
                out[-1] = replace(out[-1], text=out[-1].text + between.rstrip())
            else:
                spelled = between.lstrip() + spelled
        glue = " " if between[-1:].isspace() else ""
        start, end = _clamped(word, cue)
        out.append(Token(spelled, start, end, glue if out else ""))
        cursor = at + len(" ".join(word.text.split()))
    rest = text[cursor:].strip()
    if rest and out:
        out[-1] = replace(out[-1], text=out[-1].text + text[cursor:].rstrip())
    return out


def _joined(words: list[Word], cue: Cue) -> list[Token]:
    out: list[Token] = []
    for word in words:
        spelled = " ".join(word.text.split())
        glue = "" if out and breaks_anywhere(out[-1].text[-1]) and breaks_anywhere(spelled[0]) else " "
        out.append(Token(spelled, *_clamped(word, cue), glue if out else ""))
    return out


def wrap_tokens(toks: list[Token], width_of: Callable[[str], float], width: float) -> list[list[Token]]:
    """Greedy lines by measured width, breaking only between tokens (a word too wide stands alone)."""
    lines: list[list[Token]] = []
    current: list[Token] = []
    for token in toks:
        if not current or width_of(line_text([*current, token])) <= width:
            current.append(token)
        else:
            lines.append(current)
            current = [token]
    if current:
        lines.append(current)
    return lines


def balanced_lines(toks: list[Token], width_of: Callable[[str], float], width: float) -> list[list[Token]]:
    """As few lines as greedy wrapping needs, but as even as they can be: the narrowest width that still
    gives that many lines (so a sentence ends on "of the north." rather than a lone "north.")."""
    lines = wrap_tokens(toks, width_of, width)
    if len(lines) < 2:
        return lines
    lo, hi = max(width_of(t.text) for t in toks), width
    for _ in range(7):  # to within 1% of the width
        mid = (lo + hi) / 2
        if len(wrap_tokens(toks, width_of, mid)) <= len(lines):
            hi = mid
        else:
            lo = mid
    return wrap_tokens(toks, width_of, hi)


def screen_times(cue: Cue, screens: list[list[list[Token]]]) -> list[tuple[float, float]]:
    """When each screen of a sentence shows: from its first word, until the next screen (the last until the
    sentence ends). Without word times, the span shared by the screens' characters, as it always was."""
    if not screens:
        return []
    if cue.words:
        starts = [cue.start] + [max(cue.start, s[0][0].start) for s in screens[1:]]
        return list(zip(starts, [*starts[1:], cue.end]))
    texts = [" ".join(line_text(line) for line in s) for s in screens]
    total = sum(len(t) for t in texts) or 1
    out, start, span = [], cue.start, cue.end - cue.start
    for i, t in enumerate(texts):
        end = cue.end if i == len(texts) - 1 else start + span * len(t) / total
        out.append((start, end))
        start = end
    return out


def reshare(screen: list[list[Token]], start: float, end: float) -> list[list[Token]]:
    """A screen's tokens with the screen's span shared among them by characters (cues without word times)."""
    flat = [t for line in screen for t in line]
    shared = iter(share([(t.glue, t.text) for t in flat], start, end))
    return [[next(shared) for _ in line] for line in screen]

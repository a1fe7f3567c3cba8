"""Right-to-left text among left-to-right: the visual order of a line's pieces (a simplified Unicode
bidi algorithm, levels 0 to 2, enough for Arabic or Hebrew with Latin words and numbers in either).

Pillow and libass shape a piece of one direction correctly, but neither orders pieces drawn in
different fonts or colours: Pillow draws each piece where it is told, and the libass in ffmpeg lays
out each override-separated run as a paragraph of its own, in the order given. So a line is cut into
pieces of one attribute (font, colour) and one level, and the pieces are put in visual order here;
each right-to-left piece keeps its logical text, for the shaper to lay out right to left.
"""

from __future__ import annotations

import unicodedata
from typing import Hashable, Iterable


def bidi_class(ch: str) -> str:
    """The character's Unicode bidi class, with every neutral (spaces, other punctuation) as 'N'."""
    kind = unicodedata.bidirectional(ch)
    return kind if kind in ("R", "AL", "L", "EN", "AN", "NSM", "ES", "CS", "ET") else "N"


def _levels(kinds: list[str], para: str) -> list[int]:
    """Embedding levels by the bidi algorithm's weak (W1-W7), neutral (N1-N2) and implicit (I1-I2) rules,
    for one paragraph without explicit embeddings. ``para``: 'L' or 'R'."""
    n = len(kinds)
    for i in range(n):  # W1: a mark takes the class of what it marks
        if kinds[i] == "NSM":
            kinds[i] = kinds[i - 1] if i else para
    last = para
    for i in range(n):  # W2: European digits after Arabic letters are Arabic numbers; W3: AL is R
        if kinds[i] in ("R", "L", "AL"):
            last = kinds[i]
        elif kinds[i] == "EN" and last == "AL":
            kinds[i] = "AN"
    kinds[:] = ["R" if k == "AL" else k for k in kinds]
    for i in range(1, n - 1):  # W4: one separator between two numbers of a kind joins them ("3.5", "1,000")
        if kinds[i] in ("ES", "CS") and kinds[i - 1] == kinds[i + 1] == "EN" \
                or kinds[i] == "CS" and kinds[i - 1] == kinds[i + 1] == "AN":
            kinds[i] = kinds[i - 1]
    for i in range(n):  # W5: terminators beside European digits ("5%", "$5") belong to them
        if kinds[i] == "ET":
            j = i
            while j < n and kinds[j] == "ET":
                j += 1
            if (i and kinds[i - 1] == "EN") or (j < n and kinds[j] == "EN"):
                kinds[i:j] = ["EN"] * (j - i)
    kinds[:] = ["N" if k in ("ES", "CS", "ET") else k for k in kinds]  # W6
    last = para
    for i in range(n):  # W7: European digits in left-to-right context are left to right
        if kinds[i] in ("R", "L"):
            last = kinds[i]
        elif kinds[i] == "EN" and last == "L":
            kinds[i] = "L"
    i = 0
    while i < n:  # N1, N2: neutrals between two runs of one direction (digits count as R) take it
        if kinds[i] != "N":
            i += 1
            continue
        j = i
        while j < n and kinds[j] == "N":
            j += 1
        side = [("L" if k == "L" else "R") for k in (kinds[i - 1] if i else para, kinds[j] if j < n else para)]
        kinds[i:j] = [side[0] if side[0] == side[1] else para] * (j - i)
        i = j
    if para == "L":  # I1, I2
        return [0 if k == "L" else 1 if k == "R" else 2 for k in kinds]
    return [1 if k == "R" else 2 for k in kinds]


def base_direction(text: str) -> str:
    """'rtl' when the first strong character is Arabic/Hebrew (the paragraph's direction), else 'ltr'."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL", "AN") for ch in text)


def visual_pieces(chars: Iterable[tuple[str, Hashable]], base: str = "ltr") -> list[tuple[str, Hashable, int]]:
    """(char, attribute) in logical order -> (text, attribute, level) pieces in visual order, left to right.
    Odd levels are right to left; ``base`` is the paragraph's direction. Each run at level k or above is
    reversed, from the highest k down to 1 (rule L2)."""
    chars = list(chars)
    levels = _levels([bidi_class(ch) for ch, _ in chars], "R" if base == "rtl" else "L")
    pieces: list[list] = []  # [text, attribute, level], logical order
    for (ch, attr), level in zip(chars, levels):
        if pieces and pieces[-1][1] == attr and pieces[-1][2] == level:
            pieces[-1][0] += ch
        else:
            pieces.append([ch, attr, level])
    for floor in range(max(levels, default=0), 0, -1):
        i = 0
        while i < len(pieces):
            if pieces[i][2] < floor:
                i += 1
                continue
            j = i
            while j < len(pieces) and pieces[j][2] >= floor:
                j += 1
            pieces[i:j] = pieces[i:j][::-1]
            i = j
    return [(text, attr, level) for text, attr, level in pieces]

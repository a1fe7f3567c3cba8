"""Where each written word of a sentence sits in its audio, from what the voice itself reported.

Pure functions, no SDKs: every voice turns its own report into the same thing, one ``(start, end)``
sample span per written word (``sentence.split()``, punctuation attached), relative to the audio of
that sentence; ``audio.assemble`` then offsets the spans into absolute ``Word`` objects.

- Piper reports phonemes and how many samples each took (``phoneme_spans``).
- Google reports when each SSML ``<mark>`` was reached (``ssml_parts``, ``mark_spans``).
- ElevenLabs reports when each character was spoken (``character_spans``).
- A voice that reports nothing gets an honest estimate by character share (``estimated_spans``),
  which the narration labels ``word_timing="estimated"``.

A word the voice does not say (a lone dash, a stray quote) gets a zero-length span where it stands,
so every written word still has exactly one span and the spans stay in order.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from xml.sax.saxutils import escape

import numpy as np

Span = tuple[int, int]  # [start, end) in samples, relative to one sentence's audio

FRAME_S = 0.01  # energy frames: 10 ms is short enough to find the gap between two words
SILENCE_DB = -40.0  # a frame this far under the loudest frame of its audio is silence


def script_words(text: str) -> list[str]:
    """The written words of a sentence, as the cues carry them: whitespace splits, punctuation stays on."""
    return text.split()


# -- speech energy --------------------------------------------------------------------------------

def frame_rms(samples: np.ndarray, rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS energy of consecutive frames (the last partial frame is dropped)."""
    size = max(1, int(rate * frame_s))
    count = len(samples) // size
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    frames = np.asarray(samples[: count * size], dtype=np.float32).reshape(count, size)
    return np.sqrt(np.mean(frames * frames, axis=1))


def loud_frames(samples: np.ndarray, rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """Which frames carry speech: louder than SILENCE_DB under the loudest frame (and not digital silence)."""
    rms = frame_rms(samples, rate, frame_s)
    if rms.size == 0:
        return np.zeros(0, dtype=bool)
    threshold = max(float(rms.max()) * 10 ** (SILENCE_DB / 20), 1e-4)
    return rms > threshold


def speech_bounds(samples: np.ndarray, rate: int) -> Span:
    """From the first loud frame's start to the last loud frame's end; the whole audio when none is loud."""
    loud = loud_frames(samples, rate)
    if not loud.any():
        return 0, len(samples)
    size = max(1, int(rate * FRAME_S))
    where = np.flatnonzero(loud)
    return int(where[0] * size), min(len(samples), int((where[-1] + 1) * size))


def _tighten(span: Span, loud: np.ndarray, size: int) -> Span:
    """Pull a span's edges in over quiet frames (the pause before or after a word). Only frames wholly inside
    the span are looked at, so the tail of the previous word in a shared frame does not pin the start."""
    start, end = span
    first, last = -(-start // size), end // size - 1
    if first > last:  # shorter than a frame: nothing to judge by
        return span
    a, b = first, last
    while a < b and a < len(loud) and not loud[a]:
        a += 1
    while b > a and b < len(loud) and not loud[b]:
        b -= 1
    new_start = start if a == first else a * size
    new_end = end if b == last else (b + 1) * size
    return new_start, max(new_start, new_end)


# -- estimates ------------------------------------------------------------------------------------

def share_spans(weights: list[float], start: int, end: int) -> list[Span]:
    """[start, end) cut in proportion to weights; a zero weight gets a zero-length span."""
    total = sum(weights)
    if total <= 0:
        return [(start, start) for _ in weights]
    spans, done = [], 0.0
    for weight in weights:
        a = start + round((end - start) * done / total)
        done += weight
        b = start + round((end - start) * done / total)
        spans.append((a, b))
    return spans


def spoken_characters(word: str) -> int:
    """Letters and digits in a word: what takes time to say (a dash or quote takes none)."""
    return sum(ch.isalnum() for ch in word)


def estimated_spans(words: list[str], samples: np.ndarray, rate: int) -> list[Span]:
    """No report from the voice: the speech (silence trimmed) shared out by each word's characters."""
    start, end = speech_bounds(samples, rate)
    return share_spans([float(spoken_characters(w)) for w in words], start, end)


# -- Piper: phoneme alignments --------------------------------------------------------------------

def is_spoken(phoneme: str) -> bool:
    """A phoneme that is sound: IPA letters, stress and length marks, diacritics (Unicode L* and M*); not the
    word separator, punctuation pauses, or the BOS/EOS markers ("^", "$")."""
    return any(unicodedata.category(ch)[0] in "LM" for ch in phoneme)


def phoneme_groups(phonemes: list[str]) -> list[tuple[int, int]]:
    """[first, last] indexes of each run of spoken phonemes: espeak's words, as said in this context."""
    groups, first = [], None
    for i, phoneme in enumerate(phonemes):
        if is_spoken(phoneme):
            if first is None:
                first = i
        elif first is not None:
            groups.append((first, i - 1))
            first = None
    if first is not None:
        groups.append((first, len(phonemes) - 1))
    return groups


def phoneme_spans(word_phonemes: list[list[str]], alignment: list[tuple[str, int]]) -> list[Span]:
    """One span per written word from Piper's alignments.

    ``word_phonemes[i]`` is what espeak makes of written word i said alone (its sentences flattened);
    ``alignment`` is (phoneme, samples) for the sentence's audio, its chunks in order, BOS and EOS
    included, so the running sum of samples is where each phoneme starts.

    When espeak's words in context are as many as the words said alone add up to ("1,990" is five
    phoneme words either way, "—" none), the groups are dealt out in order: exact. When they are not
    (espeak runs "U.S.A. e.g." together), the phonemes are matched up with difflib, so each word takes
    the phonemes that look like its own and unmatched stretches are shared out in proportion. A word
    spans from its first spoken phoneme's start to its last one's end: the pause after it is not in it.
    """
    phonemes = [p for p, _ in alignment]
    edges = np.concatenate([[0], np.cumsum([int(n) for _, n in alignment])]).astype(int)
    groups = phoneme_groups(phonemes)
    counts = [len(phoneme_groups(p)) for p in word_phonemes]
    if not groups:
        return [(0, 0) for _ in word_phonemes]
    if sum(counts) == len(groups):
        owned, g = [], 0
        for count in counts:
            owned.append(groups[g:g + count])
            g += count
        return _spans_from_groups(owned, edges)
    return _matched_spans(word_phonemes, phonemes, edges)


def _spans_from_groups(owned: list[list[tuple[int, int]]], edges: np.ndarray) -> list[Span]:
    spans: list[Span] = []
    for mine in owned:
        if mine:
            spans.append((int(edges[mine[0][0]]), int(edges[mine[-1][1] + 1])))
        else:  # nothing said for it: a zero-length span where it stands
            at = spans[-1][1] if spans else next((int(edges[m[0][0]]) for m in owned if m), 0)
            spans.append((at, at))
    return spans


def _matched_spans(word_phonemes: list[list[str]], phonemes: list[str], edges: np.ndarray) -> list[Span]:
    expected, owner = [], []
    for i, said in enumerate(word_phonemes):
        for p in said:
            if is_spoken(p):
                expected.append(p)
                owner.append(i)
    actual = [i for i, p in enumerate(phonemes) if is_spoken(p)]  # indexes into the alignment
    if not expected:
        return [(0, 0) for _ in word_phonemes]
    matcher = difflib.SequenceMatcher(None, expected, [phonemes[i] for i in actual], autojunk=False)
    # anchors (expected position -> actual position), matched stretches exact, the rest interpolated
    xs, ys = [0.0], [0.0]
    for a, b, size in matcher.get_matching_blocks():
        if size:
            xs += [a, a + size]
            ys += [b, b + size]
    xs.append(float(len(expected)))
    ys.append(float(len(actual)))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(word_phonemes)))])
    cut = np.round(np.interp(bounds, xs, ys)).astype(int)
    cut = np.maximum.accumulate(np.clip(cut, 0, len(actual)))
    owned = []
    for i in range(len(word_phonemes)):
        mine = actual[cut[i]:cut[i + 1]]
        owned.append([(mine[0], mine[-1])] if mine else [])
    return _spans_from_groups(owned, edges)


# -- Google: SSML marks ---------------------------------------------------------------------------

def mark_name(index: int) -> str:
    return f"w{index}"


def ssml(fragments: list[tuple[int, str]]) -> str:
    """A <speak> document with a <mark name="wN"/> before each word (N: the word's place in the sentence)."""
    body = " ".join(f'<mark name="{mark_name(i)}"/>{escape(text)}' for i, text in fragments)
    return f"<speak>{body}</speak>"


def ssml_parts(words: list[str], limit: int) -> list[list[tuple[int, str]]]:
    """The sentence's words in requests whose SSML is at most limit bytes of UTF-8 (marks and escapes
    counted). A word too long for one request is cut; its pieces keep its index, so its span still
    covers all of it."""
    overhead = len(ssml([]).encode())
    parts: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    size = overhead
    for i, word in enumerate(words):
        for piece in _cut_word(i, word, limit - overhead):
            cost = len(ssml([(i, piece)]).encode()) - overhead + (1 if current else 0)
            if current and size + cost > limit:
                parts.append(current)
                current, size = [], overhead
                cost -= 1
            current.append((i, piece))
            size += cost
    if current:
        parts.append(current)
    return parts


def _cut_word(index: int, word: str, room: int) -> list[str]:
    """A word whose marked SSML fits in room bytes, or its pieces that each do (counted a character at a
    time, escapes included, so a huge "word" costs one pass)."""
    mark = len(ssml([(index, "")]).encode()) - len(ssml([]).encode())
    pieces, current, used = [], "", mark
    for ch in word:
        size = len(escape(ch).encode())
        if current and used + size > room:
            pieces.append(current)
            current, used = "", mark
        current += ch
        used += size
    return [*pieces, current] if current else pieces


def mark_spans(fragments: list[tuple[int, str]], times: dict[str, float], samples: np.ndarray,
               rate: int) -> dict[int, Span]:
    """Spans of one request's words from its timepoints (mark name -> seconds).

    A word starts at its mark and runs to the next word's mark, then both edges are pulled in over
    quiet frames, so the pause between words belongs to neither; the last word ends where the speech
    ends. A mark the service did not report is placed by character share between its neighbours.
    Returns {word index: span}; a word cut across requests appears in each, and the caller joins them.
    """
    n = len(samples)
    speech_start, speech_end = speech_bounds(samples, rate)
    starts: list[float | None] = []
    for i, _ in fragments:
        t = times.get(mark_name(i))
        starts.append(None if t is None else min(max(t * rate, 0.0), float(n)))
    if starts and starts[0] is None:
        starts[0] = float(speech_start)
    known = [(k, s) for k, s in enumerate(starts) if s is not None] + [(len(fragments), float(speech_end))]
    for (k0, s0), (k1, s1) in zip(known, known[1:]):  # fill gaps in proportion to characters
        if k1 - k0 > 1:
            weights = [max(1, spoken_characters(fragments[k][1])) for k in range(k0, k1)]
            for j, (a, _) in enumerate(share_spans(weights, int(s0), int(max(s0, s1)))):
                if j:
                    starts[k0 + j] = float(a)
    for k in range(1, len(starts)):  # the service reports marks in order; never let a gap fill undo that
        starts[k] = max(starts[k], starts[k - 1])
    loud = loud_frames(samples, rate)
    size = max(1, int(rate * FRAME_S))
    spans: dict[int, Span] = {}
    for k, (index, _) in enumerate(fragments):
        start = int(starts[k])
        end = int(starts[k + 1]) if k + 1 < len(fragments) else max(start, speech_end)
        end = max(start, min(end, n))
        span = _tighten((start, end), loud, size) if end > start else (start, end)
        if index in spans:
            span = (min(spans[index][0], span[0]), max(spans[index][1], span[1]))
        spans[index] = span
    return spans


# -- ElevenLabs: character alignment ---------------------------------------------------------------

def character_spans(text: str, characters: list[str], starts_s: list[float], ends_s: list[float],
                    rate: int, length: int) -> list[Span]:
    """One span per written word from per-character times (seconds) of the text that was sent.

    The characters are normally the text itself; if the service changed some (normalised quotes,
    dropped a character), difflib matches them up and a word keeps the characters that matched. A word
    runs from its first letter or digit's start to its last one's end (the comma after it takes no
    time worth highlighting); a word with no letter or digit, or no timed character, gets a zero-length
    span where it stands.
    """
    said = "".join(characters)
    if said == text:
        where = list(range(len(text)))
    else:
        where = [-1] * len(text)
        for a, b, size in difflib.SequenceMatcher(None, text, said, autojunk=False).get_matching_blocks():
            for k in range(size):
                where[a + k] = b + k
    spans: list[Span] = []

    def sample(t: float) -> int:
        return min(max(int(round(t * rate)), 0), length)

    for match in re.finditer(r"\S+", text):
        timed = [where[k] for k in range(match.start(), match.end()) if where[k] >= 0 and where[k] < len(starts_s)]
        core = [j for j in timed if characters[j].isalnum()]
        floor = spans[-1][1] if spans else 0
        if core:
            start = max(sample(starts_s[core[0]]), floor)
            spans.append((start, max(start, sample(ends_s[core[-1]]))))
        else:  # a lone dash or quote is not said: zero length where it stands
            at = max(sample(starts_s[timed[0]]), floor) if timed else floor
            spans.append((at, at))
    return spans

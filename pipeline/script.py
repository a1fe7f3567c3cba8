"""The script a writer produces, and the text measures the other stages share.

A :class:`Script` is plain data (JSON in and out) so it can be stored as an
artifact, edited by an operator and read by the voice, slide and quality stages.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

_ABBREVIATIONS = {"e.g", "i.e", "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "u.s", "u.k", "no", "approx", "jr", "sr", "inc", "ltd"}
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ0-9]+(?:['’][A-Za-z]+)?")
# A boundary candidate starts only where a run of end marks starts (the lookbehind) and takes the
# whole run at once (possessive): otherwise a long run of dots not followed by a space is retried
# from every position inside it, which is quadratic in the run's length.
_SENTENCE_END = re.compile(r"(?<![.!?…])([.!?…]++[\"'”’)\]]*+)(\s+)")
_END_MARKS = ".!?…\"'”’)]"
_SPACES = re.compile(r"\s+")
_FULL_WIDTH_END = re.compile(r"(?<=[。！？])(?![。！？」』）])")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def word_count(text: str) -> int:
    return len(words(text))


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences at . ! ? followed by space, sparing common abbreviations.

    Linear in the length of the text: each candidate boundary is judged by the word before it and
    the character after it, never by re-reading the sentence from its start (with many skipped
    candidates in one sentence, "e.g. a e.g. a ...", that re-reading was quadratic).
    """
    text = _SPACES.sub(" ", text.strip())
    if not text:
        return []
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end(1)
        if match.group(1).startswith(".") and _is_abbreviation(_word_before(text, start, end)):
            continue
        nxt = text[match.end():match.end() + 1]
        if nxt and not (nxt.isupper() or nxt.isdigit() or nxt in "\"'“‘(["):
            continue
        sentences.append(text[start:end].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    # Chinese and Japanese end a sentence with a full-width mark and no space after it.
    return [part for sentence in sentences for part in _FULL_WIDTH_END.split(sentence) if part.strip()]


def _word_before(text: str, start: int, end: int) -> str:
    """The word that ends at ``end`` (its end marks removed), looking back no further than ``start``.

    The search stops at the nearest space, and a space always follows the previous candidate, so
    all the look-backs of one text add up to its length.
    """
    space = text.rfind(" ", start, end)
    return text[max(space + 1, start):end].rstrip(_END_MARKS).lower()


def _is_abbreviation(word: str) -> bool:
    return word in _ABBREVIATIONS or (len(word) == 1 and "a" <= word <= "z")


def shorten(text: str, limit: int = 60) -> str:
    """Text cut at a word boundary to at most about ``limit`` characters (an ellipsis marks the cut)."""
    text = text.strip().rstrip(".")
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def count_syllables(word: str) -> int:
    """English syllable estimate (vowel groups, silent e): good enough for readability."""
    w = word.lower().strip("'’")
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    w = re.sub(r"(?:[^laeiouy]es|ed|[^laeiouy]e)$", "", w)
    w = re.sub(r"^y", "", w)
    return max(1, len(re.findall(r"[aeiouy]{1,2}", w)))


def flesch_reading_ease(text: str) -> float:
    """Flesch reading ease: 60-80 is plain English; under 30 is hard going."""
    sents = split_sentences(text)
    ws = words(text)
    if not sents or not ws:
        return 0.0
    syllables = sum(count_syllables(w) for w in ws)
    return round(206.835 - 1.015 * (len(ws) / len(sents)) - 84.6 * (syllables / len(ws)), 1)


@dataclass
class Section:
    heading: str
    sentences: list[str]
    bullets: list[str] = field(default_factory=list)
    # An LLM writer's visual query for each sentence (1-3 filmable words), in order; empty when none was given.
    visuals: list[str] = field(default_factory=list)
    # Where each sentence came from, in order: a source id ("S1", see pipeline.sources), "outline" for the
    # operator's own points, '' for framing. Empty for writers that do not cite (and for older scripts).
    cites: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def cite_for(self, i: int) -> str:
        """The source id of sentence ``i`` ('' when none was recorded)."""
        return self.cites[i] if i < len(self.cites) else ""

    def visual_for(self) -> dict[str, str]:
        """sentence -> its visual query, for the sentences that have one."""
        return {s.strip(): q.strip() for s, q in zip(self.sentences, self.visuals) if q and q.strip()}


@dataclass
class Block:
    """One stretch of narration shown over one slide."""

    key: str  # "hook", "section-1", ..., "cta"
    heading: str
    sentences: list[str]


@dataclass
class Script:
    title: str
    hook: str
    sections: list[Section]
    call_to_action: str
    description: str
    tags: list[str]
    target_words: int
    words_per_minute: float
    sources: list[str] = field(default_factory=list)  # what the writer was given, for provenance
    writer: str = "local"
    notes: list[str] = field(default_factory=list)  # what the writer had to leave out or could not fill
    # The sources the sentences cite: {"id", "title", "kind", "location"} (pipeline.sources.SourceDoc.reference)
    references: list[dict] = field(default_factory=list)

    def blocks(self) -> list[Block]:
        out = [Block("hook", self.title, split_sentences(self.hook))]
        for i, section in enumerate(self.sections, start=1):
            out.append(Block(f"section-{i}", section.heading, list(section.sentences)))
        out.append(Block("cta", self.title, split_sentences(self.call_to_action)))
        return [b for b in out if b.sentences]

    @property
    def spoken_text(self) -> str:
        return " ".join(" ".join(b.sentences) for b in self.blocks())

    @property
    def word_count(self) -> int:
        return word_count(self.spoken_text)

    @property
    def estimated_seconds(self) -> float:
        return self.word_count / self.words_per_minute * 60

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Script:
        data = dict(data)
        data["sections"] = [Section(**s) for s in data.get("sections", [])]
        return cls(**data)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Script:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

"""Fitting a script to its video, before anything is paid for it.

:func:`estimated_narration_s` says how long a voice takes to speak a script: its words at the
script's speaking rate plus the pauses :func:`pipeline.providers.audio.assemble` puts around and
between sentences. :func:`sized_words` is the same model solved the other way round (how many
words fill a duration), which is what writers aim for. :func:`fit_script` trims or pads a script
whose narration is off its target by more than :data:`TOLERANCE`: it cuts only at sentence and
section boundaries, pads only with :func:`framing` (sentences that assert nothing about the
world), and says what it did in ``Script.notes``. Any writer can run it; it leaves a script that
already fits untouched.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from dataclasses import replace

from pipeline.providers.audio import BLOCK_PAUSE_S, LEAD_S, SENTENCE_PAUSE_S, TAIL_S
from pipeline.script import Script, Section, shorten, split_sentences, word_count

TOLERANCE = 0.15  # narration within ±15% of the target duration is left as the writer made it
WORDS_PER_SENTENCE = 13  # plain spoken English; sized_words plans the pauses with it
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+")


def narration_s(words: int, sentences: int, blocks: int, words_per_minute: float) -> float:
    """Seconds of narration for that many words, sentences and blocks at the speaking rate.

    Voices speak sentence by sentence and ``audio.assemble`` joins them: a lead-in, a short pause
    between the sentences of a block, a longer one between blocks, and a closing hold.
    """
    gaps = max(sentences - 1, 0)
    block_gaps = min(max(blocks - 1, 0), gaps)
    speech = words / max(words_per_minute, 1.0) * 60
    return LEAD_S + TAIL_S + speech + BLOCK_PAUSE_S * block_gaps + SENTENCE_PAUSE_S * (gaps - block_gaps)


def estimated_narration_s(script: Script) -> float:
    """How long the voice will take to speak ``script``, pauses included (the one estimate every stage uses)."""
    blocks = script.blocks()
    sentences = [s for b in blocks for s in b.sentences]
    return narration_s(sum(map(word_count, sentences)), len(sentences), len(blocks), script.words_per_minute)


def sized_words(duration_s: float, words_per_minute: float, sections: int = 2) -> int:
    """Words that fill ``duration_s`` of narration: :func:`narration_s` solved for the word count,
    with the hook, the sections and the call to action as blocks of ~13-word sentences."""
    blocks = 2 + max(sections, 2)
    # narration_s with sentences = words / WORDS_PER_SENTENCE, its fixed part and its part per word
    fixed = LEAD_S + TAIL_S + (BLOCK_PAUSE_S - SENTENCE_PAUSE_S) * (blocks - 1) - SENTENCE_PAUSE_S
    per_word = 60 / max(words_per_minute, 1.0) + SENTENCE_PAUSE_S / WORDS_PER_SENTENCE
    return int(max(duration_s - fixed, 3.0) / per_word)


def fits(seconds: float, duration_s: float) -> bool:
    """Whether narration of ``seconds`` is within the tolerance of the target duration."""
    return abs(seconds - duration_s) <= TOLERANCE * duration_s


# The other lines writers frame a script with (the local writer's hook tail, the ends of its sections
# and its calls to action); with framing() they are the vocabulary quality.check_substance reads as framing.
HOOK_TAIL = "Let's take it apart, one piece at a time."
OUTROS = ("Keep that in mind as we go.", "That is worth pausing on for a moment.", "Hold on to that for a moment.",
          "That sets up the next part.", "It is worth letting that sink in.", "Remember that one.")
SIGNPOSTS = ("First", "Next", "Then", "Finally", "Now")  # "First: <heading>."
CTA_LONG = ("If this was useful, subscribe to {who} for more on {about}, and tell us in the comments what we "
            "should look at next.")
CTA_SHORT = "Subscribe for more."
FRAMING_LINES = (HOOK_TAIL, *OUTROS, CTA_LONG.format(who="the channel", about="questions like this one"), CTA_SHORT,
                 "Here is what the sources say.", "That is where we will stop for today.")


def framing_vocabulary() -> set[str]:
    """Every word the fixed framing uses (lowercased): sentences made only of these, the topic's own
    words and stopwords assert nothing about the world."""
    texts = [s for section in framing("") for s in (section.heading, *section.sentences)] + list(FRAMING_LINES)
    return {w.lower() for text in texts for w in re.findall(r"[A-Za-z']+", text)}


def framing(t: str) -> list[Section]:
    """Sections that assert nothing about the world, about topic phrase ``t``: what writers may pad with."""
    return [Section(heading, sentences) for heading, sentences in [
        ("What the question asks", [
            f"Start with the question itself: {t}.",
            "Before reaching for an answer, it helps to be precise about what is being asked.",
            "Which parts of it are about facts, and which are about how we choose to describe them?",
            "Try putting the question in your own words; a sharper question leads to a sharper answer."]),
        ("What we would need to know", [
            "To answer it well, we would need evidence, not just a good story.",
            "Ask what kind of observation would change your mind.",
            "Look for sources that explain how they know what they claim, not only what they claim.",
            "When careful people disagree, the disagreement itself tells you where the hard part is."]),
        ("Assumptions worth checking", [
            f"Most of us come to {t} with assumptions we have never examined.",
            "Some of them will hold up, and some of them will not.",
            "Notice which ones you would defend, and which you simply picked up along the way.",
            "Holding them loosely makes it easier to learn something new."]),
        ("How to check a claim", [
            "When you meet a confident claim on this topic, pause before you share it.",
            "Ask who is making it, what they would gain, and how they could know.",
            "Compare it with a second source that does not copy the first.",
            "If the numbers are missing, that is worth noticing too."]),
        ("Why it matters", [
            f"So why spend time on {t} at all?",
            "Questions like this train the habit of looking closely before deciding.",
            "That habit pays off far beyond any single topic.",
            "And it makes the answers you do find much easier to trust."]),
        ("Questions to keep asking", [
            "Here are some questions to keep in your pocket.",
            "What would it look like if the popular answer were wrong?",
            "What is the simplest explanation that still fits everything we know?",
            "And what would you want to measure if you could measure anything?"]),
        ("Words that need defining", [
            "A lot of confusion comes from words that mean different things to different people.",
            f"Before going further, pick out the key words in {t} and ask what each one means here.",
            "If two people define a word differently, they can argue forever without disagreeing.",
            "Agreeing on the terms first saves a great deal of time."]),
        ("Looking at it from the other side", [
            "Now try arguing the other side, as well as you can.",
            "What would someone who sees this differently say first?",
            "If you cannot state their view in a way they would accept, you may not understand it yet.",
            "The strongest version of the opposing view is the one worth answering."]),
        ("Separating what we know from what we guess", [
            "It helps to sort everything you have heard into three piles.",
            "Things that have been measured, things that are reasonable guesses, and things that are just repeated.",
            "The third pile is usually the biggest, and the least reliable.",
            "Being honest about which pile a claim belongs to is half the work."]),
        ("Thinking in examples", [
            "Abstract answers are easy to agree with and hard to test.",
            "So ask for a concrete example, and then for a second one that looks different.",
            "If an explanation only works for one example, it may not be an explanation at all.",
            "Examples are where good ideas prove themselves."]),
        ("What would change the answer", [
            "Every answer rests on conditions that could, in principle, be different.",
            "Ask which of those conditions matter most.",
            "Then ask whether anyone has checked what happens when they change.",
            "That is often where the most interesting part of a topic is hiding."]),
        ("Where to look next", [
            "If you want to go deeper, start with primary sources and careful reporting.",
            "People who study a subject for a living usually explain how uncertain they are.",
            "That uncertainty is not a weakness; it is a map of what is still unknown.",
            "Follow it, and the question becomes more interesting, not less."]),
    ]]


def fit_script(script: Script, duration_s: float, padding: Sequence[Section] = ()) -> Script:
    """``script`` with its estimated narration brought within :data:`TOLERANCE` of ``duration_s``.

    Too long: sentences leave from the ends of the longest sections first (the hook keeps its first
    sentence, every section one, the call to action all of its own), then whole sections from the
    end (one is kept). Only if that is still too long does a call to action of several sentences
    lose its later ones, and then the longest sentence left keep only its leading clauses. Too
    short: sections of ``padding`` (use :func:`framing`) whose headings the script lacks go before
    the call to action, sentence by sentence. Each step is taken only when it brings the narration
    nearer the target. What was done goes into ``notes``; a script that
    already fits is returned as it is (the same object).
    """
    before = estimated_narration_s(script)
    if fits(before, duration_s):
        return script
    draft = _Draft(script)
    notes: list[str] = []
    if before > duration_s:
        notes += _trim(draft, duration_s)
    if draft.seconds() < duration_s:
        notes += _pad(draft, duration_s, padding)
    fitted = draft.script(script) if notes else script
    after = estimated_narration_s(fitted)
    if notes:
        notes.append(f"narration estimated at {before:.0f} s, now {after:.0f} s, for a {duration_s:g} s video")
    if after < duration_s * (1 - TOLERANCE):
        notes.append(f"the script fills about {after:.0f} of {duration_s:g} s even with framing: "
                     "add an outline, or choose a shorter duration")
    elif not fits(after, duration_s):
        notes.append(f"the script still runs about {after:.0f} s for {duration_s:g} s: "
                     "shorten its opening or closing lines, or choose a longer duration")
    return replace(fitted, notes=[*script.notes, *notes])


class _Draft:
    """The script's blocks as lists of (sentence, words), with running totals, so that pricing a cut
    or an addition costs O(1) and fitting stays linear in the script's length."""

    def __init__(self, script: Script):
        self.wpm = script.words_per_minute
        self.headings = [s.heading for s in script.sections]
        self.bullets = [list(s.bullets) for s in script.sections]
        # blocks[0] is the hook, blocks[-1] the call to action, the sections between them
        # each entry is (sentence, words, cite): a section sentence keeps its source id through cuts
        self.blocks = [self._measured(split_sentences(script.hook)),
                       *(self._measured(s.sentences, s.cites) for s in script.sections),
                       self._measured(split_sentences(script.call_to_action))]
        self.block_words = [sum(w for _, w, _ in b) for b in self.blocks]
        self.words = sum(self.block_words)
        self.sentences = sum(len(b) for b in self.blocks)
        self.spoken_blocks = sum(1 for b in self.blocks if b)

    @staticmethod
    def _measured(sentences: list[str], cites: Sequence[str] = ()) -> list[tuple[str, int, str]]:
        cites = list(cites) + [""] * (len(sentences) - len(cites))
        return [(s, word_count(s), c) for s, c in zip(sentences, cites) if s.strip()]

    def seconds(self, words: int = 0, sentences: int = 0, blocks: int = 0) -> float:
        """Narration now, or after a change of that many words, sentences and blocks."""
        return narration_s(self.words + words, self.sentences + sentences, self.spoken_blocks + blocks, self.wpm)

    def without_last(self, i: int) -> float:
        block = self.blocks[i]
        return self.seconds(-block[-1][1], -1, -1 if len(block) == 1 else 0)

    def drop_last(self, i: int) -> None:
        _, words, _ = self.blocks[i].pop()
        self.words -= words
        self.block_words[i] -= words
        self.sentences -= 1
        self.spoken_blocks -= 0 if self.blocks[i] else 1

    def without_section(self, i: int) -> float:
        block = self.blocks[i]
        return self.seconds(-self.block_words[i], -len(block), -1 if block else 0)

    def drop_section(self, i: int) -> None:
        while self.blocks[i]:
            self.drop_last(i)
        del self.blocks[i], self.block_words[i], self.headings[i - 1], self.bullets[i - 1]

    def replace_sentence(self, i: int, j: int, text: str) -> None:
        words = word_count(text)
        self.words += words - self.blocks[i][j][1]
        self.block_words[i] += words - self.blocks[i][j][1]
        self.blocks[i][j] = (text, words, self.blocks[i][j][2])

    def add_section(self, heading: str) -> None:
        self.blocks.insert(len(self.blocks) - 1, [])
        self.block_words.insert(len(self.block_words) - 1, 0)
        self.headings.append(heading)
        self.bullets.append([])

    def add_sentence(self, text: str, words: int) -> None:
        block = self.blocks[-2]
        self.spoken_blocks += 0 if block else 1
        block.append((text, words, ""))  # padding is framing: it cites nothing
        self.block_words[-2] += words
        self.words += words
        self.sentences += 1

    def script(self, original: Script) -> Script:
        queries = {k: v for section in original.sections for k, v in section.visual_for().items()}
        cited = any(section.cites for section in original.sections)
        sections = [Section(h, [s for s, *_ in b], bullets, [queries.get(s.strip(), "") for s, *_ in b] if queries else [],
                            [c for *_, c in b] if cited else [])
                    for h, b, bullets in zip(self.headings, self.blocks[1:-1], self.bullets) if b]
        return replace(original, hook=" ".join(s for s, *_ in self.blocks[0]), sections=sections,
                       call_to_action=" ".join(s for s, *_ in self.blocks[-1]))


def _worth(now: float, after: float, duration_s: float) -> bool:
    """A cut or an addition is made only when it brings the narration nearer the target: so every
    step improves the fit, and a long sentence never swings a script past the band's other edge."""
    return abs(after - duration_s) < abs(now - duration_s)


def _trim(draft: _Draft, duration_s: float) -> list[str]:
    """Cut a too-long draft down; returns notes on what was left out."""
    sentences = _drop_sentences(draft, duration_s)
    sections = 0
    while len(draft.blocks) > 3 and draft.seconds() > duration_s:  # then whole sections from the end, one kept
        i = len(draft.blocks) - 2
        if not _worth(draft.seconds(), draft.without_section(i), duration_s):
            break
        sentences += len(draft.blocks[i])
        draft.drop_section(i)
        sections += 1
    cta = len(draft.blocks) - 1
    while (len(draft.blocks[cta]) > 1 and draft.seconds() > duration_s  # a "call to action" of many sentences
           and _worth(draft.seconds(), draft.without_last(cta), duration_s)):
        draft.drop_last(cta)
        sentences += 1
    notes = []
    if sentences:
        notes.append(f"trimmed to fit: {sentences} sentence{'s' * (sentences != 1)}"
                     + (f" (with {sections} whole section{'s' * (sections != 1)})" if sections else "") + " left out")
    at_clauses, between_words = _shorten_sentences(draft, duration_s)
    if at_clauses:
        notes.append(f"{_sentences(at_clauses)} too long to fit alone, so cut short at a clause boundary")
    if between_words:
        notes.append(f"{_sentences(between_words)} too long to fit alone and without clause marks, "
                     "so cut short between words")
    return notes


def _sentences(n: int) -> str:
    return f"{n} sentence was" if n == 1 else f"{n} sentences were"


def _drop_sentences(draft: _Draft, duration_s: float) -> int:
    """Drop last sentences of the longest blocks (ties: the later block) so sections even out rather than
    one vanishing; the hook keeps its first sentence, every section one, the call to action all of its own."""
    heap = [(-draft.block_words[i], -i, i) for i in range(len(draft.blocks) - 1) if len(draft.blocks[i]) > 1]
    heapq.heapify(heap)
    dropped = 0
    while heap and draft.seconds() > duration_s:
        i = heapq.heappop(heap)[2]
        if not _worth(draft.seconds(), draft.without_last(i), duration_s):
            continue  # its last sentence would overshoot, now and after any later cut: try the next block
        draft.drop_last(i)
        dropped += 1
        if len(draft.blocks[i]) > 1:
            heapq.heappush(heap, (-draft.block_words[i], -i, i))
    return dropped


def _shorten_sentences(draft: _Draft, duration_s: float) -> tuple[int, int]:
    """The last resort, for a draft of a few enormous sentences: the longest keeps only its leading
    clauses (or, with no clause marks, its leading ~13-word runs). Returns how many of each were cut."""
    cut = [0, 0]
    while draft.seconds() > duration_s and not fits(draft.seconds(), duration_s):
        i, j = max(((i, j) for i, b in enumerate(draft.blocks) for j in range(len(b))),
                   key=lambda ij: draft.blocks[ij[0]][ij[1]][1], default=(-1, -1))
        if i < 0:
            break
        pieces, by_clause = _clauses(draft.blocks[i][j][0])
        counts = [word_count(p) for p in pieces]
        keep, removed = len(pieces), 0
        while keep > 1:
            now, after = draft.seconds(-removed), draft.seconds(-removed - counts[keep - 1])
            if now <= duration_s or not _worth(now, after, duration_s):
                break
            keep -= 1
            removed += counts[keep]
        if keep == len(pieces):
            break  # nothing left to cut at a boundary
        draft.replace_sentence(i, j, _ellipsis(" ".join(pieces[:keep])))
        cut[0 if by_clause else 1] += 1
    return cut[0], cut[1]


def _clauses(sentence: str) -> tuple[list[str], bool]:
    """A sentence's clauses (split after , ; : and dashes) and True, or its ~13-word runs and False
    when it has no clause marks."""
    pieces = _CLAUSE_END.split(sentence.strip())
    if len(pieces) > 1:
        return pieces, True
    tokens = sentence.split()
    return [" ".join(tokens[k:k + WORDS_PER_SENTENCE]) for k in range(0, len(tokens), WORDS_PER_SENTENCE)], False


def _ellipsis(text: str) -> str:
    text = text.rstrip()
    return text if text[-1:] in ".!?…" else text.rstrip(",;:—–") + "…"


def _pad(draft: _Draft, duration_s: float, padding: Sequence[Section]) -> list[str]:
    """Lengthen a too-short draft with framing sections, before the call to action; returns notes."""
    present = {h.strip().lower() for h in draft.headings}
    added: list[str] = []
    sentences = 0
    for section in padding:
        if draft.seconds() >= duration_s:
            break
        if section.heading.strip().lower() in present:
            continue  # the writer already said it: never say the same framing twice
        kept: list[str] = []
        for sentence in section.sentences:
            words = word_count(sentence)
            now, after = draft.seconds(), draft.seconds(words, 1, 0 if kept else 1)
            if now >= duration_s or not _worth(now, after, duration_s):
                break
            if not kept:
                draft.add_section(section.heading)
            draft.add_sentence(sentence, words)
            kept.append(sentence)
        if kept:
            draft.bullets[-1] = list(section.bullets) or [shorten(s, 56) for s in kept[1:4]] or [shorten(kept[0], 56)]
            added.append(section.heading)
            sentences += len(kept)
    if not added:
        return []
    return [f"padded to fit with {sentences} framing sentence{'s' * (sentences != 1)} that assert nothing "
            f"({'; '.join(added)})"]

"""A script writer that needs no key and invents no facts.

It works only from what it is given: the topic, related trending titles and
tags, and an operator outline. The outline (bullets or paragraphs) is the
script's substance; the writer adds only framing that asserts nothing about
the world (signposts, questions to the viewer, a recap), and sizes the whole
to the target duration at the brief's speaking rate. Without an outline the
script is an honest framing of the question, which is why operators who want
substance give an outline or use an LLM writer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from pipeline.costs import Usage
from pipeline.providers.base import Brief, BriefError
from pipeline.script import Script, Section, split_sentences, word_count, words

MODEL = "template-writer-v1"
# Pauses the voice adds (seconds), which the writer leaves room for.
SENTENCE_PAUSE_S = 0.3
BLOCK_PAUSE_S = 0.6
LEAD_S = 1.5  # lead-in plus the closing hold

_STOPWORDS = set(
    "a an the and or but if of to in on at for with from by about into over after before is are was were be been "
    "being do does did doing have has had this that these those it its it's as so such than then why how what when "
    "where who whom which will would can could should may might must not no yes you your we our they their he she "
    "his her them us i me my very really just more most less new vs video videos official".split()
)
_BULLET = re.compile(r"^(\s*)(?:[-*•–]|\d+[.)])\s+(.*)$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)$")


@dataclass
class _Part:
    heading: str
    substance: list[str] = field(default_factory=list)  # operator-given sentences
    bullets: list[str] = field(default_factory=list)
    intro: list[str] = field(default_factory=list)  # framing, used only to fill
    outro: list[str] = field(default_factory=list)


def sized_words(duration_s: float, words_per_minute: float, sections: int = 2) -> int:
    """Words that fill duration_s of narration at the speaking rate, once the pauses are taken out
    (solved for the sentence count, at ~13 words a sentence)."""
    rate = words_per_minute / 60.0
    blocks = 2 + max(sections, 2)
    budget_s = max(duration_s - LEAD_S - BLOCK_PAUSE_S * blocks, 3.0)
    return int(budget_s * rate / (1 + SENTENCE_PAUSE_S * rate / 13.0))


def topic_phrase(topic: str) -> str:
    """The topic as it reads inside a sentence ("Why octopuses..." -> "why octopuses...")."""
    topic = topic.strip().rstrip(".?!")
    first = topic.split(" ")[0]
    if len(first) > 1 and first[0].isupper() and first[1:].islower() and first.lower() in _STOPWORDS | {"why", "how", "what", "when", "where", "which", "who"}:
        return first.lower() + topic[len(first):]
    return topic


def title_case(text: str) -> str:
    small = {"a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "by", "vs"}
    out = []
    for i, w in enumerate(text.split()):
        if w.isupper() and len(w) > 1:
            out.append(w)
        elif i and w.lower() in small:
            out.append(w.lower())
        else:
            out.append(w[:1].upper() + w[1:])
    return " ".join(out)


def keywords(texts: list[str], limit: int = 8) -> list[str]:
    seen: dict[str, int] = {}
    for text in texts:
        for w in words(text.lower()):
            if len(w) > 2 and w not in _STOPWORDS and not w.isdigit():
                seen[w] = seen.get(w, 0) + 1
    return [w for w, _ in sorted(seen.items(), key=lambda kv: (-kv[1], list(seen).index(kv[0])))][:limit]


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text.strip())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…\"'”" else text + "."


def _short(text: str, limit: int = 60) -> str:
    text = text.strip().rstrip(".")
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def parse_outline(outline: str) -> list[_Part]:
    """Bullets, numbered points, markdown headings or paragraphs -> sections of given sentences."""
    lines = outline.replace("\r\n", "\n").split("\n")
    parts: list[_Part] = []
    has_bullets = any(_BULLET.match(l) for l in lines)
    has_children = has_bullets and any((m := _BULLET.match(l)) and m.group(1) for l in lines)
    current: _Part | None = None
    paragraph: list[str] = []

    def flush_paragraph() -> None:
        nonlocal current
        if not paragraph:
            return
        sentences = [_sentence(s) for s in split_sentences(" ".join(paragraph))]
        paragraph.clear()
        if current is not None and not current.substance:
            current.substance.extend(sentences)
        else:
            current = _Part(_short(sentences[0].rstrip("."), 48), sentences)
            parts.append(current)

    for line in lines:
        if not line.strip():
            flush_paragraph()
            continue
        heading = _HEADING.match(line)
        bullet = _BULLET.match(line)
        if heading:
            flush_paragraph()
            current = _Part(heading.group(1).strip().rstrip(":"))
            parts.append(current)
        elif bullet and (not bullet.group(1) or not has_children):
            flush_paragraph()
            text = bullet.group(2).strip()
            if has_children or current is None or current.substance or not text:
                current = _Part(_short(text.rstrip(":."), 48))
                parts.append(current)
                if not has_children:
                    current.substance.append(_sentence(text))
                    current.bullets.append(_short(text))
            else:  # a flat bullet under a markdown heading
                current.substance.append(_sentence(text))
                current.bullets.append(_short(text))
        elif bullet and current is not None:
            current.substance.extend(_sentence(s) for s in split_sentences(bullet.group(2)))
            current.bullets.append(_short(bullet.group(2)))
        elif line.strip().endswith(":") and len(line.strip()) < 80:
            flush_paragraph()
            current = _Part(line.strip().rstrip(":"))
            parts.append(current)
        else:
            paragraph.append(line.strip())
    flush_paragraph()
    return [p for p in parts if p.substance or p.heading]


def _angles(t: str) -> list[_Part]:
    """Framing sections that assert nothing about the world, for when no material was given."""
    return [
        _Part("What the question asks", [], [], [
            f"Start with the question itself: {t}.",
            "Before reaching for an answer, it helps to be precise about what is being asked.",
            "Which parts of it are about facts, and which are about how we choose to describe them?",
            "Try putting the question in your own words; a sharper question leads to a sharper answer.",
        ]),
        _Part("What we would need to know", [], [], [
            "To answer it well, we would need evidence, not just a good story.",
            "Ask what kind of observation would change your mind.",
            "Look for sources that explain how they know what they claim, not only what they claim.",
            "When careful people disagree, the disagreement itself tells you where the hard part is.",
        ]),
        _Part("Assumptions worth checking", [], [], [
            f"Most of us come to {t} with assumptions we have never examined.",
            "Some of them will hold up, and some of them will not.",
            "Notice which ones you would defend, and which you simply picked up along the way.",
            "Holding them loosely makes it easier to learn something new.",
        ]),
        _Part("How to check a claim", [], [], [
            "When you meet a confident claim on this topic, pause before you share it.",
            "Ask who is making it, what they would gain, and how they could know.",
            "Compare it with a second source that does not copy the first.",
            "If the numbers are missing, that is worth noticing too.",
        ]),
        _Part("Why it matters", [], [], [
            f"So why spend time on {t} at all?",
            "Questions like this train the habit of looking closely before deciding.",
            "That habit pays off far beyond any single topic.",
            "And it makes the answers you do find much easier to trust.",
        ]),
        _Part("Questions to keep asking", [], [], [
            "Here are some questions to keep in your pocket.",
            "What would it look like if the popular answer were wrong?",
            "What is the simplest explanation that still fits everything we know?",
            "And what would you want to measure if you could measure anything?",
        ]),
        _Part("Words that need defining", [], [], [
            "A lot of confusion comes from words that mean different things to different people.",
            f"Before going further, pick out the key words in {t} and ask what each one means here.",
            "If two people define a word differently, they can argue forever without disagreeing.",
            "Agreeing on the terms first saves a great deal of time.",
        ]),
        _Part("Looking at it from the other side", [], [], [
            "Now try arguing the other side, as well as you can.",
            "What would someone who sees this differently say first?",
            "If you cannot state their view in a way they would accept, you may not understand it yet.",
            "The strongest version of the opposing view is the one worth answering.",
        ]),
        _Part("Separating what we know from what we guess", [], [], [
            "It helps to sort everything you have heard into three piles.",
            "Things that have been measured, things that are reasonable guesses, and things that are just repeated.",
            "The third pile is usually the biggest, and the least reliable.",
            "Being honest about which pile a claim belongs to is half the work.",
        ]),
        _Part("Thinking in examples", [], [], [
            "Abstract answers are easy to agree with and hard to test.",
            "So ask for a concrete example, and then for a second one that looks different.",
            "If an explanation only works for one example, it may not be an explanation at all.",
            "Examples are where good ideas prove themselves.",
        ]),
        _Part("What would change the answer", [], [], [
            "Every answer rests on conditions that could, in principle, be different.",
            "Ask which of those conditions matter most.",
            "Then ask whether anyone has checked what happens when they change.",
            "That is often where the most interesting part of a topic is hiding.",
        ]),
        _Part("Where to look next", [], [], [
            "If you want to go deeper, start with primary sources and careful reporting.",
            "People who study a subject for a living usually explain how uncertain they are.",
            "That uncertainty is not a weakness; it is a map of what is still unknown.",
            "Follow it, and the question becomes more interesting, not less.",
        ]),
    ]


class LocalWriter:
    """Template writer over the brief's own material. Needs no key, no network, no model."""

    name = "local"
    model = MODEL

    @staticmethod
    def check(settings: object) -> str | None:
        return None  # pure Python: always usable

    def estimate(self, duration_s: float, words: int, outline_words: int = 0) -> list[Usage]:
        return [Usage(self.name, MODEL, "words", float(words))]  # words: from sized_words, as write() sizes

    def write(self, brief: Brief) -> tuple[Script, list[Usage]]:
        started = time.perf_counter()
        topic = re.sub(r"\s+", " ", brief.topic or "").strip()
        if not topic:
            raise BriefError("The topic is empty: give the video a topic, for example 'Why octopuses are so smart'.")
        if len(topic) > 200:
            raise BriefError(f"The topic is {len(topic)} characters long: keep it under 200 and put detail in the outline.")
        t = topic_phrase(topic)

        parts = parse_outline(brief.outline) if brief.outline.strip() else []
        if not parts and brief.related_titles:
            parts = self._from_trends(brief)
        fillers = _angles(t)
        for i, part in enumerate(parts):
            if not part.intro:
                part.intro = [f"{'First' if i == 0 else 'Next'}: {part.heading.rstrip('.').lower() if part.heading[:1].isupper() and part.heading[1:2].islower() else part.heading.rstrip('.')}."]
            if not part.outro and part.substance:
                part.outro = ["Keep that in mind as we go." if i == 0 else "That is worth pausing on for a moment."]

        title = title_case(topic)[:100]
        question = t.split(" ")[0] in ("why", "how", "what", "when", "where", "who", "which")
        who = brief.channel_name or "the channel"
        about = brief.niche or "questions like this one"

        # A section needs ~15 s to say anything; points beyond that are left out, and said so.
        notes = []
        max_sections = max(1, min(40, round(brief.duration_s / 15)))
        if len(parts) > max_sections:
            notes.append(f"{len(parts) - max_sections} of {len(parts)} outline points left out to fit {brief.duration_s:g} s")
            parts = parts[:max_sections]
        # Room for speech once the pauses are taken out, solved for the sentence count.
        target_words = sized_words(brief.duration_s, brief.words_per_minute, len(parts))
        hook = _sentence(topic).rstrip(".") + ("?" if question else ".")
        if target_words >= 60:
            hook += " Let's take it apart, one piece at a time."
        if target_words >= 100:
            cta = f"If this was useful, subscribe to {who} for more on {about}, and tell us in the comments what we should look at next."
        else:
            cta = "Subscribe for more."
        remaining = target_words - word_count(hook) - word_count(cta)

        chosen = self._fill(parts, fillers, remaining)
        sections = [
            Section(p.heading, sentences, p.bullets[:4] or [_short(s, 56) for s in p.substance[:3]] or [_short(s, 56) for s in sentences[1:4]])
            for p, sentences in chosen
        ]
        spoken = word_count(hook) + word_count(cta) + sum(word_count(x) for _, sentences in chosen for x in sentences)
        if spoken < 0.85 * target_words:
            notes.append(f"the material fills about {spoken} of {target_words} words: add an outline for a longer video")
        sources = [f"topic: {topic}"] + ([f"outline: {len(parts)} sections"] if brief.outline.strip() else []) + [
            f"trending title: {x}" for x in brief.related_titles[:10]
        ]
        tag_list = self._tags(brief, topic)
        description = self._description(brief, title, hook, sections, tag_list)
        script = Script(title=title if brief.format != "shorts" else f"{title[:90]} #Shorts", hook=hook,
                        sections=sections, call_to_action=cta, description=description, tags=tag_list,
                        target_words=target_words, words_per_minute=brief.words_per_minute, sources=sources,
                        writer=self.name, notes=notes)
        usage = [Usage("local", MODEL, "words", float(script.word_count), time.perf_counter() - started)]
        return script, usage

    @staticmethod
    def _from_trends(brief: Brief) -> list[_Part]:
        """Sections that report what is trending: the titles themselves are the given facts."""
        titles = [x.strip() for x in brief.related_titles if x and x.strip()]
        groups = [titles[i:i + 2] for i in range(0, min(len(titles), 8), 2)]
        parts = []
        for group in groups:
            sentences = [f"One video people are watching right now is titled: {x.rstrip('.')}." for x in group]
            parts.append(_Part(_short(group[0], 48), sentences, [_short(x) for x in group]))
        if brief.tags:
            shown = ", ".join(brief.tags[:5])
            parts.append(_Part("What viewers search for", [f"Videos on this topic are tagged with words like {shown}."], [_short(x, 40) for x in brief.tags[:4]]))
        return parts

    @staticmethod
    def _fill(parts: list[_Part], fillers: list[_Part], budget: int) -> list[tuple[_Part, list[str]]]:
        """Pick sentences by priority (given substance, then framing, then filler sections) up to the budget."""
        used = 0
        picked: dict[int, set[tuple[str, int]]] = {i: set() for i in range(len(parts))}
        pool = list(parts)

        def take(idx: int, kind: str, pos: int, sentence: str) -> bool:
            nonlocal used
            n = word_count(sentence)
            if used + n > budget + 4:  # allow a small overshoot rather than cut a sentence
                return False
            picked.setdefault(idx, set()).add((kind, pos))
            used += n
            return True

        def round_robin(kind: str, indices: list[int]) -> bool:
            lists = {i: getattr(pool[i], kind) for i in indices}
            depth = max((len(v) for v in lists.values()), default=0)
            for pos in range(depth):
                for i in indices:
                    if pos < len(lists[i]) and not take(i, kind, pos, lists[i][pos]):
                        return False
            return True

        idx = list(range(len(pool)))
        if round_robin("substance", idx) and round_robin("intro", idx) and round_robin("outro", idx):
            for filler in fillers:  # whole framing sections, while there is time to fill
                if budget - used < 12:
                    break
                pool.append(filler)
                if not round_robin("intro", [len(pool) - 1]):
                    break
        out = []
        for i, part in enumerate(pool):
            keys = picked.get(i) or set()
            sentences = [s for kind in ("intro", "substance", "outro") for pos, s in enumerate(getattr(part, kind)) if (kind, pos) in keys]
            if sentences:
                out.append((part, sentences))
        if not out:  # even a 10-second video says something about its topic
            out.append((fillers[0], fillers[0].intro[:1]))
        return out

    @staticmethod
    def _tags(brief: Brief, topic: str) -> list[str]:
        tags, seen, total = [], set(), 0
        for tag in [topic.lower(), *brief.tags, *keywords([topic, *brief.related_titles]), brief.niche]:
            tag = re.sub(r"[<>\"]", "", (tag or "").strip())[:100]
            if tag and tag.lower() not in seen and total + len(tag) + 1 <= 450:  # YouTube allows 500 characters
                seen.add(tag.lower())
                tags.append(tag)
                total += len(tag) + 1
        return tags[:20]

    @staticmethod
    def _description(brief: Brief, title: str, hook: str, sections: list[Section], tags: list[str]) -> str:
        lines = [hook, "", "In this video:"]
        lines += [f"• {s.heading}" for s in sections]
        lines += ["", "Narration and visuals in this video were produced with automated tools (synthetic voice)."]
        hashtags = " ".join("#" + re.sub(r"\W+", "", t.title()) for t in tags[1:4] if re.sub(r"\W+", "", t))
        if hashtags:
            lines += ["", hashtags]
        return "\n".join(lines)[:4900]

"""A script writer that needs no key and invents no facts.

It works only from what it is given: the topic, related trending titles and
tags, and an operator outline. The outline (bullets or paragraphs) is the
script's substance; the writer adds only framing that asserts nothing about
the world (signposts, questions to the viewer, a recap), and sizes the whole
to the target duration at the brief's speaking rate (the same estimate as
:mod:`pipeline.fit`, which then checks it). Without an outline the
script is an honest framing of the question, which is why operators who want
substance give an outline or use an LLM writer.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field

from pipeline.costs import Usage
# sized_words lives in pipeline.fit now; stages and the workbench still import it from here
from pipeline.fit import fit_script, framing, sized_words  # noqa: F401
from pipeline.providers.base import Brief, check_text
from pipeline.script import Script, Section, shorten, split_sentences, word_count, words

MODEL = "template-writer-v1"

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
    """The most frequent content words of the texts; ties keep the order they first appeared in."""
    counts = Counter(w for text in texts for w in words(text.lower())
                     if len(w) > 2 and w not in _STOPWORDS and not w.isdigit())
    return [w for w, _ in counts.most_common(limit)]  # a stable sort: first seen wins a tie, in O(n log n)


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text.strip())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…\"'”" else text + "."


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
            current = _Part(shorten(sentences[0].rstrip("."), 48), sentences)
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
                current = _Part(shorten(text.rstrip(":."), 48))
                parts.append(current)
                if not has_children:
                    current.substance.append(_sentence(text))
                    current.bullets.append(shorten(text))
            else:  # a flat bullet under a markdown heading
                current.substance.append(_sentence(text))
                current.bullets.append(shorten(text))
        elif bullet and current is not None:
            current.substance.extend(_sentence(s) for s in split_sentences(bullet.group(2)))
            current.bullets.append(shorten(bullet.group(2)))
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
    return [_Part(section.heading, [], [], list(section.sentences)) for section in framing(t)]


def check_brief(brief: Brief) -> str:
    """The brief's topic (whitespace folded), or a BriefError saying what to fix (see ``check_text``)."""
    return check_text(brief.topic, brief.outline)


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
        topic = check_brief(brief)
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
        given = sum(len(p.substance) for p in parts)
        said = sum(len(set(p.substance).intersection(sentences)) for p, sentences in chosen)
        if said < given:  # never drop the operator's material without saying so
            notes.append(f"{given - said} of {given} given sentences left out to fit {brief.duration_s:g} s"
                         + ("" if said else ": each is too long to say in that time, so split them into shorter ones"))
        sections = [
            Section(p.heading, sentences, p.bullets[:4] or [shorten(s, 56) for s in p.substance[:3]] or [shorten(s, 56) for s in sentences[1:4]])
            for p, sentences in chosen
        ]
        sources = [f"topic: {topic}"] + ([f"outline: {len(parts)} sections"] if brief.outline.strip() else []) + [
            f"trending title: {x}" for x in brief.related_titles[:10]
        ]
        tag_list = self._tags(brief, topic)
        script = Script(title=title if brief.format != "shorts" else f"{title[:90]} #Shorts", hook=hook,
                        sections=sections, call_to_action=cta, description="", tags=tag_list,
                        target_words=target_words, words_per_minute=brief.words_per_minute, sources=sources,
                        writer=self.name, notes=notes)
        # Sized above, so this is usually a no-op; it pads a short one with the framing not yet used
        # and notes a shortfall when the material runs out.
        script = fit_script(script, brief.duration_s, framing(t))
        script.description = self._description(brief, title, hook, script.sections, tag_list)
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
            parts.append(_Part(shorten(group[0], 48), sentences, [shorten(x) for x in group]))
        if brief.tags:
            shown = ", ".join(brief.tags[:5])
            parts.append(_Part("What viewers search for", [f"Videos on this topic are tagged with words like {shown}."], [shorten(x, 40) for x in brief.tags[:4]]))
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

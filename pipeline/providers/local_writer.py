"""A script writer that needs no key and invents no facts.

It works only from what it is given: the topic, the operator's outline and sources
(:mod:`pipeline.sources`: pasted text, files, web pages). The outline's points come first;
sentences extracted from the sources fill the rest (:meth:`LocalWriter._from_sources`: ranked by
relevance to the topic and centrality, LexRank-like, with MiniLM embeddings; near-duplicates and
sentences that lean on missing context left out; kept verbatim or lightly trimmed; each one cites
its source). The writer adds only framing that asserts nothing about the world (a hook that states
the topic, signposts, a call to action) and sizes the whole to the target duration at the brief's
speaking rate (the same estimate as :mod:`pipeline.fit`, which then checks it). Trending titles
feed the tags only: a title is not a fact. Without an outline or sources the script is an honest
framing of the question, and its notes say so (the quality gate holds it).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from pipeline.costs import Usage
# sized_words lives in pipeline.fit now; stages and the workbench still import it from here
from pipeline.fit import CTA_LONG, CTA_SHORT, HOOK_TAIL, OUTROS, fit_script, framing, sized_words  # noqa: F401
from pipeline.providers.base import Brief, check_text
from pipeline.script import Script, Section, shorten, split_sentences, word_count, words
from pipeline.sources import Candidate, SourceDoc, candidates

log = logging.getLogger("ytempire.writer")

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
    cites: list[str] = field(default_factory=list)  # per substance sentence: "outline" or a source id


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


def stem(word: str) -> str:
    """A crude singular ("octopuses" -> "octopus", "species" stays): enough to match a topic's words."""
    w = word.lower()
    if w.endswith(("ses", "xes", "ches", "shes")) and len(w) > 4:
        return w[:-2]
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "ies")) and len(w) > 3:
        return w[:-1]
    return w


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


FRAMING_ONLY = ("no outline or sources were given, so this script can only frame the question: it says nothing "
                "about the topic itself. Add an outline or sources, or choose an LLM writer (the quality gate holds "
                "scripts like this one)")

# Extraction: how many sentences are embedded at most (~70 a second on 2 CPU cores), how relevance to the
# topic and centrality among the sources weigh in a sentence's score, and how alike two sentences may be.
MAX_RANKED = 400
RELEVANCE_WEIGHT = 0.6
DUPLICATE_COSINE = 0.85
DUPLICATE_OVERLAP = 0.6  # share of a sentence's word trigrams already said: a near-duplicate without a model
WORDS_PER_SECTION = 65  # about 25 s of narration under one heading

_shared: object | None = None
_shared_lock = threading.Lock()


def shared_embedder():
    """The process's one MiniLM model for the writer, loaded on first use (pipeline.trends.topics.Embedder)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from pipeline.trends.topics import Embedder, embedder_available

            why = embedder_available()
            if why:
                raise RuntimeError(why)
            _shared = Embedder("cpu")
        return _shared


class LocalWriter:
    """Template and extractive writer over the brief's own material. Needs no key and no network;
    with sources it ranks their sentences with the MiniLM model (TF-IDF when the model is missing).

    ``embedder``: an object with ``encode(list[str]) -> unit vectors`` or a zero-argument callable that
    returns one (the worker's ``ctx.embedder``); by default :func:`shared_embedder`.
    """

    name = "local"
    model = MODEL

    def __init__(self, embedder: object | None = None):
        self._embedder = embedder

    @staticmethod
    def check(settings: object) -> str | None:
        return None  # pure Python: always usable

    def estimate(self, duration_s: float, words: int, outline_words: int = 0) -> list[Usage]:
        return [Usage(self.name, MODEL, "words", float(words))]  # words: from sized_words, as write() sizes

    def write(self, brief: Brief) -> tuple[Script, list[Usage]]:
        started = time.perf_counter()
        topic = check_brief(brief)
        t = topic_phrase(topic)
        docs = [d if isinstance(d, SourceDoc) else SourceDoc.from_dict(d) for d in brief.sources or []]

        parts = parse_outline(brief.outline) if brief.outline.strip() else []
        for part in parts:
            part.cites = ["outline"] * len(part.substance)
        fillers = _angles(t)
        for i, part in enumerate(parts):
            if not part.intro:
                part.intro = [f"{'First' if i == 0 else 'Next'}: {part.heading.rstrip('.').lower() if part.heading[:1].isupper() and part.heading[1:2].islower() else part.heading.rstrip('.')}."]
            if not part.outro and part.substance:
                part.outro = [OUTROS[i % len(OUTROS)]]  # a different one each time: a repeated line is noticed

        title = title_case(topic)[:100]
        question = t.split(" ")[0] in ("why", "how", "what", "when", "where", "who", "which")
        who = brief.channel_name or "the channel"
        about = brief.niche or "questions like this one"

        # A point needs about 10 s to be said; points beyond that are left out, and said so.
        notes = [] if parts or docs else [FRAMING_ONLY]
        max_sections = max(1, min(40, math.ceil(brief.duration_s / 10)))  # a point needs ~10 s: more says more
        if len(parts) > max_sections:
            notes.append(f"{len(parts) - max_sections} of {len(parts)} outline points left out to fit {brief.duration_s:g} s")
            parts = parts[:max_sections]
        source_sections = 0
        if docs:
            free = max_sections - len(parts)
            rough = sized_words(brief.duration_s, brief.words_per_minute, len(parts) + 2)
            left = rough - sum(word_count(x) for p in parts for x in p.substance)
            # A short video still says what its sources hold: one section at least, when there is any room.
            source_sections = max(0, min(free, round(left / WORDS_PER_SECTION))) or (1 if free and left > 0 else 0)
            if not source_sections:
                notes.append("the outline fills the video, so the sources were not drawn on")
        # Room for speech once the pauses are taken out, solved for the sentence count.
        target_words = sized_words(brief.duration_s, brief.words_per_minute, len(parts) + source_sections)
        hook = _sentence(topic).rstrip(".") + ("?" if question else ".")
        if target_words >= 60:
            hook += " " + HOOK_TAIL
        cta = CTA_LONG.format(who=who, about=about) if target_words >= 100 else CTA_SHORT
        remaining = target_words - word_count(hook) - word_count(cta)

        extracted: list[_Part] = []
        if source_sections:
            budget = remaining - sum(word_count(x) for p in parts for x in p.substance)
            given_sentences = [x for p in parts for x in p.substance]
            extracted = self._from_sources(docs, topic, budget, source_sections, notes, given_sentences)
            parts += extracted

        chosen = self._fill(parts, [] if extracted else fillers, remaining)
        own = {id(p) for p in parts} - {id(p) for p in extracted}  # the outline's parts
        given = sum(len(p.substance) for p in parts if id(p) in own)
        said = sum(len(set(p.substance).intersection(sentences)) for p, sentences, _ in chosen if id(p) in own)
        if said < given:  # never drop the operator's material without saying so
            notes.append(f"{given - said} of {given} given sentences left out to fit {brief.duration_s:g} s"
                         + ("" if said else ": each is too long to say in that time, so split them into shorter ones"))
        sections = [
            Section(p.heading, sentences, p.bullets[:4] or [shorten(s, 56) for s in p.substance[:3]] or [shorten(s, 56) for s in sentences[1:4]],
                    cites=cites)
            for p, sentences, cites in chosen
        ]
        cited = {c for s in sections for c in s.cites}
        references = [d.reference() for d in docs if d.id in cited]
        provenance = [f"topic: {topic}"] + ([f"outline: {len(parts) - len(extracted)} sections"] if brief.outline.strip() else []) + [
            f"source {d.id}: {d.title}" for d in docs] + [f"trending title: {x}" for x in brief.related_titles[:10]]
        tag_list = self._tags(brief, topic, [x for p in extracted for x in p.substance])
        script = Script(title=title if brief.format != "shorts" else f"{title[:90]} #Shorts", hook=hook,
                        sections=sections, call_to_action=cta, description="", tags=tag_list,
                        target_words=target_words, words_per_minute=brief.words_per_minute, sources=provenance,
                        writer=self.name, notes=notes, references=references)
        # Sized above, so this is usually a no-op; it pads a short one with the framing not yet used
        # and notes a shortfall when the material runs out.
        script = fit_script(script, brief.duration_s, framing(t))
        script.description = self._description(brief, title, hook, script.sections, tag_list, script.references)
        usage = [Usage("local", MODEL, "words", float(script.word_count), time.perf_counter() - started)]
        return script, usage

    # -- extraction ------------------------------------------------------------------------------

    def _encoder(self, notes: list[str]):
        """The embedding model, or None (then TF-IDF ranks, and the notes say why)."""
        try:
            enc = self._embedder
            if enc is None:
                enc = shared_embedder()
            elif not hasattr(enc, "encode") and callable(enc):
                enc = enc()
            if enc is None or not hasattr(enc, "encode"):
                raise RuntimeError("no embedding model was given")
            return enc
        except Exception as exc:  # noqa: BLE001 - the model missing or broken: rank by words instead
            log.warning("the embedding model is unavailable (%s): ranking source sentences by TF-IDF", exc)
            notes.append(f"source sentences ranked by word overlap (TF-IDF): the embedding model is unavailable ({exc})")
            return None

    def _vectors(self, texts: list[str], notes: list[str]) -> np.ndarray:
        enc = self._encoder(notes)
        if enc is not None:
            return np.asarray(enc.encode(texts), dtype=np.float32)
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts).toarray().astype(np.float32)

    def _from_sources(self, docs: list[SourceDoc], topic: str, budget: int, n_sections: int,
                      notes: list[str], given: list[str] = ()) -> list[_Part]:
        """Sections of source sentences worth about ``budget`` words, in source order, none repeating the
        ``given`` (outline) sentences. Appends to ``notes`` what the sources could not supply."""
        unique: dict[str, Candidate] = {}
        for c in (c for d in docs for c in candidates(d)):
            unique.setdefault(c.text.lower(), c)  # a sentence two sources share is embedded (and said) once
        pool = list(unique.values())
        if not pool:
            notes.append("the sources offer no sentence that can be said on its own (each was too short, too long, "
                         "a question or navigation): add sources with plain prose")
            return []
        if len(pool) > MAX_RANKED:
            pool = _prefilter(pool, topic, MAX_RANKED)
            notes.append(f"only the {MAX_RANKED} sentences that share most words with the topic were ranked")
        vectors = self._vectors([c.text for c in pool] + [topic], notes)
        picked = _select(pool, vectors[:-1], vectors[-1], budget, given)
        words_found = sum(word_count(pool[i].text) for i in picked)
        if words_found < 0.85 * budget:
            notes.append(f"the sources gave about {words_found} words worth saying for the {budget} wanted: "
                         "the rest is framing; add sources, or choose a shorter duration")
        order = {d.id: k for k, d in enumerate(docs)}
        chosen = sorted((pool[i] for i in picked), key=lambda c: (order[c.source], c.index))
        return _sections(chosen, n_sections, topic)

    @staticmethod
    def _fill(parts: list[_Part], fillers: list[_Part], budget: int) -> list[tuple[_Part, list[str], list[str]]]:
        """Pick sentences by priority (given substance, then framing, then filler sections) up to the budget;
        returns each part with its sentences and their cites ('' for framing)."""
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
            nonlocal used
            lists = {i: getattr(pool[i], kind) for i in indices}
            depth = max((len(v) for v in lists.values()), default=0)
            if kind != "substance":
                for pos in range(depth):
                    for i in indices:
                        if pos < len(lists[i]) and not take(i, kind, pos, lists[i][pos]):
                            return False
                return True
            # The given material: a sentence too long for what is left is passed over for shorter ones, and a
            # video a little too short for any still says its shortest one, rather than framing instead of facts.
            fitted = True
            for pos in range(depth):
                for i in indices:
                    if pos < len(lists[i]) and not take(i, kind, pos, lists[i][pos]):
                        fitted = False
            if not any(picked.get(i) for i in indices):
                given = [(word_count(lists[i][pos]), i, pos) for i in indices for pos in range(len(lists[i]))]
                given = [g for g in given if g[0] <= budget * 1.5 + 8]  # a sentence far too long stays out, noted
                if given:
                    n, i, pos = min(given)
                    picked.setdefault(i, set()).add((kind, pos))
                    used += n
            return fitted

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
            said = [(s, part.cites[pos] if kind == "substance" and pos < len(part.cites) else "")
                    for kind in ("intro", "substance", "outro") for pos, s in enumerate(getattr(part, kind))
                    if (kind, pos) in keys]
            if said:
                out.append((part, [s for s, _ in said], [c for _, c in said]))
        if not out:  # even a 10-second video says something about its topic
            first = fillers[0] if fillers else _angles("the question")[0]
            out.append((first, first.intro[:1], [""]))
        return out

    @staticmethod
    def _tags(brief: Brief, topic: str, extracted: list[str] | None = None) -> list[str]:
        tags, seen, total = [], set(), 0
        found = keywords(extracted, 5) if extracted else []
        for tag in [topic.lower(), *brief.tags, *keywords([topic, *brief.related_titles]), *found, brief.niche]:
            tag = re.sub(r"[<>\"]", "", (tag or "").strip())[:100]
            if tag and tag.lower() not in seen and total + len(tag) + 1 <= 450:  # YouTube allows 500 characters
                seen.add(tag.lower())
                tags.append(tag)
                total += len(tag) + 1
        return tags[:20]

    @staticmethod
    def _description(brief: Brief, title: str, hook: str, sections: list[Section], tags: list[str],
                     references: list[dict] | None = None) -> str:
        lines = [hook, "", "In this video:"]
        lines += [f"• {s.heading}" for s in sections]
        if references:
            lines += ["", "Sources:"]
            lines += [f"• {source_line(r)}" for r in references]
        lines += ["", "Narration and visuals in this video were produced with automated tools (synthetic voice)."]
        hashtags = " ".join("#" + re.sub(r"\W+", "", t.title()) for t in tags[1:4] if re.sub(r"\W+", "", t))
        if hashtags:
            lines += ["", hashtags]
        return "\n".join(lines)[:4900]


def source_line(reference: dict) -> str:
    """'Title — https://...' / 'Title — notes.pdf' / 'Title (pasted text)' for a description."""
    doc = SourceDoc.from_dict({**reference, "text": ""})
    title = shorten(doc.title or doc.label, 90)
    return f"{title} (pasted text)" if doc.kind == "text" else f"{title} — {doc.label}"


def _minmax(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min()) if len(x) else 0.0
    return (x - x.min()) / span if span > 1e-9 else np.zeros_like(x)


def _trigrams(text: str) -> set[tuple[str, ...]]:
    tokens = [w.lower() for w in words(text)]
    return {tuple(tokens[i:i + 3]) for i in range(max(len(tokens) - 2, 1))} if tokens else set()


def _prefilter(pool: list[Candidate], topic: str, limit: int) -> list[Candidate]:
    """The ``limit`` sentences sharing most content words with the topic and with the other sentences
    (a cheap stand-in for the embedding ranking, for sources too long to embed whole), in source order."""
    topic_words = {w.lower() for w in words(topic) if w.lower() not in _STOPWORDS}
    bags = [{w.lower() for w in words(c.text) if len(w) > 2 and w.lower() not in _STOPWORDS} for c in pool]
    df = Counter(w for bag in bags for w in bag)
    scores = [2 * len(bag & topic_words) + (sum(np.log1p(df[w]) for w in bag) / max(len(bag), 1)) for bag in bags]
    keep = sorted(sorted(range(len(pool)), key=lambda i: -scores[i])[:limit])
    return [pool[i] for i in keep]


def _select(pool: list[Candidate], vectors: np.ndarray, topic_vector: np.ndarray, budget: int,
            given: list[str] = ()) -> list[int]:
    """Indices of the sentences to say: best score first (relevance to the topic and centrality, both
    scaled to 0-1), skipping near-duplicates of what was already taken; a sentence that points back
    ("It...", "They...") comes only with the sentence before it. Stops at about ``budget`` words.
    ``given``: sentences already in the script (the outline's), which a pick must not repeat."""
    n = len(pool)
    sims = vectors @ vectors.T
    relevance = vectors @ topic_vector
    centrality = (sims.sum(axis=1) - np.diag(sims)) / max(n - 1, 1)
    score = RELEVANCE_WEIGHT * _minmax(relevance) + (1 - RELEVANCE_WEIGHT) * _minmax(centrality)
    at = {(c.source, c.index): i for i, c in enumerate(pool)}
    grams = [_trigrams(c.text) for c in pool]
    chosen: list[int] = []
    taken: set[int] = set()
    said: set[tuple[str, ...]] = set()
    for sentence in given:
        said |= _trigrams(sentence)
    used = 0

    def duplicate(i: int) -> bool:
        if chosen and float(sims[i, chosen].max()) > DUPLICATE_COSINE:
            return True
        return bool(grams[i]) and len(grams[i] & said) / len(grams[i]) >= DUPLICATE_OVERLAP

    for i in np.argsort(-score, kind="stable"):
        i = int(i)
        if used >= budget - 3:
            break
        if i in taken:
            continue
        unit = [i]
        c = pool[i]
        if c.needs_previous:
            prev = at.get((c.source, c.index - 1))
            if prev is None or pool[prev].heading != c.heading:
                continue  # its antecedent was left out as junk, or sits in another section
            if prev not in taken:
                before = at.get((c.source, c.index - 2))
                if pool[prev].needs_previous and (before is None or before not in taken):
                    continue
                unit = [prev, i]
        if any(duplicate(u) for u in unit):
            continue
        cost = sum(word_count(pool[u].text) for u in unit)
        if used + cost > budget + 4:  # the overshoot _fill allows
            continue  # too long for what is left: a shorter one may fit
        for u in unit:
            chosen.append(u)
            taken.add(u)
            said |= grams[u]
        used += cost
    if not chosen:  # too short a video for any whole sentence: the shortest of the ten best, rather than none
        best = [int(i) for i in np.argsort(-score, kind="stable") if not pool[int(i)].needs_previous][:10]
        if best:
            chosen.append(min(best, key=lambda i: word_count(pool[i].text)))
    return chosen


_VAGUE = set("same other others many most some only about around also one two three four five six seven eight nine "
             "ten hundred thousand million can like much well even each every any all part parts kind way ways "
             "used uses called known often usually still than cannot people".split())


def _heading_words(texts: list[str], topic_words: set[str]) -> list[str]:
    """Two content words for a heading: the commonest in the texts, longer words first on a tie."""
    counts = Counter(stem(w) for text in texts for w in words(text.lower())
                     if len(w) > 3 and w not in _STOPWORDS and w not in _VAGUE and not w.isdigit())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0])))
    return [w for w, _ in ranked if w not in topic_words][:2]


def _sections(chosen: list[Candidate], n_sections: int, topic: str) -> list[_Part]:
    """Chosen sentences (in source order) grouped into about ``n_sections`` sections: runs under one source
    heading first; the smallest runs merged into a neighbour, the longest split where no sentence points
    back. Headings: the source's own, else the run's two commonest content words."""
    groups: list[list[Candidate]] = []
    for c in chosen:
        if groups and (groups[-1][-1].source, groups[-1][-1].heading) == (c.source, c.heading):
            groups[-1].append(c)
        else:
            groups.append([c])
    n_sections = max(1, n_sections)
    while len(groups) > n_sections:
        k = min(range(len(groups)), key=lambda j: len(groups[j]))
        if k == 0:
            j = 1
        elif k == len(groups) - 1:
            j = k - 1
        else:  # the smaller neighbour, preferring one from the same source
            j = min((k - 1, k + 1), key=lambda m: (groups[m][0].source != groups[k][0].source, len(groups[m])))
        lo, hi = min(j, k), max(j, k)
        groups[lo:hi + 1] = [groups[lo] + groups[hi]]
    while len(groups) < n_sections:
        k = max(range(len(groups)), key=lambda j: len(groups[j]))
        g = groups[k]
        cuts = [m for m in range(2, len(g) - 1) if not g[m].needs_previous]
        if len(g) < 6 or not cuts:
            break
        m = min(cuts, key=lambda m: abs(m - len(g) / 2))
        groups[k:k + 1] = [g[:m], g[m:]]
    topic_words = {stem(w) for w in words(topic)}
    parts, used_headings = [], set()
    for g in groups:
        hints = Counter(c.heading for c in g if c.heading)
        top = hints.most_common(1)[0] if hints else ("", 0)
        heading = top[0] if top[1] >= 0.6 * len(g) else ""  # a merged run keeps a heading only if it is mostly its
        if not heading or heading.lower() in used_headings:
            keys = _heading_words([c.text for c in g], topic_words)
            heading = title_case(" and ".join(keys)) if keys else f"Part {len(parts) + 1}"
        if heading.lower() in used_headings:
            heading = f"{heading} ({len(parts) + 1})"
        used_headings.add(heading.lower())
        texts = [c.text for c in g]
        parts.append(_Part(shorten(heading, 48), texts, [shorten(x, 56) for x in texts[:3]], cites=[c.source for c in g]))
    return parts

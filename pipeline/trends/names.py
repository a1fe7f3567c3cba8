"""Topic names that read as phrases: "Tessa Virtue and Scott Moir", "Fortnite Battle Royale", not "a · b · c".

A yake/KeyBERT-style key phrase per cluster, with no model: candidates are runs of one to four words
inside one segment of a title or one tag (a title's parts split at `` | ``, `` - ``, brackets and
the like, so a phrase never spans two of them), starting and ending on a content word (stopwords
may sit inside: "Game of Thrones"). Each is scored like class-based TF-IDF, by the share of the
cluster's videos that use it times how few clusters use it, and then grown to the longest phrase
that still covers most of those videos ("tessa" -> "Tessa Virtue"). It is written the way the
titles most often write it. Chinese and Japanese titles have no spaces: their candidates are runs
of two to six characters, grown the same way. A cluster whose videos share no phrase is named by
its most central title.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

import numpy as np

from pipeline.trends.topics import STOPWORDS

_SEGMENT = re.compile(r"\s+[-–—~/•·:|+]+\s+|[|()\[\]{}\"“”„«»!?¡¿,;…#@*]+|:\s|\.\s|\s[xX×]\s")
_TOKEN = re.compile(r"[^\W_]+(?:['’.&-][^\W_]+)*\.?", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_ELISION = re.compile(r"^(?:l|d|j|qu|n|s|c|m|t)['’]", re.IGNORECASE)
_GENERIC = STOPWORDS | set("""
ft. feat. vs. season saison episode épisode partie part chapter teaser promo clip highlights reaction review
today week day night update best top first last more most every all one two three video comment posts time
worst moments things ways times reasons facts tips people world life year years latest big little real
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
и в на с по от не что как за из до для о у der die das und mit von zu ist ein eine di da do il e em um
sa ng ang mga ve bir ile ka ki ke se hai
""".split())
MAX_WORDS = 5
GROW_SHARE = 0.6  # a longer phrase replaces a shorter one when it covers at least this share of its videos
MAX_LABEL_CHARS = 60


def _content(word: str) -> bool:
    """Can a phrase start or end on this word?"""
    w = _ELISION.sub("", word.lower()).rstrip(".")
    return len(w) > 1 and any(ch.isalpha() for ch in w) and w not in _GENERIC


def _phrases(doc: str) -> dict[tuple[str, ...], str]:
    """Candidate phrases of one document: key (lower-case words) -> how the document writes it."""
    found: dict[tuple[str, ...], str] = {}
    for segment in _SEGMENT.split(doc):
        words = [w.rstrip(".") if not re.fullmatch(r"(?:\w\.)+", w) else w for w in _TOKEN.findall(segment)]
        for i, word in enumerate(words):
            if _CJK.search(word):
                run = "".join(ch for ch in word if _CJK.match(ch))
                for n in range(2, 7):
                    for j in range(len(run) - n + 1):
                        found.setdefault((run[j:j + n],), run[j:j + n])
                continue
            if not _content(word):
                continue
            for j in range(i + 1, min(len(words), i + MAX_WORDS) + 1):
                if _CJK.search(words[j - 1]):
                    break
                if _content(words[j - 1]):
                    key = tuple(w.lower() for w in words[i:j])
                    found.setdefault(key, " ".join(words[i:j]))
    return found


def _score(key: tuple[str, ...], df: int, size: int, total: int, used_by: Counter) -> float:
    """Share of the cluster's videos using the phrase, times its rarity across clusters; longer phrases weigh more."""
    return (df / size) * math.log(1 + total / used_by[key]) * (1 + 0.35 * (len(key) - 1))


def _grow(key: tuple[str, ...], pool: dict[tuple[str, ...], int], share: float = GROW_SHARE) -> tuple[str, ...]:
    """The longest phrase containing ``key`` that still covers most of its videos ("tessa" -> "tessa virtue")."""
    while True:
        longer = [k for k in pool if _inside(key, k) and pool[k] >= share * pool[key]]
        if not longer:
            return key
        key = max(longer, key=lambda k: (len(" ".join(k)), pool[k], k))


def _inside(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    if len(short) == 1 and len(long) == 1:  # CJK runs: a substring
        return short[0] != long[0] and short[0] in long[0]
    n = len(short)
    return len(long) > n and any(long[i:i + n] == short for i in range(len(long) - n + 1))


def _written(surfaces: Counter, first: bool = True) -> str:
    """The way most titles write the phrase, preferring capitals over an all-lower-case tag."""
    ranked = surfaces.most_common()
    best, count = ranked[0]
    if best.islower() or best.isupper():  # a tag's lower case or a shouted title: a mixed-case spelling if any
        for text, n in ranked[1:]:
            if not text.islower() and not text.isupper() and n * 4 >= count:
                best = text
                break
    words = [w.capitalize() if w.isupper() and len(w) > 3 and set(w.lower()) & set("aeiouy") else w
             for w in best.split(" ")]
    if first and words[0].islower():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def _shorten(title: str, words: int = 6) -> str:
    part = next((s for s in _SEGMENT.split(title) if _TOKEN.search(s)), title).strip()
    tokens = part.split()
    return " ".join(tokens[:words]) + ("…" if len(tokens) > words else "")


def name_clusters(docs: list[str], labels: np.ndarray, vectors: np.ndarray | None = None,
                  centroids: np.ndarray | None = None) -> dict[int, str]:
    """A phrase naming each cluster (see the module docstring); distinct within the call."""
    labels = np.asarray(labels)
    per_doc = [_phrases(d) for d in docs]
    df: dict[int, Counter] = defaultdict(Counter)
    surfaces: dict[int, dict[tuple[str, ...], Counter]] = defaultdict(lambda: defaultdict(Counter))
    for found, label in zip(per_doc, labels.tolist()):
        df[label].update(found.keys())
        for key, text in found.items():
            surfaces[label][key][text] += 1
    sizes = Counter(labels.tolist())
    used_by = Counter()
    for counts in df.values():
        used_by.update(k for k, n in counts.items() if n >= 2)
    total = max(1, len(df))
    names: dict[int, str] = {}
    taken: set[str] = set()
    for label in sorted(sizes, key=lambda t: (-sizes[t], t)):
        counts = df.get(label, Counter())
        pool = {k: n for k, n in counts.items() if n >= 2}
        ranked = sorted(pool, key=lambda k: (-_score(k, pool[k], sizes[label], total, used_by), -len(k), k))
        grown = [_grow(k, pool) for k in ranked[:12]]
        # a lone word grows on a looser rule ("fortnite" -> "fortnite battle royale" in a third of its videos)
        grown = [_grow(k, pool, GROW_SHARE / 2) if len(k) == 1 and not _CJK.search(k[0]) else k for k in grown]
        name = None
        for i, key in enumerate(grown):
            text = _written(surfaces[label][key])
            if len(key) == 1 and not _CJK.search(key[0]):  # one word: pair it with the next distinct phrase
                partner = next((k for k in grown[i + 1:] if not set(k) & set(key) and pool[k] * 2 >= pool[key]), None)
                if partner is not None:
                    text = f"{text} and {_written(surfaces[label][partner], first=False)}"
            text = text[:MAX_LABEL_CHARS]
            if text.lower() not in taken:
                name = text
                break
        if name is None:
            name = _central_title(docs, labels, label, vectors, centroids)
            base, n = name, 2
            while name.lower() in taken:
                name, n = f"{base} ({n})", n + 1
        taken.add(name.lower())
        names[label] = name
    return names


def _central_title(docs: list[str], labels: np.ndarray, label: int, vectors: np.ndarray | None,
                   centroids: np.ndarray | None) -> str:
    members = np.flatnonzero(labels == label)
    if not len(members):
        return "Miscellaneous"
    pick = members[0]
    if vectors is not None and centroids is not None and len(vectors) == len(docs) and label < len(centroids):
        pick = members[int(np.argmax(vectors[members] @ centroids[label]))]
    title = docs[pick].split(" | ")[0]
    return _shorten(title) or "Miscellaneous"

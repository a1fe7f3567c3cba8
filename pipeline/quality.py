"""The quality score (0-100) from measurable checks, and the gate before publishing.

Each check scores 0..1 with a weight and keeps its measured value, its target
and a sentence an operator can act on. The score is the weighted mean x 100;
under the threshold the job is held, not published.

Besides the technical checks, three judge what the script says: :func:`check_substance` (how
much of it carries content about the topic rather than framing), :func:`check_repetition`
(near-duplicate sentences) and :func:`check_traceable` (whether sentences citing a source are
found in it). Their weights make a script that only frames its question fail on its own.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image

from pipeline.media.ffmpeg import AudioStats, StreamInfo
from pipeline.media.thumbnail import MAX_BYTES
from pipeline.media.thumbnail import SIZE as THUMB_SIZE
from pipeline.script import Script, flesch_reading_ease, shorten, words


@dataclass
class Check:
    name: str
    score: float  # 0..1
    weight: float
    value: str
    target: str
    message: str
    blocking: bool = False  # a failed blocking check holds the video whatever the score (wrong language, boxes)

    @property
    def passed(self) -> bool:
        return self.score >= 0.999


@dataclass
class QualityReport:
    score: float
    threshold: float
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return self.score >= self.threshold and not any(c.blocking and not c.passed for c in self.checks)

    def to_dict(self) -> dict:
        return {"score": self.score, "threshold": self.threshold, "passed": self.passed,
                "checks": [{**asdict(c), "passed": c.passed} for c in self.checks]}


def _ramp(error: float, ok: float, zero: float) -> float:
    """1 while error <= ok, falling linearly to 0 at zero."""
    if error <= ok:
        return 1.0
    if error >= zero:
        return 0.0
    return 1.0 - (error - ok) / (zero - ok)


def check_duration(actual_s: float, target_s: float) -> Check:
    error = abs(actual_s - target_s) / target_s if target_s else 1.0
    score = _ramp(error, 0.10, 0.40)
    msg = "on target" if score == 1 else (
        f"{actual_s:.0f} s against {target_s:.0f} s: {'lengthen' if actual_s < target_s else 'shorten'} the script or outline")
    return Check("duration", score, 25, f"{actual_s:.1f} s", f"{target_s:.0f} s ±10%", msg)


def check_audio(info: StreamInfo, stats: AudioStats) -> Check:
    if not info.audio_codec:
        return Check("audio", 0.0, 20, "no audio stream", "narration present", "the video has no sound: re-run the voice stage")
    if stats.max_db <= -60:
        return Check("audio", 0.0, 20, f"peak {stats.max_db:.0f} dB", "audible narration", "the narration is silent: check the voice provider")
    silent_share = stats.silence_s / stats.duration_s if stats.duration_s else 1.0
    score = _ramp(silent_share, 0.10, 0.50) * (1.0 if stats.mean_db > -35 else 0.5)
    msg = "narration audible throughout" if score == 1 else (
        f"{silent_share:.0%} of the video is silence, mean level {stats.mean_db:.0f} dB")
    return Check("audio", score, 20, f"mean {stats.mean_db:.1f} dB, {stats.silence_s:.1f} s silent", "≤10% silence, mean > -35 dB", msg)


def check_subtitles(coverage: float) -> Check:
    score = _ramp(1.0 - coverage, 0.05, 0.5)
    return Check("subtitles", score, 15, f"{coverage:.0%} of speech", "≥95% of speech subtitled",
                 "subtitles cover the narration" if score == 1 else "parts of the narration have no subtitle")


def check_format(info: StreamInfo, size: tuple[int, int]) -> Check:
    problems = []
    if (info.width, info.height) != size:
        problems.append(f"{info.width}x{info.height} instead of {size[0]}x{size[1]}")
    if info.video_codec != "h264":
        problems.append(f"video codec {info.video_codec}")
    if info.audio_codec and info.audio_codec != "aac":
        problems.append(f"audio codec {info.audio_codec}")
    if not info.faststart:
        problems.append("index not at the start (faststart)")
    score = 1.0 if not problems else 0.0
    return Check("format", score, 15, f"{info.width}x{info.height} {info.video_codec}/{info.audio_codec}",
                 f"{size[0]}x{size[1]} H.264/AAC, faststart", "; ".join(problems) or "ready for upload")


def check_script(script: Script) -> Check:
    ratio = script.word_count / script.target_words if script.target_words else 0.0
    length = _ramp(abs(1 - ratio), 0.15, 0.6)
    ease = flesch_reading_ease(script.spoken_text)
    readable = _ramp(max(0.0, 50 - ease), 0, 30)
    score = (length + readable) / 2
    notes = []
    if length < 1:
        notes.append(f"{script.word_count} words for a target of {script.target_words}")
    if readable < 1:
        notes.append(f"reading ease {ease:.0f} is hard for listeners: use shorter sentences and words")
    return Check("script", score, 15, f"{script.word_count} words, reading ease {ease:.0f}",
                 f"{script.target_words} words ±15%, reading ease ≥ 50", "; ".join(notes) or "length and readability fine")


# -- substance: does the script say anything? -------------------------------------------------------
# With the technical checks (weights 100 in all) perfect, a script with no substance scores
# 100 * (100 + 10) / 170 = 65, under the default threshold of 70; a substantive one loses nothing.
SUBSTANCE_WEIGHT = 60
REPETITION_WEIGHT = 10
TRACEABLE_WEIGHT = 15
CONTENT_SHARE_OK = 0.5  # at least half the spoken sentences say something about the topic: full marks
CONTENT_SHARE_ZERO = 0.15
MIN_CONTENT_WORDS = 2  # content words beyond the topic's own and the framing vocabulary
NEAR_DUPLICATE = 0.6  # share of a sentence's word trigrams already said in an earlier sentence
TRACED = 0.75  # share of a sentence's word trigrams found in its source: taken from it (a trim allowed)

_SIGNPOST = re.compile(r"^(?:First|Next|Then|Finally|Now)\s*:")
_GENERIC = set(
    "a an the and or but if of to in on at for with from by about into over after before is are was were be been being "
    "do does did doing have has had this that these those it its it's as so such than then why how what when where who "
    "whom which will would can could should may might must not no yes you your we our they their he she his her them "
    "us i me my very really just more most less new vs video videos official let's lets let us here there today now "
    "thing things way ways lot lots something anything everything nothing someone everyone people look looking see "
    "seen know known think thought find found learn learned explore dive deep deeper world fact facts topic story "
    "stories journey secret secrets mystery mysteries truth answer answers question questions interesting fascinating "
    "amazing incredible important surprising really actually simply truly kind part parts today's time welcome back "
    "stay tuned watch watching thanks thank like comment comments share channel subscribe bell notification also "
    "well even much many one some every each all other another".split())


def _stem(word: str) -> str:
    w = word.lower().replace("’", "'")
    if w.endswith(("ses", "xes", "ches", "shes")) and len(w) > 4:
        return w[:-2]
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


# Numbers say something even when spelled out ("three hearts"), so the framing's own "three piles" does not
# make them framing words ("one", "half" and the ordinals stay framing: "a second source", "half the work").
_NUMBERS = set("two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty sixty seventy "
               "eighty ninety hundred thousand million billion dozen".split())


@lru_cache(maxsize=1)
def _framing_words() -> frozenset[str]:
    from pipeline.fit import framing_vocabulary

    return frozenset({_stem(w) for w in framing_vocabulary() | _GENERIC} - _NUMBERS)


def content_words(sentence: str, topic: str = "") -> list[str]:
    """The words of ``sentence`` that say something: not the topic's own, not stopwords or the framing
    vocabulary (numbers count: "500 million neurons" is content)."""
    skip = _framing_words() | {_stem(w) for w in words(topic)}
    return [w for w in words(sentence) if w.isdigit() or w.lower() in _NUMBERS or (len(w) > 2 and _stem(w) not in skip)]


def is_framing(sentence: str, topic: str = "") -> bool:
    """Whether a sentence frames rather than informs: a signpost ("Next: ..."), a question to the
    viewer, or fewer than :data:`MIN_CONTENT_WORDS` content words."""
    text = sentence.strip()
    if _SIGNPOST.match(text) or text.endswith("?"):
        return True
    return len(content_words(text, topic)) < MIN_CONTENT_WORDS


def _spoken(script: Script) -> list[tuple[str, str, str]]:
    """(block key, sentence, cite) for every spoken sentence, in order. The cite is None where the writer
    recorded none (the hook, the call to action, a section without cites), '' where it marked framing."""
    out = []
    sections = {f"section-{i}": s for i, s in enumerate(script.sections, start=1)}
    for block in script.blocks():
        section = sections.get(block.key)
        for j, sentence in enumerate(block.sentences):
            cited = section is not None and bool(section.cites)
            out.append((block.key, sentence, section.cite_for(j) if cited else None))
    return out


def check_substance(script: Script, topic: str) -> Check:
    """The share of spoken sentences that carry content about the topic rather than framing (the call
    to action is framing by definition; so are signposts, questions and sentences of only generic words)."""
    spoken = _spoken(script)
    content = [s for key, s, _ in spoken if key != "cta" and not is_framing(s, topic)]
    share = len(content) / len(spoken) if spoken else 0.0
    score = _ramp(max(0.0, CONTENT_SHARE_OK - share), 0.0, CONTENT_SHARE_OK - CONTENT_SHARE_ZERO)
    if score == 1:
        msg = "the script says something about its topic"
    elif not content:
        msg = ("the script only frames the question and says nothing about the topic: add an outline or sources, "
               "or use an LLM writer")
    else:
        msg = (f"only {len(content)} of {len(spoken)} spoken sentences say something about the topic; the rest is "
               "framing: add an outline or sources, or use an LLM writer")
    return Check("substance", score, SUBSTANCE_WEIGHT, f"{share:.0%} of {len(spoken)} sentences carry content",
                 f"≥ {CONTENT_SHARE_OK:.0%} content", msg)


def _trigrams(sentence: str) -> set[tuple[str, ...]]:
    tokens = [w.lower() for w in words(sentence)]
    n = min(3, len(tokens))
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)} if n else set()


def near_duplicates(sentences: list[str]) -> list[int]:
    """Indices of sentences that repeat an earlier one: at least :data:`NEAR_DUPLICATE` of their word
    trigrams were said in one earlier sentence (a later sentence that merely quotes the topic is not a
    repeat). An index of trigrams keeps it near linear in the script's length."""
    seen: dict[tuple[str, ...], list[int]] = {}
    grams = [_trigrams(s) for s in sentences]
    dups = []
    for i, g in enumerate(grams):
        if not g:
            continue
        shared: Counter[int] = Counter(j for gram in g for j in seen.get(gram, ()))
        if shared and max(shared.values()) / len(g) >= NEAR_DUPLICATE:
            dups.append(i)
        for gram in g:
            seen.setdefault(gram, []).append(i)
    return dups


def check_repetition(script: Script) -> Check:
    """Near-duplicate sentences within the script (word trigram overlap; no model needed)."""
    sentences = [s for _, s, _ in _spoken(script)]
    dups = near_duplicates(sentences)
    share = len(dups) / len(sentences) if sentences else 0.0
    score = _ramp(share, 0.05, 0.30)
    msg = "no sentence repeats another" if not dups else (
        f"{len(dups)} sentence{'s' * (len(dups) != 1)} repeat{'s' * (len(dups) == 1)} an earlier one "
        f"(e.g. \"{shorten(sentences[dups[0]], 60)}\"): cut or rewrite them")
    return Check("repetition", score, REPETITION_WEIGHT, f"{len(dups)} of {len(sentences)} sentences repeat",
                 "≤ 5% repeated", msg)


def check_traceable(script: Script, sources: list) -> Check:
    """When the script cites sources: the share of its non-framing section sentences that their cited
    source (any source, for a sentence without a cite) actually contains, verbatim or lightly trimmed
    (fuzzy containment of word trigrams). The operator's outline points are not checked. A script
    without references gets weight 0 (nothing to trace)."""
    from pipeline.sources import SourceDoc, TextIndex

    if not script.references:
        return Check("traceable", 1.0, 0, "no sources cited", "cited sentences found in their sources",
                     "nothing to trace: the script cites no sources")
    docs = [d if isinstance(d, SourceDoc) else SourceDoc.from_dict(d) for d in sources or []]
    index = {d.id: TextIndex(d.text) for d in docs}
    checked, missing = 0, []
    for key, sentence, cite in _spoken(script):
        if key in ("hook", "cta") or cite in ("outline", "") or is_framing(sentence):
            continue  # the operator's own points, and what the writer marked or reads as framing
        checked += 1
        where = list(index.values()) if cite is None else [index[cite]] if cite in index else []
        if not any(ix.containment(sentence) >= TRACED for ix in where):
            missing.append(sentence)
    share = 1 - len(missing) / checked if checked else 1.0
    score = _ramp(1 - share, 0.10, 0.50)
    if not docs:
        score, msg = 0.0, "the script cites sources that were not given to the check: load them from the job"
    elif not missing:
        msg = "every cited sentence is found in its source"
    else:
        msg = (f"{len(missing)} of {checked} sentences are not found in the sources they cite "
               f"(e.g. \"{shorten(missing[0], 60)}\"): check them against the sources, or remove them")
    return Check("traceable", score, TRACEABLE_WEIGHT, f"{share:.0%} of {checked} sentences found in their sources",
                 "≥ 90% traced", msg)


def check_thumbnail(path: Path | None) -> Check:
    if path is None or not path.exists():
        return Check("thumbnail", 0.0, 10, "missing", "1280x720 JPEG < 2 MB", "no thumbnail: re-run the thumbnail stage")
    size = path.stat().st_size
    with Image.open(path) as img:
        dims, fmt = img.size, img.format
    problems = []
    if dims != THUMB_SIZE:
        problems.append(f"{dims[0]}x{dims[1]}")
    if size >= MAX_BYTES:
        problems.append(f"{size / 1e6:.1f} MB")
    if fmt != "JPEG":
        problems.append(f"format {fmt}")
    return Check("thumbnail", 0.0 if problems else 1.0, 10, f"{dims[0]}x{dims[1]} {fmt}, {size / 1024:.0f} KB",
                 "1280x720 JPEG < 2 MB", "; ".join(problems) or "ready for upload")


def evaluate(checks: list[Check], threshold: float) -> QualityReport:
    total = sum(c.weight for c in checks) or 1.0
    score = round(100 * sum(c.score * c.weight for c in checks) / total, 1)
    return QualityReport(score, threshold, checks)

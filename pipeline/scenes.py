"""The scene plan: the narration split into scenes of whole sentences, each with a visual query.

:func:`plan_scenes` cuts the voice's sentence cues into scenes of 2-8 s (never inside a sentence,
never across a block, since a block change is a section change); :func:`subject_of` names what
the video is about in a word or two; :func:`visual_queries` gives every scene 1-3 concrete,
filmable words that keep that subject in view ("octopus jar", not "the idea"). The words come
from the writer when it gave them, else from the scene's own text (:class:`MiniLMKeywords`,
KeyBERT's method over the process's one MiniLM model), else from the neighbouring scenes or the
block's heading when the scene says nothing that can be filmed ("ask yourself why").

Everything here is deterministic: the same cues and text give the same scenes and queries.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

import numpy as np

from pipeline.providers.base import Cue, Scene

# -- the plan ------------------------------------------------------------------------------------

# Costs the split minimises (see _group_cost). A scene under min_s flashes past, so absorbing a
# short sentence wins over the max_s bound; two sentences that could each stand alone are never
# merged past max_s.
_SHORT = 10.0
_LONG = 3.0


def plan_scenes(cues: list[Cue], duration_s: float, min_s: float = 2.0, max_s: float = 8.0) -> list[Scene]:
    """Scenes of one to a few whole sentences covering the narration from 0 to ``duration_s``.

    Each sentence owns the time from its start to the next sentence's start (the first from 0, the
    last to the end), so the pauses belong to the scene before them and the scenes tile the video.
    Within each run of one block the split into scenes is chosen by dynamic programming: scenes
    near the middle of [min_s, max_s], none under ``min_s`` where a neighbour in the block can
    take it, none over ``max_s`` unless one sentence alone is that long (it is its own scene) or
    a very short sentence has nowhere else to go. A block shorter than ``min_s`` is one short
    scene: scenes never span blocks. Raises ValueError when there are no cues.
    """
    if not cues:
        raise ValueError("No sentence timings to plan scenes from: the narration has no cues.")
    if min_s <= 0 or max_s < min_s:
        raise ValueError(f"Scene lengths must satisfy 0 < min_s <= max_s (got {min_s}, {max_s}).")
    cues = sorted(cues, key=lambda c: c.start)  # stable: equal starts keep their spoken order
    end = max(float(duration_s), cues[-1].end, cues[-1].start)
    # Slot starts: monotone and inside [0, end] whatever the cues say (overlaps, rounding).
    starts, last = [], 0.0
    for i, cue in enumerate(cues):
        last = 0.0 if i == 0 else min(max(cue.start, last), end)
        starts.append(last)
    starts.append(end)

    scenes: list[Scene] = []
    run_start = 0
    for i in range(1, len(cues) + 1):
        if i == len(cues) or cues[i].block != cues[run_start].block:
            for a, b in _split_run(starts[run_start:i + 1], min_s, max_s):
                group = cues[run_start + a:run_start + b]
                scenes.append(Scene(len(scenes), starts[run_start + a], starts[run_start + b], group[0].block,
                                    " ".join(c.text.strip() for c in group if c.text.strip())))
            run_start = i
    return scenes


def _split_run(bounds: list[float], min_s: float, max_s: float) -> list[tuple[int, int]]:
    """The cheapest split of one block's sentences (slot boundaries ``bounds``) into (from, to) groups."""
    n = len(bounds) - 1
    target = (min_s + max_s) / 2
    best = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = 0.0
        for i in range(j - 1, -1, -1):
            longest = max(longest, bounds[i + 1] - bounds[i])
            length = bounds[j] - bounds[i]
            excess = length - max(max_s, longest)
            if excess > max_s:  # already far too long, and only grows as i goes back
                break
            cost = best[i] + _group_cost(length, excess, target, min_s, max_s)
            if cost < best[j]:
                best[j], back[j] = cost, i
    groups, j = [], n
    while j > 0:
        groups.append((back[j], j))
        j = back[j]
    return groups[::-1]


def _group_cost(length: float, excess: float, target: float, min_s: float, max_s: float) -> float:
    dev = (length - target) / target
    cost = dev * dev
    if length < min_s:
        cost += _SHORT * (1 + (min_s - length) / min_s)
    if excess > 1e-9:  # over max_s beyond what its longest sentence forces
        cost += _LONG * (1 + excess / max_s)
    return cost


# -- the subject ---------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)?")
_PUNCTUATION = re.compile(r"[.,;:!?()\[\]\"“”…—–/]+")
_ADVERB_ENDINGS = ("ally", "ously", "ively", "ently", "antly", "fully", "lessly", "ately", "ingly", "edly")


def _tokens(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text or "")]


def _breaks(word: str) -> bool:
    """Whether ``word`` can be no part of a filmable phrase."""
    if word[0].isdigit() or "'" in word or len(word) < 3:
        return True
    if word in _KEEP:
        return False
    one = singular(word)
    return (word in FUNCTION or word in VERBS or word in ABSTRACT or one in ABSTRACT or one in NUMBERS
            or (word.endswith("ly") and len(word) > 5) or (word.endswith("ing") and len(word) > 5)
            or (word.endswith("ed") and len(word) > 4))


def _content_runs(text: str, extra: frozenset[str] = frozenset()) -> list[list[str]]:
    """Runs of consecutive content words, singular: "open screw-top jars" -> [["screw", "top", "jar"]].

    Punctuation, function words, verbs (listed, or after "to", a modal or a pronoun), abstract
    words, numbers, adverbs, "-ing" forms and past tenses break a run.
    """
    runs, run, previous = [], [], ""
    for word in _tokens(_PUNCTUATION.sub(" | ", text.replace("-", " ")).replace("|", "0")):  # 0: a break
        if _breaks(word) or word in extra or (previous in _BEFORE_VERB and word not in _KEEP):
            if run:
                runs.append(run)
            run = []
        else:
            run.append(singular(word))
        previous = word
    return runs + ([run] if run else [])


def subject_of(topic: str, script_title: str = "", tags: list[str] | None = None) -> str:
    """The video's main subject in one or two lower-case words ("Why octopuses are so smart" -> "octopus").

    Each run of content words in the topic (the title's when the topic has none) offers its head,
    the last word in English noun phrases, kept with the word before it when that is a modifier
    ("black hole", "roman empire") or a tag says the pair ("octopus arm"). The tags and the title
    vote between the runs (a tag that is just the topic says nothing: the local writer adds it);
    ties go to the earliest run. Words are singular. Empty when the topic names nothing.
    """
    folded = " ".join(_tokens(topic))
    tags = [t for t in (tags or []) if t and " ".join(_tokens(t)) != folded]
    runs = _content_runs(topic, _LEADING) or _content_runs(script_title, _LEADING) \
        or next((r for r in (_content_runs(t, _LEADING) for t in tags) if r), [])
    if not runs:  # the topic is all verbs and framing ("Why do we dream"): its last real word
        words = [w for w in _tokens(topic or script_title) if w not in FUNCTION and not w[0].isdigit()]
        return singular(words[-1]) if words else ""
    voters = [" ".join(w for r in _content_runs(t) for w in r) for t in [*tags, script_title] if t]

    def said(phrase: str, among: list[str]) -> int:
        return sum(1 for v in among if re.search(rf"(?:^| ){re.escape(phrase)}(?: |$)", v))

    best, best_votes = "", -1
    for run in runs:
        phrase = run[-1]
        if len(run) > 1:
            pair = f"{run[-2]} {run[-1]}"
            if run[-2] in _MODIFIERS or said(pair, voters[:len(tags)]) or len(runs) == 1 and len(run) == 2:
                phrase = pair
        votes = said(phrase, voters) + sum(said(w, voters) for w in phrase.split()) / 4
        if votes > best_votes:  # strict: the earliest run wins a tie
            best, best_votes = phrase, votes
    return best


_LEADING = frozenset({"top", "best", "worst", "fact", "facts", "thing", "things", "secret", "secrets", "truth", "history",
                      "science", "story", "explained", "guide", "introduction", "way", "ways", "reason", "reasons",
                      "shorts", "everything", "need", "know"})
_MODIFIERS = frozenset({
    "black", "white", "red", "blue", "green", "yellow", "orange", "purple", "dark", "deep", "giant", "tiny", "little",
    "big", "small", "ancient", "old", "young", "wild", "great", "sea", "solar", "northern", "southern", "roman",
    "greek", "egyptian", "human", "electric", "artificial", "golden", "polar", "tropical", "space", "north", "south",
    "east", "west", "killer", "blood", "honey", "stone", "iron", "ice", "rain", "fire", "coral", "brown", "grey",
    "gray", "pink", "silver", "wooly", "woolly", "saber", "bald", "snow", "mountain", "desert", "ocean", "river"})


# -- the queries ---------------------------------------------------------------------------------

class KeywordExtractor(Protocol):
    """Ranks the filmable words of each text, best first."""

    def keywords(self, texts: list[str], top_n: int = 5) -> list[list[str]]: ...


def candidates(text: str) -> list[str]:
    """The concrete words and adjacent pairs of ``text`` a query may use, in reading order.

    Function words, common verbs, abstract words ("idea", "question", "evidence"), numbers,
    adverbs and past tenses break the text into runs; each word of a run and each adjacent pair
    is a candidate, singular ("screw-top jars" -> "screw", "screw top", "top", "top jar", "jar").
    """
    out: list[str] = []
    for words in _content_runs(text):
        for k, word in enumerate(words):
            if word not in out:
                out.append(word)
            if k + 1 < len(words) and f"{word} {words[k + 1]}" not in out:
                out.append(f"{word} {words[k + 1]}")
    return out


class MiniLMKeywords:
    """KeyBERT's method on the process's MiniLM model: each candidate (see :func:`candidates`)
    scored by the cosine between its embedding and the text's, best first.

    Two adjustments, measured on narration: a pair must beat a single word by ``PAIR_MARGIN``
    (otherwise "top jar" beats "jar"), and a candidate under ``FLOOR`` is no keyword at all (what
    is left of a framing sentence: "pay", "far"). Every distinct text and candidate is embedded
    once, in one ``encode`` call, so a 10-minute script costs one batched pass. ``embedder`` is
    anything with ``encode(list[str]) -> unit vectors`` (``pipeline.trends.topics.Embedder``).
    """

    FLOOR = 0.25
    PAIR_MARGIN = 0.04

    def __init__(self, embedder):
        self.embedder = embedder

    def keywords(self, texts: list[str], top_n: int = 5) -> list[list[str]]:
        per_text = [candidates(t) for t in texts]
        wanted = sorted({t for t, cs in zip(texts, per_text) if cs} | {c for cs in per_text for c in cs})
        if not wanted:
            return [[] for _ in texts]
        vectors = dict(zip(wanted, np.asarray(self.embedder.encode(wanted), dtype=np.float32)))
        out = []
        for text, cs in zip(texts, per_text):
            scored = [(float(vectors[c] @ vectors[text]) - (self.PAIR_MARGIN if " " in c else 0.0), k, c)
                      for k, c in enumerate(cs)] if cs else []
            # Rounded, so a last-bit difference between CPU and GPU kernels cannot reorder a tie.
            scored.sort(key=lambda x: (-round(x[0], 4), x[1]))
            out.append([c for score, _, c in scored if score >= self.FLOOR][:top_n])
        return out


class PlainKeywords:
    """The extractor without a model: the candidates from the end of each sentence first (English
    puts the head noun last: "open screw-top jars" -> "jar"), for when MiniLM cannot load."""

    def keywords(self, texts: list[str], top_n: int = 5) -> list[list[str]]:
        return [[c for c in reversed(candidates(t)) if " " not in c][:top_n] for t in texts]


def clean_query(text: str, max_words: int = 3) -> str:
    """A query reduced to at most ``max_words`` lower-case words (punctuation and numbers dropped)."""
    words = [w for w in _tokens(text) if not w[0].isdigit() and "'" not in w]
    return " ".join(words[:max_words])


def visual_queries(scenes: list[Scene], subject: str, given: dict[int, str] | None = None,
                   extractor: KeywordExtractor | None = None,
                   headings: dict[str, str] | None = None) -> list[Scene]:
    """The scenes with ``query`` set: 1-3 concrete English words each, the subject kept in view.

    A query the writer gave for a scene index (``given``) is used as it is, cleaned to three words.
    Otherwise the best keyword of the scene's text joins the subject ("octopus" + "jar"), or stands
    alone when it already holds the subject ("octopus arm"). A scene with nothing filmable takes
    the subject plus the first keyword of its block's heading (``headings``: block key -> heading),
    else of the nearest scene that has one (earlier first), else the subject alone. ``extractor``
    defaults to :class:`PlainKeywords`; pass ``MiniLMKeywords(embedder)`` for better keywords.
    """
    given = given or {}
    extractor = extractor or PlainKeywords()
    subject = clean_query(subject, 2)
    subject_words = set(subject.split())
    texts = [s.text for s in scenes]
    blocks = sorted({s.block for s in scenes})
    heading_texts = [(headings or {}).get(b, "") for b in blocks]
    ranked = extractor.keywords(texts + heading_texts)
    own = [_visual(words, subject_words) for words in ranked[:len(scenes)]]
    heading_kw = {b: _visual(words, subject_words) for b, words in zip(blocks, ranked[len(scenes):])}

    out = []
    for i, scene in enumerate(scenes):
        query = clean_query(given.get(scene.index, ""))
        if not query:
            keyword = own[i] or heading_kw.get(scene.block) or _nearest(own, i)
            query = _join(subject, keyword)
        out.append(replace(scene, query=query))
    return out


def _visual(words: list[str], subject_words: set[str]) -> str:
    """The best keyword that adds something beyond the subject (a pair holding it counts: "octopus arm")."""
    for word in words:
        if set(word.split()) - subject_words:
            return word
    return ""


def _nearest(own: list[str], i: int) -> str:
    for step in range(1, len(own)):
        for j in (i - step, i + step):
            if 0 <= j < len(own) and own[j]:
                return own[j]
    return ""


def _join(subject: str, keyword: str) -> str:
    """Subject plus keyword in at most three words, the keyword's head (its last word) kept first when
    cutting; a keyword already holding the subject is not given it twice ("mimic octopus")."""
    if not keyword:
        return subject
    kw = keyword.split()
    prefix = [w for w in subject.split() if w not in kw]
    room = 3 - len(prefix)
    return " ".join(prefix + kw[-room:]) if room > 0 else subject


# -- words ---------------------------------------------------------------------------------------
# Small closed lists, chosen for narration: what a stock search cannot show. A word missing here
# costs a weaker query, never an error; the lists are sets, so checks stay O(1).

FUNCTION = frozenset("""
a an the and or but if nor so yet of to in on at for with from by about into onto over under after before
between through during without within along across behind beyond around among against toward towards upon
off out up down inside outside near than then there here where when why how what which who whom whose whoever
this that these those it its itself they them their theirs themselves we us our ours ourselves you your yours
yourself yourselves he him his himself she her hers herself i me my mine myself one ones each every either
neither both all any some no not none nothing something anything everything someone anyone everyone nobody
somebody anybody everybody is are was were be been being am do does did done doing have has had having will
would shall should can could may might must ought also too very just only even still already almost quite
rather really again ever never always often sometimes usually perhaps maybe once twice how however although
though because since unless until while whether as like such own same other another more most less least
many much few several enough lot lots plenty per via etc yes okay oh well now today tonight tomorrow yesterday
soon later ago away back forward instead else indeed thus hence therefore otherwise anyway let's
""".split())

VERBS = frozenset("""
say says said saying tell tells told telling ask asks asked asking answer answers answered think thinks thought
thinking know knows knew known knowing see sees saw seen seeing look looks looked looking watch watches watching
make makes made making take takes took taken taking get gets got gotten getting go goes went gone going come
comes came coming give gives gave given giving keep keeps kept keeping let lets put puts putting seem seems
seemed become becomes became becoming learn learns learned learnt learning show shows showed shown showing
mean means meant try tries tried trying want wants wanted need needs needed use uses used using find finds found
finding call calls called start starts started begin begins began begun end ends ended turn turns turned help
helps helped happen happens happened change changes changed live lives lived solve solves solved sit sits sat
form forms formed fall falls fell fallen hold holds held check checks checked compare compares share shares
notice notices noticed decide decides decided deciding explain explains explained claim claims claimed pause
pauses spend spends spent train trains trained defend defends pick picks picked reach reaches reached examine
examined choose chooses chose chosen describe describes described agree agrees disagree disagrees matter matters
believe believes believed remember remembers consider considers considered understand understands understood
wonder wonders wondered imagine imagines include includes included allow allows allowed lead leads led bring
brings brought run runs ran stay stays stayed set sets follow follows followed read reads write writes wrote
written speak speaks spoke talk talks talked feel feels felt leave leaves left continue continues remain remains
appear appears appeared suggest suggests suggested prove proves proved depend depends exist exists existed reveal
reveals revealed test tests tested produce produces produced create creates created build builds built cover
covers tend tends manage manages care cares gain gains copy copies miss missing work works worked working move
moves moved play plays played stop stops stopped hear hears heard put add adds added count counts focus grow
grows grew grown open opens opened close closes closed sound sounds seemed worth subscribe subscribed share
comment comments like likes liked love loves loved hope hopes hoped expect expects expected wait waits waited
happen sure rely relies involve involves involved require requires required earn earns earned spot spots
carry carries carried pile piles raise raises imitate imitates recognise recognises recognize recognizes
escape escapes squirt squirts taste tastes touch touches match matches argue argues define defines save
saves pay pays trust trusts guess guesses measure measures reach guard guards weigh weighs stack stacks
filmed film films stop eat eats eating mate mates hunt hunts hide hides swim swims climb climbs fly flies
""".split())

ABSTRACT = frozenset("""
idea ideas question questions answer answers evidence story stories source sources claim claims assumption
assumptions habit habits number numbers topic topics part parts piece pieces fact facts way ways thing things
reason reasons moment moments time times mind minds observation observations kind kinds sort sorts type types
disagreement problem problems truth sense bit bits end beginning point points case cases example examples word
words sentence detail details difference differences issue issues opinion opinions view views belief beliefs
knowledge information data research study studies theory theories concept concepts notion meaning purpose
result results effect effects cause causes chance chances risk risks rule rules step steps level levels degree
amount rate side sides aspect aspects ability abilities skill skills intelligence learning experience attention
interest value quality everything people person viewer viewers video videos channel comment subscription
episode series list lesson lessons minute minutes second seconds hour hours day days year years week weeks
today future past present start while whole rest half percent million billion thousand hundred dozen first
second third last next final new old good bad better best worse worst great small large big huge tiny high
low long short true false real possible impossible likely unlikely clear simple easy hard difficult different
similar certain sure able useful interesting surprising amazing incredible strange weird careful confident
precise sharp sharper loose ready main key major minor common rare special general specific actual entire
smart clever intelligent important obvious hidden secret famous popular powerful strong weak fast slow quick
curious complex complicated basic natural normal strange unusual unique single double own free worth kind
right wrong yes way rest lot plenty matter habit reasoning thinking understanding explanation explanations
argument arguments approach method methods process system systems factor factors feature features role
impact influence power energy force need needs goal goals plan plans hope wonder surprise mystery secret
secrets history science nature behaviour behavior behaviours behaviors memory memories confusion
danger trust deal guess term terms apart far further easier harder faster bigger smaller larger longer higher
lower closer deeper stronger weaker newer older lots anything forever others thanks welcome central individual
mastery genius mistake mistakes success failure progress trick tricks
""".split()) - {"nature"}  # nature is filmable, and a fine query on its own

NUMBERS = frozenset("""
zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million billion trillion
first second third fourth fifth sixth seventh eighth ninth tenth half quarter dozen
""".split())

# A word after these is a verb far more often than a thing ("they escape", "can taste").
_BEFORE_VERB = frozenset("""
to can could will would shall should may might must cannot they we you i he she it who not also often never
always still only just don't doesn't didn't won't can't they'll we'll you'll let's usually sometimes
""".split())

# Nouns the suffix rules above would drop (they end like adverbs, gerunds or past tenses).
_KEEP = frozenset("""
butterfly dragonfly firefly housefly family assembly italy jelly belly rally holly lily bully gully
building painting ceiling morning evening spring string clothing wedding lightning sibling pudding bedding icing
landing ring wing king swing sting seedling duckling earring offspring railing herring viking ping
bed shed seed sled speed steed reed weed bread feed creed breed tweed
""".split())

_SINGULAR = {"children": "child", "mice": "mouse", "teeth": "tooth", "feet": "foot", "men": "man", "women": "woman",
             "geese": "goose", "leaves": "leaf", "wolves": "wolf", "knives": "knife", "lives": "life",
             "halves": "half", "shelves": "shelf", "octopi": "octopus", "fungi": "fungus", "cacti": "cactus",
             "species": "species", "series": "series", "news": "news", "lens": "lens", "atlas": "atlas",
             "canvas": "canvas", "chaos": "chaos", "bias": "bias", "shoes": "shoe", "toes": "toe",
             "canoes": "canoe", "movies": "movie", "cookies": "cookie", "zombies": "zombie", "pies": "pie",
             "ties": "tie", "calories": "calorie", "selfies": "selfie", "smoothies": "smoothie",
             "prairies": "prairie", "buses": "bus", "gases": "gas", "data": "data", "dice": "die",
             "oxen": "ox", "people": "person", "thesis": "thesis", "jeans": "jeans", "scissors": "scissors"}


def singular(word: str) -> str:
    """An English plural's singular by suffix rules and a few exceptions ("octopuses" -> "octopus")."""
    w = word.lower()
    if w in _SINGULAR:
        return _SINGULAR[w]
    if len(w) <= 3 or w.endswith(("ss", "us", "is", "ics", "ous", "ws")):
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "ches", "shes", "xes", "zes", "oes", "uses")):
        return w[:-2]
    if w.endswith("s") and not w.endswith("'s"):
        return w[:-1]
    return w

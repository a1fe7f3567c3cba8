"""Choosing a visual for every scene: walk the visuals chain, rank what each source offers, fetch the best.

The chain (e.g. ``library > pexels > pixabay > slides``) is tried in order: each source's candidates for
every scene still without a visual are ranked (:func:`pipeline.ranking.rank`: MiniLM relevance to the
narration and the subject, plus fit), then matched to the scenes all at once (:func:`assign`: the
assignment with the best total score, only pairs at or above the threshold); the scenes left over try the
next source, and slides, the last resort, always fit. A source that fails for good (a rejected
key) or keeps failing (rate limits) is dropped for the rest of the video, with the reason recorded. Paid
sources (generated images) go through the budget guard like every paid call. No clip is used twice in a
video, nor in the channel's recent videos (the ``used`` set).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from pipeline.budget import BudgetGuard, Fallback
from pipeline.costs import PriceError, Usage
from pipeline.media.ffmpeg import Cancelled
from pipeline.providers.base import Candidate, ProviderError, Scene, TransientError

log = logging.getLogger("ytempire.visuals")
KEEP_ALTERNATIVES = 6  # ranked candidates kept per scene, for the Library to swap to
SEARCH_LIMIT = 40  # candidates asked of a source per query: deep enough that the repetition guard leaves plenty
FETCH_TRIES = 3  # good candidates tried per scene and source, and failed fetches before a source is dropped


@dataclass
class Choice:
    """What a scene shows: the chosen visual, where it came from, and how well it matched."""

    scene: Scene
    provider: str
    kind: str  # video, image or slide
    path: Path
    source_id: str | None = None
    source_url: str | None = None
    score: float | None = None
    licence: str = ""
    author: str | None = None
    author_url: str | None = None
    attribution_required: bool = False
    alternatives: list[dict] = field(default_factory=list)

    def row(self) -> dict:
        """The job_scenes row (and the scenes.json entry)."""
        s = self.scene
        return {"idx": s.index, "start_s": round(s.start, 3), "end_s": round(s.end, 3), "block": s.block,
                "narration": s.text, "query": s.query, "provider": self.provider, "source_id": self.source_id,
                "kind": self.kind, "path": str(self.path), "source_url": self.source_url,
                "score": None if self.score is None else round(self.score, 4), "licence": self.licence,
                "author": self.author, "author_url": self.author_url,
                "attribution_required": self.attribution_required, "candidates": self.alternatives}


def assign(scenes: list[Scene], ranked: dict[int, list[tuple[Candidate, float]]],
           threshold: float) -> dict[int, list[tuple[Candidate, float]]]:
    """For each scene, the candidates to try in order: first the one the best overall assignment gives
    it (maximum total score, every candidate to one scene, only pairs at or above ``threshold``), then
    its other good candidates that no other scene was given, best first."""
    from scipy.optimize import linear_sum_assignment

    keys: dict[tuple[str, str], int] = {}
    for scene in scenes:
        for c, score in ranked.get(scene.index, []):
            if score >= threshold:
                keys.setdefault((c.provider, c.source_id), len(keys))
    plan: dict[int, list[tuple[Candidate, float]]] = {}
    if not keys:
        return plan
    weights = np.zeros((len(scenes), len(keys)))
    real = np.zeros((len(scenes), len(keys)), dtype=bool)  # a pair the ranking offered (a threshold of 0 counts)
    for i, scene in enumerate(scenes):
        for c, score in ranked.get(scene.index, []):
            k = keys.get((c.provider, c.source_id))
            if k is not None and score >= threshold:
                weights[i, k] = max(weights[i, k], score)
                real[i, k] = True
    rows, cols = linear_sum_assignment(weights, maximize=True)
    given = {int(i): int(k) for i, k in zip(rows, cols) if real[i, k]}
    taken = set(given.values())
    for i, scene in enumerate(scenes):
        good = [(c, s) for c, s in ranked.get(scene.index, []) if s >= threshold]
        first = [(c, s) for c, s in good if keys[(c.provider, c.source_id)] == given[i]][:1] if i in given else []
        rest = [(c, s) for c, s in good if keys[(c.provider, c.source_id)] not in taken]
        if first or rest:
            plan[scene.index] = first + rest
    return plan


def candidate_dict(candidate: Candidate, score: float) -> dict:
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(candidate).items()}
    data["score"] = round(score, 4)
    return data


def candidate_from(data: dict) -> Candidate:
    fields = {k: v for k, v in data.items() if k in Candidate.__dataclass_fields__}
    if fields.get("local_path"):
        fields["local_path"] = Path(fields["local_path"])
    return Candidate(**fields)


@dataclass
class Picker:
    """Everything choosing needs, for one video."""

    chain: list[tuple[str, object]]  # (name, source) in order; "slides" is handled here
    slides: dict[str, Path]  # block key -> its slide image
    size: tuple[int, int]
    subject: str
    rank: Callable[..., list[tuple[Candidate, float]]]
    cache: object
    threshold: float
    used: set[tuple[str, str]]
    guard: BudgetGuard | None = None
    stage: str = "visuals"
    fallbacks: list[Fallback] = field(default_factory=list)
    usage: list[Usage] = field(default_factory=list)  # free usage not ledgered by a guard (no guard given)
    _dead: dict[str, str] = field(default_factory=dict)  # source -> why it is out for this video
    _fails: dict[str, int] = field(default_factory=dict)  # fetches failed in a row, per source
    _searches: dict[tuple[str, str], list[Candidate]] = field(default_factory=dict)
    cancelled: Callable[[], bool] | None = None  # checked before every search and fetch
    _variants: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)  # generated: scene -> variant

    def choose_all(self, scenes: list[Scene], progress: Callable[[float], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> list[Choice]:
        """A visual for every scene, the chain walked source by source for the scenes still without one.

        Within a source the scenes are matched to its candidates all at once (the assignment with the
        highest total score, each candidate to one scene at most), not first come, first served: a clip
        of an octopus opening a jar goes to the scene about jars even when an earlier scene about arms
        would also take it. A scene whose assigned file cannot be fetched tries its next good ones.
        """
        self.cancelled = cancelled
        choices: dict[int, Choice] = {}
        pooled: dict[int, list[tuple[Candidate, float]]] = {s.index: [] for s in scenes}
        pending = list(scenes)
        steps, done = max(1, len(scenes) * max(1, len(self.chain) - 1)), 0
        for name, source in self.chain:
            if not pending or name == "slides":
                break
            if name in self._dead:
                continue
            ranked: dict[int, list[tuple[Candidate, float]]] = {}
            for scene in pending:
                if cancelled is not None and cancelled():
                    raise Cancelled("cancelled while choosing visuals")
                try:
                    ranked[scene.index] = self._ranked(name, source, scene)
                except (TransientError, ProviderError) as exc:
                    self._drop(name, f"{exc}")
                    break
                pooled[scene.index].extend(ranked[scene.index])
                done += 1
                if progress is not None:
                    progress(min(done / steps, 1.0))
            if name in self._dead:
                continue
            plan = assign(pending, ranked, self.threshold)
            still = []
            for n, scene in enumerate(pending):
                if progress is not None:
                    progress(min((done + n / 2) / steps, 1.0))
                choice = None if name in self._dead else self._take(name, source, scene, plan.get(scene.index, []),
                                                                     pooled[scene.index])
                if choice is None:
                    if name not in self._dead:
                        best = ranked.get(scene.index) or []
                        self._note(scene, name, "no result" if not best else
                                   f"best match {best[0][1]:.2f} < {self.threshold:.2f} or taken by a better scene")
                    still.append(scene)
                else:
                    choices[scene.index] = choice
            pending = still
        for scene in pending:
            choices[scene.index] = self._slide(scene, pooled[scene.index])
        if progress is not None:
            progress(1.0)
        return [choices[s.index] for s in scenes]

    def _take(self, name: str, source, scene: Scene, options: list[tuple[Candidate, float]],
              pooled: list[tuple[Candidate, float]]) -> Choice | None:
        """Fetch the scene's assigned candidate, or its next good ones when a file is gone or too large."""
        tries = 0
        for best in options:
            if self.cancelled is not None and self.cancelled():
                raise Cancelled("cancelled while choosing visuals")
            if (best[0].provider, best[0].source_id) in self.used:  # taken meanwhile by another scene's retry
                continue
            if tries == FETCH_TRIES:
                break
            tries += 1
            try:
                path = self._fetch(name, source, best[0])
            except (TransientError, ProviderError) as exc:
                self._failed(name, exc)
                if name in self._dead:
                    return None
                continue
            if path is None:  # the budget said no
                return None
            self._fails.pop(name, None)
            return self._chosen(scene, best, path, pooled)
        return None

    # -- steps -----------------------------------------------------------------------------------
    def _ranked(self, name: str, source, scene: Scene) -> list[tuple[Candidate, float]]:
        key = (name, scene.query)
        if key not in self._searches:  # scenes often share a query: one search serves them all
            found, usage = source.search(scene.query, self.size, SEARCH_LIMIT)
            self._ledger(usage)
            self._searches[key] = found
        if getattr(source, "generative", False):
            fresh = [self._variant(c, scene) for c in self._searches[key]]
        else:
            fresh = [c for c in self._searches[key] if (c.provider, c.source_id) not in self.used]
        return self.rank(scene, self.subject, fresh, self.size, self.used)

    def _variant(self, candidate: Candidate, scene: Scene) -> Candidate:
        """A generated picture of its own for this scene: scenes with the same prompt get variants 0, 1, 2...
        of it, each a separate image, skipping those the channel's recent videos used. The same scene of the
        same job gets the same variant again (a resumed job finds its picture in the cache and pays nothing)."""
        taken = self._variants.setdefault((candidate.provider, candidate.source_id), {})
        if scene.index not in taken:
            k = 0
            while (candidate.provider, f"{candidate.source_id}~{k}") in self.used or k in taken.values():
                k += 1
            taken[scene.index] = k
        return replace(candidate, source_id=f"{candidate.source_id}~{taken[scene.index]}")

    def _fetch(self, name: str, source, candidate: Candidate) -> Path | None:
        estimate = getattr(source, "estimate", None)
        hold = None
        made = self.cache is not None and self.cache.get(candidate.provider, candidate.source_id) is not None
        if self.guard is not None and estimate is not None and not made:  # a picture made before costs nothing
            wanted = estimate(1, self.size)
            try:
                hold, refusal = self.guard.reserve(self.stage, wanted)
            except PriceError as exc:
                self._drop(name, f"unpriced: {exc}")
                return None
            if refusal:
                self._drop(name, f"budget: {refusal}")
                return None
        try:
            path, usage = source.fetch(candidate, self.cache)
        except BaseException as exc:
            self._settle(hold, list(getattr(exc, "usage", None) or []))
            raise
        self._settle(hold, usage)
        return Path(path)

    def _chosen(self, scene: Scene, best: tuple[Candidate, float], path: Path,
                pooled: list[tuple[Candidate, float]]) -> Choice:
        c, score = best
        self.used.add((c.provider, c.source_id))
        return Choice(scene, c.provider, c.kind, path, c.source_id, c.page_url or c.url, score, c.licence, c.author,
                      c.author_url, c.attribution_required, self._alternatives(pooled))

    def _slide(self, scene: Scene, pooled: list[tuple[Candidate, float]]) -> Choice:
        path = self.slides.get(scene.block) or next(iter(self.slides.values()))
        return Choice(scene, "slides", "slide", path, f"slide:{scene.block}", licence="own",
                      alternatives=self._alternatives(pooled))

    def _alternatives(self, pooled: list[tuple[Candidate, float]]) -> list[dict]:
        best = sorted(pooled, key=lambda cs: -cs[1])[:KEEP_ALTERNATIVES]
        return [candidate_dict(c, s) for c, s in best]

    # -- bookkeeping -----------------------------------------------------------------------------
    def _ledger(self, usage: list[Usage]) -> None:
        if not usage:
            return
        if self.guard is not None:
            self.guard.settle(None, self.stage, usage)
        else:
            self.usage.extend(usage)

    def _settle(self, hold: str | None, usage: list[Usage]) -> None:
        if self.guard is not None:
            self.guard.settle(hold, self.stage, usage)
        else:
            self.usage.extend(usage)

    def _drop(self, name: str, why: str) -> None:
        """A source out for the rest of this video (a rejected key, rate limits that persist, the budget)."""
        if name not in self._dead:
            self._dead[name] = why
            nxt = next((n for n, _ in self.chain if n != name and n not in self._dead), None)
            self.fallbacks.append(Fallback(self.stage, name, nxt, why[:500]))
            log.warning("visuals: %s is out for this video: %s", name, why)

    def _failed(self, name: str, exc: Exception) -> None:
        """One fetch failed (a file gone, too large, a timeout); a source failing again and again is dropped."""
        self._fails[name] = self._fails.get(name, 0) + 1
        log.info("visuals: %s could not fetch a candidate: %s", name, exc)
        if getattr(exc, "usage", None):  # it cost money and gave nothing: no second try at this video's expense
            self._drop(name, f"a billed fetch failed: {exc}")
        elif self._fails[name] >= FETCH_TRIES:
            self._drop(name, f"{FETCH_TRIES} fetches in a row failed; the last: {exc}")

    def _note(self, scene: Scene, name: str, why: str) -> None:
        log.debug("scene %s (%r): %s: %s", scene.index, scene.query, name, why)

"""The scene stages: split the narration into scenes with visual queries, then choose each scene's visual.

``scenes`` (after the voice, from its timings): one to a few whole sentences per scene, 2-8 s, each
with a query of 1-3 filmable words that keeps the video's subject in view (the writer's own, when an
LLM gave them; else extracted from the text). ``visuals``: for every scene, the visuals chain is
walked (``pipeline.visuals.Picker``) and the chosen visual's file, source, score, licence and author
are recorded in ``scenes.json`` and ``job_scenes``; a still of each is kept for the Library. Slides are
drawn for every block, as the last resort of every scene.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict
from pathlib import Path

from pipeline.costs import Usage
from pipeline.media.cache import MediaCache
from pipeline.providers import chain_items, make, parse_item
from pipeline.providers.base import Scene
from pipeline.stage_types import StageContext, StageOutput, _chain
from pipeline.visuals import Picker

log = logging.getLogger("ytempire.scenes")
STILL_WIDTH = 480  # the Library's scene thumbnails


def _embedder(ctx: StageContext):
    if ctx.embedder is None:
        return None
    try:
        return ctx.embedder()
    except Exception as exc:  # noqa: BLE001 - the model missing or broken: slides still work
        log.warning("the embedding model is unavailable (%s): scenes fall back to slides", exc)
        return None


def given_queries(script, scenes: list[Scene], cues) -> dict[int, str]:
    """Queries an LLM writer gave per sentence (``Section.visuals``), mapped to the scene holding the sentence.

    A cue is matched to its section's sentence by position (the voice speaks them in order), checked
    by its text; a cue that does not line up is looked up by its text within its section."""
    per_cue: dict[int, str] = {}
    seen: dict[str, int] = {}
    for n, cue in enumerate(cues):
        k = seen.get(cue.block, 0)
        seen[cue.block] = k + 1
        if not cue.block.startswith("section-"):
            continue
        i = int(cue.block.split("-")[1]) - 1
        if not 0 <= i < len(script.sections):
            continue
        section = script.sections[i]
        text = cue.text.strip()
        if k < len(section.visuals) and k < len(section.sentences) and section.sentences[k].strip() == text:
            query = section.visuals[k].strip()
        else:
            query = section.visual_for().get(text, "")
        if query:
            per_cue[n] = query
    given = {}
    for scene in scenes:
        for n, cue in enumerate(cues):
            if scene.start <= cue.start < scene.end and n in per_cue:
                given[scene.index] = per_cue[n]
                break
    return given


def plan(ctx: StageContext) -> StageOutput:
    """The ``scenes`` stage."""
    from pipeline.scenes import MiniLMKeywords, PlainKeywords, plan_scenes, subject_of, visual_queries

    started = time.perf_counter()
    cues, duration = ctx.cues()
    script = ctx.script()
    s = ctx.settings
    scenes = plan_scenes(cues, duration, s.scene_min_s, s.scene_max_s)
    subject = subject_of(ctx.job["topic"], script.title, script.tags)
    chain, _ = _sources(ctx)
    # The model is loaded only when some source will be searched: the offline default (slides) needs none.
    embedder = _embedder(ctx) if any(name != "slides" for name, _ in chain) else None
    extractor = MiniLMKeywords(embedder) if embedder is not None else PlainKeywords()
    headings = {b.key: b.heading for b in script.blocks()}
    scenes = visual_queries(scenes, subject, given_queries(script, scenes, cues), extractor, headings)
    path = ctx.job_dir / "scene_plan.json"
    path.write_text(json.dumps({"subject": subject, "scenes": [asdict(x) for x in scenes]}, indent=1,
                               ensure_ascii=False), encoding="utf-8")
    usage = [Usage("scenes", "plan-v1", "scenes", float(len(scenes)), time.perf_counter() - started)]
    return StageOutput({"scene_plan": path}, usage, "scenes")


def _load_plan(ctx: StageContext) -> tuple[str, list[Scene]]:
    if "scene_plan" not in ctx.artifacts:  # a job queued before scenes existed: plan now
        ctx.artifacts["scene_plan"] = plan(ctx).artifacts["scene_plan"]
    data = json.loads(Path(ctx.artifacts["scene_plan"]).read_text(encoding="utf-8"))
    return data["subject"], [Scene(**x) for x in data["scenes"]]


def _sources(ctx: StageContext) -> tuple[list[tuple[str, object]], list]:
    """The chain's usable sources, in order, and a fallback for each that cannot run (checked without
    loading the embedding model; :func:`choose` hands it to the library source once it is needed)."""
    from pipeline.access.scope import ScopedDb
    from pipeline.budget import Fallback
    from pipeline.media.library import LibrarySource

    items = chain_items(_chain("visuals")(ctx.brief, ctx.channel, ctx.settings))
    explicit = bool(ctx.brief.get("visuals") or ctx.channel.get("visuals"))
    if "slides" not in [parse_item("visuals", i)[0] for i in items]:
        items = [*items, "slides"]  # the last resort is always there
    chain, notes = [], []
    for i, item in enumerate(items):
        family = parse_item("visuals", item)[0]
        if family == "slides":
            chain.append(("slides", None))
            continue
        if family == "library":
            # Only the job's own workspace's folders: another customer's pictures never appear in this video.
            source = LibrarySource(ScopedDb(ctx.db, frozenset({ctx.channel.get("workspace_id") or 1})), True) \
                if ctx.db is not None else None
            why = source.check(ctx.settings) if source is not None else "no database to search"
        else:
            source = make("visuals", item, ctx.settings)
            why = source.check(ctx.settings) if hasattr(source, "check") else None
        if why:
            if explicit:  # the default chain names every source; one not set up is not news on every video
                nxt = items[i + 1] if i + 1 < len(items) else None
                notes.append(Fallback("visuals", item, nxt, f"unavailable: {why}"))
            continue
        chain.append((family, source))
    return chain, notes


# What this process's visuals stages picked, per channel and job, until the worker has recorded it in
# job_scenes (where recent_sources finds it): a second video of the channel choosing at the same time
# sees the first's picks. Only the channel's last ``repeat_window`` jobs are kept.
_CLAIMS: dict[tuple[str, int], dict[int, set[tuple[str, str]]]] = {}  # (database, channel) -> job -> picks
_CLAIMS_LOCK = threading.Lock()
_CHANNEL_LOCKS: dict[tuple[str, int], threading.Lock] = {}


def _channel_lock(channel_id: tuple[str, int]) -> threading.Lock:
    with _CLAIMS_LOCK:
        return _CHANNEL_LOCKS.setdefault(channel_id, threading.Lock())


def _claimed(channel_id: tuple[str, int], job_id: int, window: int) -> set[tuple[str, str]]:
    with _CLAIMS_LOCK:
        jobs_ = _CLAIMS.get(channel_id, {})
        others = sorted(k for k in jobs_ if k != job_id)[-window:] if window else []
        return set().union(*(jobs_[k] for k in others))


def _claim(channel_id: tuple[str, int], job_id: int, picks: set[tuple[str, str]]) -> None:
    with _CLAIMS_LOCK:
        jobs_ = _CLAIMS.setdefault(channel_id, {})
        jobs_[job_id] = picks
        for old in sorted(jobs_)[:-MAX_CLAIMED_JOBS]:
            del jobs_[old]


MAX_CLAIMED_JOBS = 50  # per channel; recent_sources covers anything older once recorded


def _prune_cache(ctx: StageContext, mine: set[Path]) -> None:
    """Keep the media cache within ``media_cache_gb``: the least recently used files go, never one this job
    or another job not yet rendered shows."""
    limit = ctx.settings.media_cache_gb
    if limit <= 0:
        return
    keep = set(mine)
    if ctx.db is not None:
        keep |= {Path(p) for (p,) in ctx.db.query(
            "SELECT DISTINCT s.path FROM job_scenes s JOIN job_stages g ON g.job_id = s.job_id AND g.stage = 'render'"
            " WHERE g.status <> 'done'")}
    try:
        removed, freed = MediaCache(ctx.settings.media_dir).prune(int(limit * 2**30), keep)
    except OSError as exc:  # a full or read-only disk: the next render may fail, this stage has its files
        log.warning("media cache not pruned: %s", exc)
        return
    if removed:
        log.info("media cache: %d files (%.0f MB) least recently used removed to stay within %g GB",
                 removed, freed / 2**20, limit)


def _slides(ctx: StageContext) -> tuple[dict[str, Path], Path, list[Usage]]:
    visuals = make("visuals", "slides", ctx.settings)
    slides, usage = visuals.render(ctx.script(), ctx.brand, ctx.size, ctx.job_dir / "slides")
    index = ctx.job_dir / "slides.json"
    index.write_text(json.dumps([{"path": str(x.path), "block": x.block} for x in slides], indent=1), encoding="utf-8")
    return {x.block: x.path for x in slides}, index, usage


class _SceneProgress:
    """How far choosing has got, scene by scene: half a scene once it has been searched (at its first
    source), the other half once its visual is fetched; a scene left to its slide counts at the end."""

    def __init__(self, scenes: list[Scene], report):
        self.total, self.report = max(1, len(scenes)), report
        self._searched: set[int] = set()
        self._fetched = 0

    def searched(self, scene: Scene) -> None:
        self._searched.add(scene.index)
        self._show()

    def fetched(self) -> None:
        self._fetched += 1
        self._show()

    def _show(self) -> None:
        self.report((len(self._searched) + min(self._fetched, self.total)) / (2 * self.total))


class _Counted:
    """A scene source whose successful fetches are counted: each one is a scene's visual in hand (the
    picker takes the first file it gets for a scene)."""

    def __init__(self, source, fetched):
        self._source, self._fetched = source, fetched

    def __getattr__(self, name: str):
        return getattr(self._source, name)

    def fetch(self, candidate, cache):
        found = self._source.fetch(candidate, cache)
        self._fetched()
        return found


def choose(ctx: StageContext) -> StageOutput:
    """The ``visuals`` stage. Its progress: the slides drawn, then each scene searched and its visual
    fetched, then each scene's still for the Library."""
    from pipeline.progress import rising, share
    from pipeline.ranking import rank, recent_sources

    progress = rising(ctx.progress)
    subject, scenes = _load_plan(ctx)
    slides, slides_index, usage = _slides(ctx)
    chain, notes = _sources(ctx)
    embedder = _embedder(ctx) if any(name != "slides" for name, _ in chain) else None
    if embedder is None and any(name != "slides" for name, _ in chain):
        from pipeline.budget import Fallback
        notes += [Fallback("visuals", name, "slides", "unavailable: the embedding model is unavailable, so "
                                                      "candidates cannot be ranked") for name, _ in chain if name != "slides"]
        chain = [("slides", None)]
    for name, source in chain:
        if name == "library":
            source.embedder = embedder
    # Shares of the stage: searching and fetching dominate when a source is searched; else the slides.
    searching = any(name != "slides" for name, _ in chain)
    drawn, picked = (0.1, 0.85) if searching else (0.5, 0.5)
    progress(drawn)
    tally = _SceneProgress(scenes, share(progress, drawn, picked - drawn))
    chain = [(name, source if source is None else _Counted(source, tally.fetched)) for name, source in chain]

    def ranked(scene, subj, found, size, used_):
        out = rank(scene, subj, found, size, embedder, used_)
        tally.searched(scene)
        return out

    channel, window = (str(ctx.settings.db_path), ctx.job["channel_id"]), ctx.settings.repeat_window
    with _channel_lock(channel):  # two videos of one channel at once never pick the same clips
        used = recent_sources(ctx.db, ctx.job["channel_id"], window, exclude_job=ctx.job["id"]) \
            if ctx.db is not None else set()
        used |= _claimed(channel, ctx.job["id"], window)
        picker = Picker(chain, slides, ctx.size, subject, ranked,
                        MediaCache(ctx.settings.media_dir), ctx.settings.visual_threshold, set(used), ctx.guard)
        picker.fallbacks.extend(notes)
        choices = picker.choose_all(scenes, cancelled=ctx.cancel.is_set)
        _claim(channel, ctx.job["id"], {(c.provider, c.source_id) for c in choices if c.provider != "slides"})
    progress(picked)
    _prune_cache(ctx, {Path(c.path) for c in choices})
    rows = []
    stills = ctx.job_dir / "scenes"
    for n, choice in enumerate(choices, 1):
        row = choice.row()
        row["still"] = str(_still(choice.kind, choice.path, stills / f"{choice.scene.index:03d}.jpg"))
        rows.append(row)
        progress(picked + (1.0 - picked) * n / len(choices))
    path = ctx.job_dir / "scenes.json"
    path.write_text(json.dumps({"subject": subject, "scenes": rows}, indent=1, ensure_ascii=False), encoding="utf-8")
    providers = sorted({c.provider for c in choices})
    return StageOutput({"slides": slides_index, "scenes": path}, usage + picker.usage, " + ".join(providers),
                       fallbacks=picker.fallbacks, scenes=rows)


def _still(kind: str, source: Path, out: Path) -> Path:
    """A small JPEG of what a scene shows, inside the job's folder, for the Library."""
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "video":
            from pipeline.media.scene_render import extract_frame
            extract_frame(source, 0.5, out)
            image = Image.open(out)
        else:
            image = Image.open(source)
        from PIL import ImageOps
        image = ImageOps.exif_transpose(image).convert("RGB")  # a phone photo stands the way it was taken
        image.thumbnail((STILL_WIDTH, STILL_WIDTH))
        image.save(out, "JPEG", quality=80)
    except Exception as exc:  # noqa: BLE001 - a still is a convenience: never fail the stage for it
        log.warning("no still for %s: %s", source, exc)
        Image.new("RGB", (STILL_WIDTH, STILL_WIDTH * 9 // 16), (30, 40, 60)).save(out, "JPEG")
    return out

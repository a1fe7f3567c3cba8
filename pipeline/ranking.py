"""Ranking a scene's candidate visuals: relevance to what is said, fit to the video, no repeats.

    score = relevance × (0.5 + 0.5 × fit)

- **relevance** (0-1): the cosine between the MiniLM embeddings of the scene (its subject, query
  and narration) and the candidate's text (slug, alt text, tags, caption), clipped at 0. Unrelated
  texts land near 0 (city traffic for an octopus scene: about 0.0-0.2), matching ones above 0.5,
  so a threshold such as ``settings.visual_threshold`` (0.35) means something; the cosine's
  negative half carries no useful order here, hence the clip rather than (cos + 1) / 2. Measured on
  stock-style texts (alt texts, slugs, tag lists) for nine scenes: footage of the scene 0.41-0.88
  (median 0.64), the same world but not the scene (a squid for an octopus) 0.12-0.66 (median
  0.39), other subjects 0.00-0.24 (median 0.04).
- **fit** (0-1) = 0.5 × orientation + 0.25 × resolution + 0.25 × length:
  orientation 1 when it matches the video's (landscape, portrait), 0.5 for a square or unknown
  shape, 0 for the opposite one; resolution 1 when the candidate covers the frame without
  upscaling, else 1 / the upscale factor (720p in a 1080p video: 0.67); length 1 for images and
  for clips at least as long as the scene, else clip / scene (a clip would have to loop or slow).
  Unknown sizes and lengths count 0.5.

Fit only ever scales relevance down, by half at worst: an irrelevant clip that fits perfectly
still scores near 0, and a perfect fit scores its relevance, so the threshold reads the same.
The repetition guard is the ``used`` set of (provider, source_id); :func:`recent_sources` builds
it from the channel's last videos.
"""

from __future__ import annotations

import re

import numpy as np

from pipeline.db import Database
from pipeline.providers.base import Candidate, Scene

MAX_TEXT_CHARS = 500  # a stock API's tag soup says what it needs long before this
_URL = re.compile(r"https?://\S+")
_NOISE = re.compile(r"[-_+/|#]+")
_DIGITS = re.compile(r"\b\w*\d\w*\b")


def scene_text(scene: Scene, subject: str) -> str:
    """What a candidate is compared with: the subject and query first (the embedder reads only
    the first 64 tokens, and these say what must be seen), then the narration."""
    head = ": ".join(x for x in (subject.strip(), scene.query.strip()) if x)
    return f"{head}. {scene.text.strip()}" if head else scene.text.strip()


def candidate_text(candidate: Candidate) -> str:
    """The candidate's text made readable: URLs reduced to their last words ("/video/an-octopus-
    swimming-3046629/" -> "an octopus swimming"), separators to spaces, ids and numbers dropped."""
    def slug(match: re.Match) -> str:
        parts = [p for p in match[0].rstrip("/").split("/")[3:] if p]
        return parts[-1] if parts else ""

    text = _DIGITS.sub(" ", _NOISE.sub(" ", _URL.sub(slug, candidate.text or "")))
    parts = (" ".join(part.split()) for part in text.split(","))  # tag lists: drop the tags that were only ids
    return ", ".join(p for p in parts if p)[:MAX_TEXT_CHARS]


def relevance(scene_vector: np.ndarray, candidate_vector: np.ndarray) -> float:
    """The cosine of two unit vectors clipped to 0-1 (see the module's docstring)."""
    return float(min(1.0, max(0.0, float(np.dot(scene_vector, candidate_vector)))))


def orientation(width: int, height: int) -> str:
    """"landscape", "portrait" or "square" (within 10%); "unknown" without a size."""
    if width <= 0 or height <= 0:
        return "unknown"
    ratio = width / height
    return "square" if 0.9 <= ratio <= 1.1 else ("landscape" if ratio > 1 else "portrait")


def fit(candidate: Candidate, size: tuple[int, int], scene_s: float) -> float:
    """How well the candidate suits a video of ``size`` for ``scene_s`` seconds, 0-1 (see the module)."""
    target = orientation(*size)
    shape = orientation(candidate.width, candidate.height)
    orient = 1.0 if shape == target else (0.5 if shape in ("square", "unknown") else 0.0)
    if shape == "unknown":
        resolution = 0.5
    else:
        upscale = max(size[0] / candidate.width, size[1] / candidate.height)
        resolution = 1.0 if upscale <= 1.0 else 1.0 / upscale
    if candidate.kind != "video":
        length = 1.0
    elif not candidate.duration_s or candidate.duration_s <= 0:
        length = 0.5
    else:
        length = min(1.0, candidate.duration_s / max(scene_s, 1e-6))
    return 0.5 * orient + 0.25 * resolution + 0.25 * length


def combine(rel: float, fitness: float) -> float:
    """The score: relevance scaled by fit, never raised by it."""
    return rel * (0.5 + 0.5 * fitness)


def rank(scene: Scene, subject: str, candidates: list[Candidate], size: tuple[int, int], embedder,
         used: set[tuple[str, str]] | None = None) -> list[tuple[Candidate, float]]:
    """The candidates not in ``used`` with their scores (module docstring), best first.

    One ``embedder.encode`` call per ranking, over the distinct texts only (stock APIs return the
    same tags for many clips). Ties keep the sources' own order. ``embedder`` is anything with
    ``encode(list[str]) -> unit vectors``: the process's MiniLM (``pipeline.trends.topics.Embedder``).
    """
    used = used or set()
    fresh = [c for c in candidates if (c.provider, c.source_id) not in used]
    if not fresh:
        return []
    query = scene_text(scene, subject)
    texts = [candidate_text(c) for c in fresh]
    distinct = list(dict.fromkeys([query, *texts]))
    vectors = dict(zip(distinct, np.asarray(embedder.encode(distinct), dtype=np.float32)))
    scored = []
    for k, (candidate, text) in enumerate(zip(fresh, texts)):
        rel = relevance(vectors[query], vectors[text]) if text else 0.0
        scored.append((round(combine(rel, fit(candidate, size, scene.duration_s)), 4), k, candidate))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [(candidate, score) for score, _, candidate in scored]


def recent_sources(db: Database, channel_id: int, last_n: int, exclude_job: int | None = None) -> set[tuple[str, str]]:
    """(provider, source_id) of every visual the channel's last ``last_n`` videos used: the
    repetition guard's set (``settings.repeat_window``).

    A video counts once its scene plan is recorded (job_scenes), whatever became of the job since:
    a held or failed video may still be published or retried with those clips. ``exclude_job``
    leaves out the job being planned (its own earlier attempt). Slides are never guarded: they
    are drawn for each video. Read-only.
    """
    if last_n <= 0:
        return set()
    rows = db.query(
        "WITH recent AS ("
        "  SELECT j.id FROM jobs j"
        "  WHERE j.channel_id = ? AND j.id IS DISTINCT FROM ?"
        "    AND EXISTS (SELECT 1 FROM job_scenes s WHERE s.job_id = j.id)"
        "  ORDER BY j.created_at DESC, j.id DESC LIMIT ?)"
        " SELECT DISTINCT s.provider, s.source_id FROM job_scenes s JOIN recent r ON s.job_id = r.id"
        " WHERE s.source_id IS NOT NULL AND s.provider <> 'slides'",
        [channel_id, exclude_job, int(last_n)])
    return {(provider, source_id) for provider, source_id in rows}

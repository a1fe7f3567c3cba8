"""Stock clips and photos from Pexels (https://www.pexels.com/api/documentation/), over plain REST.

One search asks for clips (``/videos/search``) and photos (``/v1/search``) shaped like the video;
each hit becomes a Candidate that ranking can read (the words of its page's URL slug, its alt
text) and the Library can credit (the author and the page). Answers are remembered for a day in
the media cache, as Pexels asks, so a repeated query costs none of the 200 requests an hour a
key gets. The key travels in the ``Authorization`` header of API requests only: file downloads
go to Pexels' CDN without it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.media.cache import MediaCache, byte_limit, download_into
from pipeline.providers.base import Candidate, MediaStore, ProviderError
from pipeline.providers.http import (JsonApi, Tally, clean_query, client, covers, credits, describe, orientation,
                                     pick_rendition, slug_words)

log = logging.getLogger(__name__)

LICENCE = "Pexels License"
MAX_PER_PAGE = 80  # the API's cap
MEMO_S = 24 * 3600  # Pexels: "24 hours is a good amount of time to cache responses for"
LARGE2X_BOX = (1880, 1300)  # src.large2x: fitted into 940x650 at twice the pixel density


def video_candidate(video: dict, size: tuple[int, int]) -> Candidate | None:
    """A clip as a Candidate with the file that suits a video of ``size``; None when it has no mp4."""
    files = [f for f in video.get("video_files") or []
             if str(f.get("file_type") or "").lower() == "video/mp4" and f.get("link")]
    best = pick_rendition(files, size)
    if best is None or video.get("id") is None:
        return None
    user = video.get("user") or {}
    pictures = [p.get("picture") for p in video.get("video_pictures") or [] if p.get("picture")]
    tags = [t for t in video.get("tags") or [] if isinstance(t, str)]
    # The author's name is credit, not content: it stays out of what ranking reads.
    return Candidate(
        provider="pexels", source_id=f"video:{video['id']}", kind="video",
        text=describe(slug_words(video.get("url")), video.get("alt"), tags),
        width=int(best["width"]), height=int(best["height"]), duration_s=float(video.get("duration") or 0) or None,
        url=best["link"], page_url=video.get("url"),
        preview_url=video.get("image") or (pictures[0] if pictures else None),
        author=user.get("name"), author_url=user.get("url"), licence=LICENCE,
        attribution_required=True)


def photo_candidate(photo: dict, size: tuple[int, int]) -> Candidate | None:
    """A photo as a Candidate: ``src.large2x`` when it covers the video, else ``src.original``."""
    src = photo.get("src") or {}
    w, h = int(photo.get("width") or 0), int(photo.get("height") or 0)
    if photo.get("id") is None or not (src.get("original") or src.get("large2x")):
        return None
    url, width, height = src.get("original"), w, h
    if src.get("large2x") and w and h:
        scale = min(1.0, LARGE2X_BOX[0] / w, LARGE2X_BOX[1] / h)
        fitted = (round(w * scale), round(h * scale))
        if covers(fitted, size) or not url:  # big enough: a fraction of the original's bytes
            url, width, height = src["large2x"], *fitted
    return Candidate(
        provider="pexels", source_id=f"photo:{photo['id']}", kind="image",
        text=describe(slug_words(photo.get("url")), photo.get("alt")), width=width, height=height,
        url=url, page_url=photo.get("url"), preview_url=src.get("medium") or src.get("tiny"),
        author=photo.get("photographer"), author_url=photo.get("photographer_url"), licence=LICENCE,
        attribution_required=True)


class PexelsSource:
    """SceneSource over the Pexels API: free, 200 requests an hour and 20,000 a month per key."""

    name = "pexels"

    def __init__(self, settings: Settings, *, memo: MediaCache | None = None, memo_s: float = MEMO_S,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.root = settings.pexels_api_root.rstrip("/") + "/"
        self.memo = memo if memo is not None else MediaCache(settings.media_dir)
        self.memo_s = memo_s
        self.api = JsonApi(self.name, "Pexels", "PEXELS_API_KEY", retries=settings.provider_retries,
                           sleep=sleep, clock=clock)

    @classmethod
    def from_settings(cls, settings: Settings, variant: str | None = None) -> PexelsSource:
        return cls(settings)

    @staticmethod
    def check(settings: Settings) -> str | None:
        if settings.pexels_api_key is None or not settings.pexels_api_key.get_secret_value().strip():
            return "PEXELS_API_KEY is not set (a free key: https://www.pexels.com/api/)"
        return None

    def search(self, query: str, size: tuple[int, int], limit: int = 15) -> tuple[list[Candidate], list[Usage]]:
        """Up to ``limit`` clips and ``limit`` photos for ``query``, shaped like a video of ``size``."""
        if self.check(self.settings):
            raise ProviderError(self.check(self.settings), provider=self.name)
        q = clean_query(query).lower()  # the services ignore case; the day's memo need not
        if not q:
            return [], []
        shape = orientation(size)
        common = {"query": q, "orientation": shape, "per_page": max(1, min(int(limit), MAX_PER_PAGE))}
        tally = Tally(self.name)
        with client(self.settings.request_timeout_s) as http:
            # size=medium: Full HD clips at least. Photos of 4 MP (size=small) already cover 1080p.
            videos = self._get(http, "videos/search", {**common, "size": "medium"}, tally)
            photos = self._get(http, "v1/search", {**common, "size": "small"}, tally)
        found = [c for v in videos.get("videos") or [] if (c := video_candidate(v, size))]
        found += [c for p in photos.get("photos") or [] if (c := photo_candidate(p, size))]
        log.info("pexels: %d candidates for %r (%s), %d requests", len(found), q, shape, tally.sent)
        return found, tally.usage()

    def _get(self, http, path: str, params: dict, tally: Tally) -> dict:
        key = f"{self.root}{path}?{sorted(params.items())}"
        remembered = self.memo.recall(self.name, key, self.memo_s) if self.memo_s > 0 else None
        if isinstance(remembered, dict):
            return remembered
        secret = self.settings.pexels_api_key.get_secret_value()
        data = self.api.get(http, self.root + path, params, tally, headers={"Authorization": secret})
        if self.memo_s > 0:
            self.memo.remember(self.name, key, data)
        return data

    def fetch(self, candidate: Candidate, cache: MediaStore) -> tuple[Path, list[Usage]]:
        """The candidate's file from the media cache, downloaded (without the key) the first time."""
        if candidate.provider != self.name or not candidate.url:
            raise ProviderError(f"pexels cannot fetch a {candidate.provider} candidate without a URL",
                                provider=self.name)
        meta = credits(candidate)
        with client(self.settings.request_timeout_s) as http:
            path = download_into(cache, self.name, candidate.source_id, candidate.url, http,
                                 byte_limit(candidate.kind), meta, expect=candidate.kind)
        return path, []  # downloads are free and do not count against the API's limit


"""Stock clips and photos from Pixabay (https://pixabay.com/api/docs/), over plain REST.

Pixabay takes its key in the query string, so the key is the one thing here that must never be
shown: it is added to API requests by a transport beneath httpx's client, at the last moment, so
httpx's own log line, its errors and ``response.request`` never hold it; every URL this module
logs, raises or returns goes through :func:`redact` besides. Pixabay forbids hotlinking, so files
are always downloaded into the media cache (and no preview URL is handed on), and asks for
answers to be cached for 24 hours: they are remembered in the media cache for a day.
"""

from __future__ import annotations

import logging
import time
import urllib.request
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import httpx

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.media.cache import MediaCache, byte_limit, download_into
from pipeline.providers.base import Candidate, MediaStore, ProviderError
from pipeline.providers.http import (JsonApi, Tally, clean_query, client, credits, describe, orientation,
                                     pick_rendition, redact, slug_words)

log = logging.getLogger(__name__)

__all__ = ["PixabaySource", "redact"]

LICENCE = "Pixabay Content License"
MEMO_S = 24 * 3600  # Pixabay: "requests must be cached for 24 hours"
PER_PAGE = (3, 200)  # the API's range
SHAPES = {"landscape": "horizontal", "portrait": "vertical", "square": "all"}
IMAGE_URLS = (("fullHDURL", 1920), ("largeImageURL", 1280), ("webformatURL", 640))  # key, longest side


class KeyParam(httpx.BaseTransport):
    """Adds ``key=`` to requests under the API root, below the client (see the module's docstring)."""

    def __init__(self, root: str, key: str, inner: httpx.BaseTransport):
        self.root, self.key, self.inner = root, key, inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(self.root):
            request = httpx.Request(request.method, request.url.copy_merge_params({"key": self.key}),
                                    headers=request.headers, stream=request.stream, extensions=request.extensions)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _proxy_for(url: str) -> str | None:
    """The environment's proxy for ``url`` (a client given a transport does not apply it to that transport)."""
    host = urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(urlsplit(url).scheme)


def hit_text(hit: dict) -> str:
    """What ranking reads: the tags, and the page's slug when it says more than they do."""
    tags = ", ".join(t.strip() for t in str(hit.get("tags") or "").split(",") if t.strip())
    slug = slug_words(hit.get("pageURL"))
    return describe(tags, slug if set(slug.lower().split()) - set(tags.lower().replace(",", " ").split()) else "")


def user_page(hit: dict) -> str | None:
    if hit.get("user") and hit.get("user_id"):
        return f"https://pixabay.com/users/{hit['user']}-{hit['user_id']}/"
    return None


def video_candidate(hit: dict, size: tuple[int, int]) -> Candidate | None:
    """A clip as a Candidate with the rendition (large, medium or small) that suits a video of ``size``."""
    renditions = [r for name in ("large", "medium", "small")
                  if isinstance(r := (hit.get("videos") or {}).get(name), dict) and r.get("url")]
    best = pick_rendition(renditions, size)
    if best is None or hit.get("id") is None:
        return None
    return Candidate(
        provider="pixabay", source_id=f"video:{hit['id']}", kind="video", text=hit_text(hit),
        width=int(best["width"]), height=int(best["height"]), duration_s=float(hit.get("duration") or 0) or None,
        url=redact(best["url"]), page_url=redact(hit.get("pageURL") or "") or None,
        author=hit.get("user"), author_url=user_page(hit), licence=LICENCE)


def photo_candidate(hit: dict, size: tuple[int, int]) -> Candidate | None:
    """A photo as a Candidate: the largest image URL this key may download."""
    w, h = int(hit.get("imageWidth") or 0), int(hit.get("imageHeight") or 0)
    for field, longest in IMAGE_URLS:
        if hit.get(field) and hit.get("id") is not None:
            scale = min(1.0, longest / max(w, h)) if w and h else 1.0
            return Candidate(
                provider="pixabay", source_id=f"photo:{hit['id']}", kind="image", text=hit_text(hit),
                width=round(w * scale), height=round(h * scale), url=redact(hit[field]),
                page_url=redact(hit.get("pageURL") or "") or None, author=hit.get("user"),
                author_url=user_page(hit), licence=LICENCE)
    return None


def _key_rejected(response: httpx.Response) -> bool:
    # Pixabay answers a wrong or missing key with 400 "[ERROR 400] Invalid or missing API key".
    return response.status_code in (401, 403) or (response.status_code == 400 and "api key" in response.text.lower())


class PixabaySource:
    """SceneSource over the Pixabay API: free, 100 requests a minute per key."""

    name = "pixabay"

    def __init__(self, settings: Settings, *, memo: MediaCache | None = None, memo_s: float = MEMO_S,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.root = settings.pixabay_api_root.rstrip("/") + "/"
        self.memo = memo if memo is not None else MediaCache(settings.media_dir)
        self.memo_s = memo_s
        secret = settings.pixabay_api_key.get_secret_value() if settings.pixabay_api_key else None
        self.api = JsonApi(self.name, "Pixabay", "PIXABAY_API_KEY", retries=settings.provider_retries, sleep=sleep,
                           clock=clock, key_rejected=_key_rejected, secret=secret)

    @classmethod
    def from_settings(cls, settings: Settings, variant: str | None = None) -> PixabaySource:
        return cls(settings)

    @staticmethod
    def check(settings: Settings) -> str | None:
        if settings.pixabay_api_key is None or not settings.pixabay_api_key.get_secret_value().strip():
            return "PIXABAY_API_KEY is not set (a free key: https://pixabay.com/api/docs/)"
        return None

    def search(self, query: str, size: tuple[int, int], limit: int = 15) -> tuple[list[Candidate], list[Usage]]:
        """Up to ``limit`` clips and ``limit`` photos for ``query``. Pixabay cannot filter clips by
        shape, so clips of either shape come back; each carries its width and height for ranking."""
        if self.check(self.settings):
            raise ProviderError(self.check(self.settings), provider=self.name)
        q = clean_query(query).lower()  # the services ignore case; the day's memo need not
        if not q:
            return [], []
        per_page = max(PER_PAGE[0], min(int(limit), PER_PAGE[1]))
        tally = Tally(self.name)
        with self._api_client() as http:
            videos = self._get(http, "videos/", {"q": q, "video_type": "film", "safesearch": "true",
                                                 "per_page": per_page}, tally)
            photos = self._get(http, "", {"q": q, "image_type": "photo", "orientation": SHAPES[orientation(size)],
                                          "safesearch": "true", "per_page": per_page}, tally)
        found = [c for hit in (videos.get("hits") or [])[:limit] if (c := video_candidate(hit, size))]
        found += [c for hit in (photos.get("hits") or [])[:limit] if (c := photo_candidate(hit, size))]
        log.info("pixabay: %d candidates for %r, %d requests", len(found), q, tally.sent)
        return found, tally.usage()

    def _api_client(self) -> httpx.Client:
        inner = httpx.HTTPTransport(proxy=_proxy_for(self.root), trust_env=True)
        transport = KeyParam(self.root, self.settings.pixabay_api_key.get_secret_value(), inner)
        return client(self.settings.request_timeout_s, transport=transport)

    def _get(self, http: httpx.Client, path: str, params: dict, tally: Tally) -> dict:
        key = f"{self.root}{path}?{sorted(params.items())}"
        remembered = self.memo.recall(self.name, key, self.memo_s) if self.memo_s > 0 else None
        if isinstance(remembered, dict):
            return remembered
        data = self.api.get(http, self.root + path, params, tally)
        if self.memo_s > 0:
            self.memo.remember(self.name, key, data)
        return data

    def fetch(self, candidate: Candidate, cache: MediaStore) -> tuple[Path, list[Usage]]:
        """The candidate's file from the media cache, downloaded the first time (never hotlinked)."""
        if candidate.provider != self.name or not candidate.url:
            raise ProviderError(f"pixabay cannot fetch a {candidate.provider} candidate without a URL",
                                provider=self.name)
        with client(self.settings.request_timeout_s) as http:  # Pixabay's CDN needs no key: none is sent
            path = download_into(cache, self.name, candidate.source_id, candidate.url, http,
                                 byte_limit(candidate.kind), credits(candidate), expect=candidate.kind)
        return path, []

"""What the stock footage sources (Pexels, Pixabay) share: an httpx client, their rate limits,
JSON requests with errors in operator's words, keys kept out of every URL shown, and the choice
of the rendition of a clip that suits the video.

Plain REST over httpx: neither service has an official Python SDK.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import httpx

from pipeline.costs import Usage
from pipeline.providers.base import Candidate, ProviderError, TransientError

log = logging.getLogger(__name__)

USER_AGENT = "YTEmpire-workbench/1 (+httpx)"
MAX_WAIT_S = 60.0  # the longest a search waits for a rate limit; past it, TransientError (the worker backs off)
BACKOFF_S = 1.0  # first wait after a 429/5xx that says nothing about when to come back; doubles
MAX_QUERY_CHARS = 100  # Pixabay's limit on q; a scene's query is 1-3 words anyway

# Query parameters that carry credentials: Pixabay's key, signed CDN links (OpenAI's image URLs).
_SECRET = re.compile(r"(?i)([?&;](?:key|api_key|apikey|access_token|token|sig|signature|client_secret)=)[^&#;\s\"'<>]*")


def redact(text: object) -> str:
    """``text`` (a URL, or a message holding URLs) with every credential parameter shown as ``***``."""
    return _SECRET.sub(r"\1***", str(text))


def clean_query(query: str) -> str:
    """The query with whitespace folded, cut to what the services accept."""
    return " ".join((query or "").split())[:MAX_QUERY_CHARS].strip()


def orientation(size: tuple[int, int]) -> str:
    """'landscape', 'portrait' or 'square' for a video of ``size`` (width, height)."""
    w, h = size
    return "portrait" if h > w else "landscape" if w > h else "square"


def covers(have: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether a picture of ``have`` pixels fills a frame of ``size`` without being enlarged."""
    return have[0] >= size[0] and have[1] >= size[1]


def slug_words(url: str | None) -> str:
    """The words of a stock page's slug: ``.../video/an-octopus-on-the-reef-12345/`` -> 'an octopus on the reef'."""
    segments = [s for s in urlsplit(url or "").path.split("/") if s]
    if len(segments) < 2:  # a bare host or '/video/': no slug
        return ""
    words = segments[-1].split("-")
    if words and words[-1].isdigit():
        words = words[:-1]
    if words == ["id"]:  # Pixabay's older pages: /videos/id-125/
        return ""
    return " ".join(w for w in words if w)


def describe(*parts: object) -> str:
    """What ranking reads: the distinct non-empty parts (strings or lists of them), in order, as sentences."""
    seen, out = set(), []
    for part in parts:
        for text in part if isinstance(part, (list, tuple)) else [part]:
            text = " ".join(str(text or "").split())
            if text and text.lower() not in seen:
                seen.add(text.lower())
                out.append(text)
    return ". ".join(out)


def credits(candidate: Candidate) -> dict:
    """What the cache keeps beside a file so the Library can show and credit it without asking again."""
    return {"kind": candidate.kind, "text": candidate.text, "width": candidate.width, "height": candidate.height,
            "duration_s": candidate.duration_s, "page_url": candidate.page_url, "author": candidate.author,
            "author_url": candidate.author_url, "licence": candidate.licence,
            "attribution_required": candidate.attribution_required}


def client(timeout_s: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client for one search or download. Redirects are followed (CDN links redirect);
    httpx drops an Authorization header when a redirect leaves the origin. With a transport of its
    own, the environment's proxies are that transport's business: httpx would otherwise mount
    proxy transports beside it that bypass it."""
    timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
    return httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT},
                        transport=transport, trust_env=transport is None)


def pick_rendition(files: list[dict], size: tuple[int, int]) -> dict | None:
    """The rendition (a dict with ``width`` and ``height``) to fetch for a video of ``size``: of those
    shaped like the video (when any are), the smallest whose short side reaches the video's, else
    the largest. Bigger than needed costs download and decode time for nothing."""
    usable = [f for f in files if (f.get("width") or 0) > 0 and (f.get("height") or 0) > 0]
    shaped = [f for f in usable if orientation((f["width"], f["height"])) == orientation(size)]
    pool = shaped or usable
    if not pool:
        return None

    def rank(f: dict) -> tuple[int, int]:  # the short side decides; the area breaks ties
        return min(f["width"], f["height"]), f["width"] * f["height"]

    enough = [f for f in pool if rank(f)[0] >= min(size)]
    return min(enough, key=rank) if enough else max(pool, key=rank)


def duration(seconds: float) -> str:
    """'40 min', '5 h', '12 days': how long until a rate-limit window resets, in words."""
    if seconds < 90 * 60:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


@dataclass
class Tally:
    """HTTP requests one search made (free, but ledgered: they are what the rate limits count)."""

    provider: str
    sent: int = 0

    def usage(self) -> list[Usage]:
        return [Usage(self.provider, "api", "requests", float(self.sent))] if self.sent else []


class RateWindow:
    """The rate-limit window a service last reported (``X-RateLimit-Remaining`` / ``-Reset``), so a
    spent window is waited out before the next request instead of being met with a 429. Pexels
    sends these on successful answers only, so they are remembered. ``Reset`` is a UNIX time
    (Pexels) or seconds from now (Pixabay): values past 10^9 can only be UNIX times."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.remaining: int | None = None
        self.reset_at: float | None = None

    def note(self, headers: httpx.Headers) -> None:
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is not None and remaining.strip().isdigit():
            self.remaining = int(remaining)
        at = self._reset_at(reset)
        if at is not None:
            self.reset_at = at

    def _reset_at(self, value: str | None) -> float | None:
        try:
            seconds = float(value) if value is not None else None
        except ValueError:
            return None
        if seconds is None or seconds < 0:
            return None
        return seconds if seconds > 1e9 else self.clock() + seconds

    def wait_s(self) -> float:
        """How long to wait before sending: until the reset when the window is spent, else 0."""
        if self.remaining == 0 and self.reset_at is not None:
            return max(0.0, self.reset_at - self.clock())
        return 0.0

    def retry_after_s(self, headers: httpx.Headers, attempt: int, limited: bool = True) -> float:
        """How long a 429 (``limited``) or a 5xx asks us to wait: Retry-After, else (a 429 only) until
        the window resets, else backoff. A 5xx says nothing about the window, which may be an hour away."""
        value = (headers.get("retry-after") or "").strip()
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - self.clock())
                except (TypeError, ValueError):
                    pass  # an unreadable date: fall back to the window
        if limited and self.reset_at is not None and self.reset_at > self.clock():
            return self.reset_at - self.clock()
        return BACKOFF_S * 2 ** attempt


class JsonApi:
    """GETs JSON from one service, honouring its rate limit and turning its failures into
    ProviderError (fix something) or TransientError (try later) in words an operator can act on.
    Every error carries the usage of the requests made so far."""

    def __init__(self, provider: str, label: str, key_hint: str, *, retries: int = 2,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 max_wait_s: float = MAX_WAIT_S, key_rejected: Callable[[httpx.Response], bool] | None = None,
                 secret: str | None = None):
        self.provider, self.label, self.key_hint, self.secret = provider, label, key_hint, secret
        self.retries, self.sleep, self.max_wait_s = retries, sleep, max_wait_s
        self.window = RateWindow(clock)
        self.key_rejected = key_rejected or (lambda r: r.status_code in (401, 403))

    def get(self, http: httpx.Client, url: str, params: dict, tally: Tally, headers: dict | None = None) -> dict:
        for attempt in range(self.retries + 1):
            self._wait(self.window.wait_s(), tally, "has no requests left in this rate-limit window",
                       "the search was not sent")
            tally.sent += 1
            try:
                response = http.get(url, params=params, headers=headers)
            except httpx.TimeoutException as exc:
                error = self._error(TransientError, f"{self.label} did not answer in time ({redact(exc)})", tally)
            except httpx.TransportError as exc:
                error = self._error(TransientError, f"{self.label} could not be reached ({redact(exc)})", tally)
            else:
                self.window.note(response.headers)
                status = response.status_code
                if status < 300:
                    return self._json(response, tally)
                if self.key_rejected(response):
                    raise self._error(ProviderError, f"the {self.label} key was rejected: check {self.key_hint}", tally)
                if status != 429 and status < 500:
                    raise self._error(ProviderError, f"{self.label} refused the search ({status}): "
                                                     f"{redact(response.text[:200])}", tally)
                what = "is rate limiting these requests (429)" if status == 429 else f"answered {status}"
                error = self._error(TransientError, f"{self.label} {what} after {attempt + 1} tries", tally)
                if attempt < self.retries:
                    self._wait(self.window.retry_after_s(response.headers, attempt, status == 429), tally, what,
                               "the search was not retried")
                    self.window.remaining = None  # waited out already: do not wait again before resending
                    continue
                raise error
            if attempt < self.retries:
                self.sleep(BACKOFF_S * 2 ** attempt)
                continue
            raise error
        raise AssertionError("unreachable")

    def _wait(self, seconds: float, tally: Tally, why: str, undone: str) -> None:
        if seconds <= 0:
            return
        if seconds > self.max_wait_s:  # an hourly window: sleeping a worker thread that long helps nobody
            raise self._error(TransientError, f"{self.label} {why}; it resets in {duration(seconds)}, "
                                              f"so {undone}", tally)
        log.info("%s %s; waiting %.1f s", self.label, why, seconds)
        self.sleep(seconds)

    def _json(self, response: httpx.Response, tally: Tally) -> dict:
        try:
            data = response.json()
        except ValueError:
            raise self._error(TransientError, f"{self.label} answered something that is not JSON", tally) from None
        if not isinstance(data, dict):
            raise self._error(TransientError, f"{self.label} answered an unexpected JSON shape", tally)
        return data

    def _error(self, kind: type[ProviderError], message: str, tally: Tally) -> ProviderError:
        if self.secret:  # a key echoed back in an error body, whatever its form
            message = message.replace(self.secret, "***")
        exc = kind(message, provider=self.provider)
        exc.usage = tally.usage()  # type: ignore[attr-defined]  # requests made, even when the search failed
        return exc

"""Clients for the YouTube Data and Analytics APIs (google-api-python-client, its bundled
discovery documents) with configurable roots, and the reading of their errors."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import httplib2

from pipeline.config import Settings

SCOPES = ["https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.readonly",
          "https://www.googleapis.com/auth/yt-analytics.readonly",
          "https://www.googleapis.com/auth/yt-analytics-monetary.readonly"]


class ApiRootHttp(httplib2.Http):
    """httplib2 that follows a plain-http API root everywhere.

    The library builds media-upload URLs with https even when the API root is http (a test
    server on loopback), treats 308 as a redirect while resumable uploads use it to mean
    "resume incomplete", and resends a consumed stream after a dropped connection: all are put
    right here.
    """

    def __init__(self, root: str, timeout: float = 60):
        super().__init__(timeout=timeout)
        parsed = urlparse(root)
        self._from = f"https://{parsed.netloc}" if parsed.scheme == "http" else None
        self._to = f"http://{parsed.netloc}"
        self.redirect_codes = self.redirect_codes - {308}

    def request(self, uri, method="GET", body=None, headers=None, redirections=5, connection_type=None):
        if self._from and uri.startswith(self._from):
            uri = self._to + uri[len(self._from):]
        if hasattr(body, "read"):
            # httplib2 resends a request by itself when the connection drops; a stream it has already
            # read would go out empty under a full Content-Length and hang until the timeout. Bytes
            # resend whole (one chunk at most, so the memory is bounded by the chunk size).
            body = body.read()
        return super().request(uri, method, body=body, headers=headers, redirections=redirections,
                               connection_type=connection_type)


def build_youtube(credentials, settings: Settings):
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build

    http = AuthorizedHttp(credentials, http=ApiRootHttp(settings.youtube_api_root, settings.request_timeout_s))
    return build("youtube", "v3", http=http, static_discovery=True, cache_discovery=False,
                 client_options={"api_endpoint": settings.youtube_api_root})


def build_analytics(credentials, settings: Settings):
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build

    http = AuthorizedHttp(credentials, http=ApiRootHttp(settings.youtube_analytics_root, settings.request_timeout_s))
    return build("youtubeAnalytics", "v2", http=http, static_discovery=True, cache_discovery=False,
                 client_options={"api_endpoint": settings.youtube_analytics_root})


def error_reason(exc) -> str:
    """The API's reason (quotaExceeded, uploadLimitExceeded, rateLimitExceeded...) of an HttpError."""
    try:
        content = exc.content.decode() if isinstance(exc.content, bytes) else exc.content
        error = json.loads(content).get("error", {})
        errors = error.get("errors") or [{}]
        return errors[0].get("reason") or error.get("status") or str(exc.resp.status)
    except (ValueError, AttributeError):
        return str(getattr(getattr(exc, "resp", None), "status", "error"))


def status_of(exc) -> int:
    return int(getattr(getattr(exc, "resp", None), "status", 0) or 0)

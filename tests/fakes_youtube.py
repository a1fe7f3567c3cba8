"""A loopback fake of the YouTube Data API v3, the YouTube Analytics API v2 and Google's OAuth
token endpoint, speaking the wire protocol google-api-python-client and google-auth use:
resumable uploads (session URI, Content-Range chunks, 308 with Range, status queries),
thumbnails, playlist items, channels.list, videos.list(chart=mostPopular), reports.query.

Identities: a refresh token names a YouTube channel ("refresh-<channel>"); the token endpoint
trades it (or an authorization code "code-<channel>") for an access token. Faults are queued
per method: "503" (on the next upload chunk, refused), "503-stored" (the chunk is stored, then the
answer is lost as a 503), "drop" (the connection closes with no answer), "quotaExceeded",
"uploadLimitExceeded", "rateLimitExceeded"; "status" faults hit the ``bytes */N`` status queries;
refresh tokens can be revoked (``revoked``, or through the revoke endpoint); videos can be deleted.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import pytest

from fakes import LoopbackServer

ERRORS = {
    "quotaExceeded": (403, "The request cannot be completed because you have exceeded your quota."),
    "rateLimitExceeded": (403, "The request was rate limited."),
    "uploadLimitExceeded": (400, "The user has exceeded the number of videos they may upload."),
    "forbidden": (403, "Forbidden"),
}


class FakeYouTube(LoopbackServer):
    def __init__(self):
        self.lock = threading.Lock()
        self.faults: dict[str, list[str]] = {}
        self.revoked: set[str] = set()
        self.unverified: set[str] = set()  # client ids whose uploads YouTube locks to private
        self.access: dict[str, tuple[str, str]] = {}  # access token -> (channel, client id)
        self.sessions: dict[str, dict] = {}
        self.videos: dict[str, dict] = {}  # video id -> {"channel", "bytes", "body"}
        self.calls: list[tuple[str, str]] = []  # (method name, channel)
        self.revocations: list[str] = []  # tokens sent to the revoke endpoint
        self.monetised: set[str] = set()
        self.chunk_delay = 0.0  # seconds per upload chunk, to catch an upload halfway
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, payload: bytes = b"", headers: dict | None = None, content_type="application/json"):
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    if payload or status != 308:
                        self.send_header("content-type", content_type)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):  # noqa: N802
                fake.handle(self, "GET", b"")

            def do_POST(self):  # noqa: N802
                fake.handle(self, "POST", self._body())

            def do_PUT(self):  # noqa: N802
                fake.handle(self, "PUT", self._body())

        self.serve(Handler)

    # -- faults --------------------------------------------------------------------------------
    def fault(self, method: str, *kinds: str) -> None:
        with self.lock:
            self.faults.setdefault(method, []).extend(kinds)

    def _take_fault(self, method: str) -> str | None:
        with self.lock:
            queue = self.faults.get(method) or []
            return queue.pop(0) if queue else None

    def uploads_of(self, channel: str) -> list[dict]:
        return [{**v, "id": k} for k, v in self.videos.items() if v["channel"] == channel]

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _json(h, status: int, data: object, headers: dict | None = None) -> None:
        h._send(status, json.dumps(data).encode(), headers)

    def _error(self, h, reason: str) -> None:
        status, message = ERRORS[reason]
        self._json(h, status, {"error": {"code": status, "message": message,
                                         "errors": [{"domain": "youtube.quota", "reason": reason, "message": message}]}})

    def _who(self, h) -> tuple[str, str] | None:
        auth = h.headers.get("authorization", "")
        return self.access.get(auth.removeprefix("Bearer ").strip())

    # -- routing -------------------------------------------------------------------------------
    def handle(self, h, verb: str, body: bytes) -> None:
        url = urlparse(h.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/token":
            return self.token(h, body)
        if url.path == "/revoke":
            return self.revoke(h, q, body)
        who = self._who(h)
        if who is None:
            return self._json(h, 401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                                 "status": "UNAUTHENTICATED",
                                                 "errors": [{"reason": "authError", "message": "Invalid Credentials"}]}})
        channel, client = who
        if url.path == "/upload/youtube/v3/videos":
            if verb == "POST":
                return self.start_upload(h, q, body, channel, client)
            return self.put_chunk(h, q, body, channel)
        if url.path == "/upload/youtube/v3/thumbnails/set":
            self.calls.append(("thumbnails.set", channel))
            fault = self._take_fault("thumbnails.set")
            if fault:
                return self._error(h, fault)
            return self._json(h, 200, {"kind": "youtube#thumbnailSetResponse", "items": [{"default": {"url": "x"}}]})
        if url.path == "/upload/youtube/v3/captions" and verb == "POST":
            return self.insert_caption(h, q, body, channel)
        if url.path == "/youtube/v3/playlistItems":
            self.calls.append(("playlistItems.insert", channel))
            return self._json(h, 200, {"kind": "youtube#playlistItem", "id": "pli1", "snippet": json.loads(body)["snippet"]})
        if url.path == "/youtube/v3/channels":
            self.calls.append(("channels.list", channel))
            mine = self.uploads_of(channel)
            return self._json(h, 200, {"items": [{"id": f"UC{channel}", "snippet": {"title": f"Channel {channel}"},
                                                  "statistics": {"subscriberCount": str(100 + 10 * len(mine)),
                                                                 "viewCount": str(1000 * len(mine)),
                                                                 "videoCount": str(len(mine))}}]})
        if url.path == "/youtube/v3/videos" and q.get("chart") == "mostPopular":
            return self.most_popular(h, q, channel)
        if url.path == "/youtube/v3/videos" and verb == "GET" and "id" in q:
            self.calls.append(("videos.list", channel))
            items = [{"kind": "youtube#video", "id": v, "status": self.videos[v]["status"]}
                     for v in q["id"].split(",") if v in self.videos and self.videos[v]["channel"] == channel]
            return self._json(h, 200, {"kind": "youtube#videoListResponse", "items": items})
        if url.path == "/v2/reports":
            return self.report(h, q, channel)
        return self._json(h, 404, {"error": {"code": 404, "message": f"no route {verb} {url.path}"}})

    def insert_caption(self, h, q, body: bytes, channel: str) -> None:
        """captions.insert as a multipart upload: the snippet (JSON) and the caption file, in one body."""
        self.calls.append(("captions.insert", channel))
        fault = self._take_fault("captions.insert")
        if fault:
            return self._error(h, fault)
        boundary = h.headers.get("content-type", "").split("boundary=")[-1].strip('"')
        parts = [p for p in body.split(b"--" + boundary.encode()) if p.strip(b"-\r\n")]
        snippet, track = {}, b""
        for part in parts:
            part = part.lstrip(b"\r\n")
            sep = b"\r\n\r\n" if b"\r\n\r\n" in part else b"\n\n"
            head, _, content = part.partition(sep)
            content = content.rstrip(b"\r\n")
            if b"application/json" in head:
                snippet = json.loads(content)["snippet"]
            else:
                track = content
        video = self.videos.get(snippet.get("videoId", ""))
        if video is None or video["channel"] != channel:
            return self._json(h, 404, {"error": {"code": 404, "message": "videoNotFound",
                                                 "errors": [{"reason": "videoNotFound"}]}})
        video.setdefault("captions", []).append({"language": snippet.get("language"), "track": track.decode()})
        return self._json(h, 200, {"kind": "youtube#caption", "id": f"cap{len(video['captions'])}",
                                   "snippet": {**snippet, "trackKind": "standard", "status": "serving"}})

    def token(self, h, body: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        client = form.get("client_id", "")
        if form.get("grant_type") == "authorization_code":
            if not form.get("code_verifier"):  # Google requires it when the consent URL had a code_challenge
                return self._json(h, 400, {"error": "invalid_grant", "error_description": "Missing code verifier."})
            match = re.fullmatch(r"code-(\w+)", form.get("code", ""))
            if not match:
                return self._json(h, 400, {"error": "invalid_grant", "error_description": "Malformed auth code."})
            refresh = f"refresh-{match[1]}"
        elif form.get("grant_type") == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh in self.revoked or not refresh.startswith("refresh-"):
                return self._json(h, 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        else:
            return self._json(h, 400, {"error": "unsupported_grant_type"})
        access = f"access-{next(self._ids)}"
        self.access[access] = (refresh.removeprefix("refresh-"), client)
        self._json(h, 200, {"access_token": access, "expires_in": 3600, "token_type": "Bearer",
                            "refresh_token": refresh, "scope": form.get("scope", "")})

    def revoke(self, h, q, body: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()} if body else {}
        token = form.get("token") or q.get("token", "")
        self.revocations.append(token)
        if token.startswith("refresh-"):
            self.revoked.add(token)
        elif token in self.access:
            self.revoked.add(f"refresh-{self.access[token][0]}")
        else:
            return self._json(h, 400, {"error": "invalid_token"})
        self._json(h, 200, {})

    def delete_video(self, video_id: str) -> None:
        self.videos.pop(video_id, None)

    def start_upload(self, h, q, body: bytes, channel: str, client: str) -> None:
        self.calls.append(("videos.insert", channel))
        fault = self._take_fault("videos.insert")
        if fault:
            return self._error(h, fault)
        session = f"s{next(self._ids)}"
        self.sessions[session] = {"channel": channel, "client": client, "total": int(h.headers.get("x-upload-content-length")),
                                  "data": bytearray(), "body": json.loads(body), "video": None}
        location = f"https://{h.headers['host']}/upload/youtube/v3/videos?uploadType=resumable&upload_id={session}"
        self._json(h, 200, {}, {"location": location})  # https even though we serve http: as the real API does

    def put_chunk(self, h, q, body: bytes, channel: str) -> None:
        s = self.sessions.get(q.get("upload_id", ""))
        if s is None:
            return self._json(h, 404, {"error": {"code": 404, "message": "upload session not found"}})
        rng = h.headers.get("content-range", "")
        if rng.startswith("bytes */"):  # a status query
            fault = self._take_fault("status")
            if fault:
                return self._lost(h, fault)
            return self._finish_or_resume(h, s)
        fault = self._take_fault("chunk")
        if fault in ("503", "drop"):
            return self._lost(h, fault)
        start = int(re.match(r"bytes (\d+)-(\d+)/", rng)[1])
        if start != len(s["data"]):  # only contiguous bytes are kept
            return self._finish_or_resume(h, s)
        if self.chunk_delay:
            import time
            time.sleep(self.chunk_delay)
        s["data"].extend(body)
        if fault == "503-stored":  # YouTube kept the bytes (and made the video if they were the last), the answer is lost
            self._finish_or_resume(h, s, answer=False)
            return self._lost(h, "503")
        self._finish_or_resume(h, s)

    def _lost(self, h, fault: str) -> None:
        if fault == "drop":
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return
        self._json(h, 503, {"error": {"code": 503, "message": "Backend Error", "errors": [{"reason": "backendError"}]}})

    def _finish_or_resume(self, h, s: dict, answer: bool = True) -> None:
        if len(s["data"]) < s["total"]:
            if not answer:
                return
            headers = {"range": f"bytes=0-{len(s['data']) - 1}"} if s["data"] else {}
            return h._send(308, b"", headers)
        if s["video"] is None:
            video_id = f"vid{next(self._ids):05d}"
            status = dict(s["body"].get("status", {}))
            if s["client"] in self.unverified:
                status["privacyStatus"] = "private"
            self.videos[video_id] = {"channel": s["channel"], "bytes": bytes(s["data"]), "body": s["body"],
                                     "status": status}
            s["video"] = {"kind": "youtube#video", "id": video_id, "snippet": s["body"].get("snippet", {}), "status": status}
        if answer:
            self._json(h, 200, s["video"])

    def most_popular(self, h, q, channel: str) -> None:
        self.calls.append(("videos.list", channel))
        page = int(q.get("pageToken") or 0)
        size = int(q.get("maxResults") or 5)
        total = 12
        items = [{"id": f"pop{q.get('regionCode')}{i:06d}"[:11],
                  "snippet": {"title": f"Popular video {i} about octopus {['reef', 'arms', 'brain'][i % 3]}",
                              "channelTitle": f"Creator {i}", "categoryId": "27", "publishedAt": "2026-11-20T10:00:00Z",
                              "tags": ["octopus", "ocean"]},
                  "statistics": {"viewCount": str(100000 - i * 1000), "likeCount": "500", "commentCount": "20"}}
                 for i in range(page * size, min(total, (page + 1) * size))]
        data = {"kind": "youtube#videoListResponse", "items": items}
        if (page + 1) * size < total:
            data["nextPageToken"] = str(page + 1)
        self._json(h, 200, data)

    def report(self, h, q, channel: str) -> None:
        self.calls.append(("reports.query", channel))
        metrics = q.get("metrics", "").split(",")
        if "estimatedRevenue" in metrics and channel not in self.monetised:
            return self._json(h, 403, {"error": {"code": 403, "message": "Forbidden", "errors": [{"reason": "forbidden"}]}})
        start, end = date.fromisoformat(q["startDate"]), date.fromisoformat(q["endDate"])
        rows = []
        for d in range((end - start).days + 1):
            day = start + timedelta(d)
            values = {"views": 100 + d, "estimatedMinutesWatched": 50.0 + d, "averageViewDuration": 30.0,
                      "subscribersGained": 2, "likes": 10, "comments": 1, "estimatedRevenue": 0.25}
            rows.append([day.isoformat(), *(values[m] for m in metrics)])
        headers = [{"name": "day", "columnType": "DIMENSION"}] + [{"name": m, "columnType": "METRIC"} for m in metrics]
        self._json(h, 200, {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers, "rows": rows})


@pytest.fixture
def yt():
    """A loopback YouTube (Data API, uploads, OAuth token endpoint) for one test."""
    with FakeYouTube() as fake:
        yield fake

"""Loopback fakes of the footage services, speaking their real wire formats, and small real media.

- :class:`FakePexels`: ``GET /videos/search`` and ``/v1/search`` answering the documented shapes
  (``videos`` with ``video_files``, ``video_pictures``, ``user``, ``url``; ``photos`` with ``src``,
  ``alt``, ``photographer``), the key in ``Authorization`` (401 without it), ``X-Ratelimit-*``
  headers on successful answers.
- :class:`FakePixabay`: ``GET /api/`` and ``/api/videos/`` answering ``total``, ``totalHits`` and
  ``hits``, the key in the query string (400 "Invalid or missing API key" like the real one),
  ``X-RateLimit-*`` headers on every answer (Reset in seconds).
- :class:`FakeOpenAIImages`: ``POST /v1/images/generations`` answering ``created``, ``data`` with
  ``b64_json`` (or a signed ``url``) and ``usage``, for the real openai SDK.

Every fake serves the media under ``/files/<name>`` (its CDN), counts those downloads and keeps
the headers they came with, logs API requests, and answers from a queue of behaviours: ``ok``,
``429``, ``401``, ``empty``, ``503`` and a few more per service. The media are made once per test
session by the ffmpeg binary of imageio-ffmpeg: 3-second testsrc2 clips and two stills, tiny.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import imageio_ffmpeg
import pytest

from fakes import LoopbackServer

CLIPS = {"land-1080.mp4": "1920x1080", "tall-1080.mp4": "1080x1920", "land-720.mp4": "1280x720"}
TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png"}
_MADE: dict[str, bytes] = {}


def make_media(folder: Path) -> dict[str, bytes]:
    """The files the fakes serve, by name; made once per process (about a second)."""
    if _MADE:
        return _MADE
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    folder.mkdir(parents=True, exist_ok=True)
    jobs = {name: ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=10:duration=3", "-c:v", "libx264",
                   "-preset", "ultrafast", "-b:v", "50k", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
            for name, size in CLIPS.items()}
    jobs["still.jpg"] = ["-f", "lavfi", "-i", "testsrc2=size=1920x1280", "-frames:v", "1", "-q:v", "20"]
    jobs["still.png"] = ["-f", "lavfi", "-i", "color=c=0x3366aa:s=1536x1024", "-frames:v", "1"]
    for name, args in jobs.items():
        subprocess.run([ffmpeg, "-v", "error", "-y", *args, str(folder / name)], check=True, timeout=120)
        _MADE[name] = (folder / name).read_bytes()
    return _MADE


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, bytes]:
    """The fakes' media, generated once for the whole session."""
    return make_media(tmp_path_factory.mktemp("fake-media"))


@pytest.fixture
def pexels(media):
    """A FakePexels serving the session's media."""
    with FakePexels(media) as fake:
        yield fake


@pytest.fixture
def pixabay(media):
    """A FakePixabay serving the session's media."""
    with FakePixabay(media) as fake:
        yield fake


class MediaFake(LoopbackServer):
    """Base: GET and POST on 127.0.0.1, ``/files/<name>`` served from ``media``, an API answered by
    :meth:`respond` from a queue of behaviours; ``requests`` (API) and ``downloads`` (files) recorded."""

    def __init__(self, media: dict[str, bytes], key: str = "test-key"):
        self.media, self.key = dict(media), key
        self.behaviours: list[str] = []
        self.requests: list[dict] = []
        self.downloads: Counter = Counter()
        self.file_requests: list[dict] = []  # path and headers of each download: the CDN must never see a key
        self.chunked = False  # serve files without a Content-Length, as a stream
        self.content_types: dict[str, str] = {}  # a file served as something else (an HTML error page)
        self.reset_in = 2  # seconds until a spent rate-limit window resets
        self.retry_after: str | None = None
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                fake._handle(self, "POST")

        self.serve(Handler)

    def queue(self, *behaviours: str) -> None:
        with self.lock:
            self.behaviours.extend(behaviours)

    def respond(self, method: str, path: str, query: dict, headers: dict, body: bytes,
                behaviour: str) -> tuple[int, dict, bytes]:
        raise NotImplementedError

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        if split.path.startswith("/files/"):
            name = split.path[len("/files/"):]
            with self.lock:
                self.downloads[name] += 1
                self.file_requests.append({"path": handler.path, "headers": headers})
            data = self.media.get(name)
            if data is None:
                return self._send(handler, 404, {"content-type": "text/plain"}, b"not found")
            kind = self.content_types.get(name) or TYPES.get(Path(name).suffix, "application/octet-stream")
            return self._send(handler, 200, {"content-type": kind}, data, chunked=self.chunked)
        with self.lock:
            behaviour = self.behaviours.pop(0) if self.behaviours else "ok"
            self.requests.append({"method": method, "path": split.path, "query": parse_qs(split.query),
                                  "headers": headers, "body": body, "behaviour": behaviour})
        self._send(handler, *self.respond(method, split.path, parse_qs(split.query), headers, body, behaviour))

    @staticmethod
    def _send(handler, status: int, headers: dict, payload: bytes, chunked: bool = False) -> None:
        try:
            handler.send_response(status)
            for k, v in headers.items():
                handler.send_header(k, v)
            if chunked:
                handler.send_header("transfer-encoding", "chunked")
                handler.end_headers()
                for i in range(0, len(payload), 8192):
                    piece = payload[i:i + 8192]
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                handler.wfile.write(b"0\r\n\r\n")
            else:
                handler.send_header("content-length", str(len(payload)))
                handler.end_headers()
                handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def json(status: int, data: object, **headers: str) -> tuple[int, dict, bytes]:
        return status, {"content-type": "application/json", **headers}, json.dumps(data).encode()

    def file(self, name: str) -> str:
        return f"{self.url}/files/{name}"


class FakePexels(MediaFake):
    """Pexels: videos and photos searches, each answering up to ``per_page`` of a small catalogue."""

    # What a real search adds beyond the fixed catalogue, when ``per_query`` asks for it: footage whose
    # page slug holds the query's words, as Pexels' results do.
    VARIANTS = ("close-up", "swimming-slowly", "in-the-ocean", "on-the-sea-floor", "at-night", "in-an-aquarium",
                "from-above", "hiding-in-a-rock", "moving-its-arms", "in-shallow-water")

    def __init__(self, media, key: str = "pexels-test-key", per_query: int = 0):
        super().__init__(media, key)
        self.remaining = 19999
        self.per_query = per_query

    def respond(self, method, path, query, headers, body, behaviour):
        if path not in ("/videos/search", "/v1/search"):
            return self.json(404, {"error": "Not found"})
        if headers.get("authorization") != self.key or behaviour == "401":
            return self.json(401, {"error": "Unauthorized"})
        limits = {"X-Ratelimit-Limit": "20000", "X-Ratelimit-Remaining": str(self.remaining),
                  "X-Ratelimit-Reset": str(int(time.time()) + 3600)}
        if behaviour == "429":
            spent = {**limits, "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(int(time.time()) + self.reset_in)}
            return self.json(429, {"status": 429, "code": "Too Many Requests"},
                             **spent, **({"Retry-After": self.retry_after} if self.retry_after else {}))
        if behaviour == "503":
            return self.json(503, {"error": "Service Unavailable"})
        self.remaining -= 1
        if behaviour == "spent":  # the last request of the window: the next one must wait for the reset
            limits.update({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(int(time.time()) + self.reset_in)})
        shape = query.get("orientation", ["landscape"])[0]
        per_page = int(query.get("per_page", ["15"])[0])
        q = query.get("query", [""])[0]
        if path == "/videos/search":
            items = [] if behaviour == "empty" else (self.videos(shape) + self.matching(q, shape))[:per_page]
            data = {"page": 1, "per_page": per_page, "total_results": len(items), "videos": items,
                    "url": f"https://www.pexels.com/search/videos/{q}/"}
        else:
            items = [] if behaviour == "empty" else self.photos(shape)[:per_page]
            data = {"page": 1, "per_page": per_page, "total_results": len(items), "photos": items}
            if items:
                data["next_page"] = f"https://api.pexels.com/v1/search/?page=2&per_page={per_page}&query={q}"
        return self.json(200, data, **limits)

    def _video(self, vid: int, slug: str, size: tuple[int, int], files: list[tuple], user: str) -> dict:
        return {"id": vid, "width": size[0], "height": size[1], "duration": 3, "tags": [],
                "url": f"https://www.pexels.com/video/{slug}-{vid}/",
                "image": f"https://images.pexels.com/videos/{vid}/pictures/preview-0.jpeg",
                "full_res": None, "avg_color": None,
                "user": {"id": vid // 10, "name": user, "url": f"https://www.pexels.com/@{user.lower().replace(' ', '-')}"},
                "video_files": [{"id": vid * 10 + i, "quality": quality, "file_type": kind, "width": w, "height": h,
                                 "fps": 25.0, "link": self.file(name)}
                                for i, (quality, kind, w, h, name) in enumerate(files)],
                "video_pictures": [{"id": vid * 100 + n, "nr": n,
                                    "picture": f"https://images.pexels.com/videos/{vid}/pictures/preview-{n}.jpg"}
                                   for n in range(3)]}

    def matching(self, q: str, shape: str) -> list[dict]:
        """``per_query`` clips about the query (landscape 1080p), each with its own id and slug."""
        words = "-".join(q.lower().split()) or "footage"
        out = []
        for k in range(self.per_query):
            vid = 500000 + int(hashlib.sha1(f"{words}|{k}".encode()).hexdigest()[:6], 16)
            name = "tall-1080.mp4" if shape == "portrait" else "land-1080.mp4"
            size = (1080, 1920) if shape == "portrait" else (1920, 1080)
            out.append(self._video(vid, f"{words}-{self.VARIANTS[k % len(self.VARIANTS)]}", size,
                                   [("hd", "video/mp4", *size, name)], "Kai Stock"))
        return out

    def videos(self, shape: str) -> list[dict]:
        mp4 = "video/mp4"
        if shape == "portrait":
            return [self._video(34567, "a-jellyfish-drifting", (2160, 3840), [
                ("sd", mp4, 360, 640, "jelly-640.mp4"), ("hd", mp4, 720, 1280, "jelly-1280.mp4"),
                ("hd", mp4, 1920, 1080, "jelly-wide.mp4"),  # an odd rendition of the other shape
                ("hd", mp4, 1080, 1920, "tall-1080.mp4"), ("uhd", mp4, 2160, 3840, "jelly-3840.mp4")], "Mia Sea")]
        return [self._video(12345, "an-octopus-on-the-reef", (3840, 2160), [
                    ("sd", mp4, 640, 360, "octopus-360.mp4"), ("hd", mp4, 1280, 720, "octopus-720.mp4"),
                    ("hd", mp4, 1920, 1080, "land-1080.mp4"), ("uhd", mp4, 3840, 2160, "octopus-2160.mp4"),
                    ("hls", "application/x-mpegURL", None, None, "octopus.m3u8")], "Ana Diver"),
                self._video(23456, "coral-reef-fish", (1280, 720), [
                    ("sd", mp4, 640, 360, "reef-360.mp4"), ("hd", mp4, 1280, 720, "land-720.mp4")], "Leo Reef")]

    def photos(self, shape: str) -> list[dict]:
        pid, w, h, slug, alt = ((4000001, 3000, 4500, "octopus-eye-close-up", "Close-up of an octopus eye")
                                if shape == "portrait" else
                                (3573351, 6000, 4000, "octopus-in-blue-water", "Octopus swimming in blue water"))
        base = f"https://images.pexels.com/photos/{pid}/pexels-photo-{pid}.jpeg"
        return [{"id": pid, "width": w, "height": h, "url": f"https://www.pexels.com/photo/{slug}-{pid}/",
                 "photographer": "Lukas Reef", "photographer_url": "https://www.pexels.com/@lukas-reef",
                 "photographer_id": 1845331, "avg_color": "#374824", "liked": False, "alt": alt,
                 "src": {"original": self.file("still.jpg"), "large2x": self.file("still-large2x.jpg"),
                         "large": f"{base}?auto=compress&cs=tinysrgb&h=650&w=940",
                         "medium": f"{base}?auto=compress&cs=tinysrgb&h=350",
                         "small": f"{base}?auto=compress&cs=tinysrgb&h=130",
                         "portrait": f"{base}?auto=compress&cs=tinysrgb&fit=crop&h=1200&w=800",
                         "landscape": f"{base}?auto=compress&cs=tinysrgb&fit=crop&h=627&w=1200",
                         "tiny": f"{base}?auto=compress&cs=tinysrgb&dpr=1&fit=crop&h=200&w=280"}}]


class FakePixabay(MediaFake):
    """Pixabay: ``/api/`` (images) and ``/api/videos/``; the key in the query string."""

    def __init__(self, media, key: str = "12345-pixabaysecretkey0123456789"):
        super().__init__(media, key)

    @property
    def root(self) -> str:
        return f"{self.url}/api/"

    def respond(self, method, path, query, headers, body, behaviour):
        text = {"content-type": "text/plain; charset=utf-8"}
        limits = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "60"}
        if path not in ("/api/", "/api/videos/"):
            return 404, text, b"[ERROR 404] Not found."
        if query.get("key", [""])[0] != self.key:
            return 400, {**text, **limits}, b"[ERROR 400] Invalid or missing API key (https://pixabay.com/api/docs/)."
        if behaviour == "401":
            return 401, text, b"[ERROR 401] Unauthorized."
        if behaviour == "429":
            spent = {**limits, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(self.reset_in)}
            return 429, {**text, **spent}, b"[ERROR 429] Too many requests."
        if behaviour == "503":
            return 503, text, b"[ERROR 503] Service unavailable."
        if behaviour == "echo":  # an error body that repeats the request, key and all
            return 400, text, f"[ERROR 400] bad request {path}?key={self.key}; token {self.key} unknown".encode()
        per_page = int(query.get("per_page", ["20"])[0])
        if not 3 <= per_page <= 200:
            return 400, text, b'[ERROR 400] "per_page" is out of valid range.'
        hits = [] if behaviour == "empty" else (self.videos() if path == "/api/videos/" else
                                                 self.images(query.get("orientation", ["all"])[0]))[:per_page]
        return self.json(200, {"total": len(hits), "totalHits": len(hits), "hits": hits}, **limits)

    def _rendition(self, name: str | None, w: int, h: int) -> dict:
        if name is None:  # a size Pixabay does not have for this clip: empty fields, as the API sends
            return {"url": "", "width": 0, "height": 0, "size": 0, "thumbnail": ""}
        return {"url": self.file(name), "width": w, "height": h, "size": len(self.media.get(name, b"")) or 123456,
                "thumbnail": f"https://cdn.pixabay.com/video/2024/01/01/{name}.jpg"}

    def videos(self) -> list[dict]:
        common = {"type": "film", "duration": 3, "views": 4462, "downloads": 1464, "likes": 18, "comments": 0,
                  "userImageURL": "https://cdn.pixabay.com/user/2015/10/16/09-28-45-303_250x250.png"}
        return [{**common, "id": 125, "pageURL": "https://pixabay.com/videos/octopus-sea-ocean-125/",
                 "tags": "octopus, sea, ocean", "user_id": 1281706, "user": "Coverr-Free-Footage",
                 "videos": {"large": self._rendition("land-1080.mp4", 1920, 1080),
                            "medium": self._rendition("land-720.mp4", 1280, 720),
                            "small": self._rendition("pix-360.mp4", 640, 360),
                            "tiny": self._rendition("pix-tiny.mp4", 480, 270)}},
                {**common, "id": 126, "pageURL": "https://pixabay.com/videos/id-126/",
                 "tags": "jellyfish, water", "user_id": 42, "user": "Deep",
                 "videos": {"large": self._rendition(None, 0, 0),
                            "medium": self._rendition("tall-1080.mp4", 1080, 1920),
                            "small": self._rendition("pix-tall-720.mp4", 720, 1280),
                            "tiny": self._rendition("pix-tall-tiny.mp4", 360, 640)}}]

    def images(self, orientation: str) -> list[dict]:
        w, h = (4000, 6000) if orientation == "vertical" else (6000, 4000)
        return [{"id": 195893, "pageURL": "https://pixabay.com/photos/octopus-sea-creature-195893/", "type": "photo",
                 "tags": "octopus, sea creature, tentacles",
                 "previewURL": "https://cdn.pixabay.com/photo/2013/10/15/09/12/octopus-195893_150.jpg",
                 "previewWidth": 150, "previewHeight": 100,
                 "webformatURL": self.file("pix-web.jpg"), "webformatWidth": 640, "webformatHeight": 427,
                 "largeImageURL": self.file("still.jpg"), "imageWidth": w, "imageHeight": h, "imageSize": 4731420,
                 "views": 7671, "downloads": 6439, "collections": 3, "likes": 5, "comments": 2, "user_id": 48777,
                 "user": "Josch13", "userImageURL": "https://cdn.pixabay.com/user/2013/11/05/02-10-23-764_250x250.jpg"}]


class FakeOpenAIImages(MediaFake):
    """``POST /v1/images/generations`` for the openai SDK: a PNG as b64_json, or a signed url."""

    def __init__(self, media, key: str = "sk-openai-image-test-key"):
        super().__init__(media, key)

    def respond(self, method, path, query, headers, body, behaviour):
        if path != "/v1/images/generations":
            return self.json(404, {"error": {"message": "not found"}})
        if headers.get("authorization") != f"Bearer {self.key}" or behaviour == "401":
            return self.json(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                             "param": None, "code": "invalid_api_key"}})
        if behaviour in ("429", "quota"):
            code = "insufficient_quota" if behaviour == "quota" else "rate_limit_exceeded"
            return self.json(429, {"error": {"message": "Rate limit reached for images", "type": "requests",
                                             "param": None, "code": code}}, **{"retry-after-ms": "10"})
        if behaviour == "slow":  # the image takes longer than the client waits (it is made, and billed)
            time.sleep(1.5)
        if behaviour == "503":
            return self.json(503, {"error": {"message": "The server is overloaded"}}, **{"retry-after-ms": "10"})
        if behaviour == "refuse":
            return self.json(400, {"error": {
                "message": "Your request was rejected by the safety system. If you believe this is an error, "
                           "contact us at help.openai.com and include the request ID req_123.",
                "type": "image_generation_user_error", "param": None, "code": "moderation_blocked"}})
        request = json.loads(body)
        text_tokens = max(1, len(request["prompt"]) // 4)
        if behaviour == "url":
            item = {"url": self.file("still.png") + "?se=2026-01-01T00%3A00%3A00Z&sp=r&sig=SIGNEDSECRET123"}
        elif behaviour == "garbage":
            item = {"b64_json": base64.b64encode(b"<html>not an image</html>").decode()}
        else:
            item = {"b64_json": base64.b64encode(self.media["still.png"]).decode()}
        return self.json(200, {"created": int(time.time()), "background": "opaque", "output_format": "png",
                               "quality": request.get("quality"), "size": request.get("size"), "data": [item],
                               "usage": {"input_tokens": text_tokens, "output_tokens": 1056,
                                         "total_tokens": text_tokens + 1056,
                                         "input_tokens_details": {"image_tokens": 0, "text_tokens": text_tokens}}})

"""File downloads with HTTP range requests, validators and conditional requests (RFC 9110).

:func:`file_response` serves one file a job made (the video, its thumbnail, its captions). The route
decides *which* file; this module only decides *how*: the status (200, 206, 304, 416), the headers and the
bytes. It builds on Starlette's ``FileResponse``, which already streams in 64 KiB chunks, answers HEAD
with headers only, sends one range as 206 and several as ``multipart/byteranges``. What Starlette does
not do the way RFC 9110 asks is decided here, before it runs:

- a malformed ``Range`` (bad syntax, ``last < first``, an unknown unit) is ignored and the whole file sent
  as 200 (RFC 9110 14.2); Starlette answers 400;
- ``If-None-Match`` (and, without it, ``If-Modified-Since``) answers 304; Starlette ignores both;
- ``If-Range`` uses the strong comparison of RFC 9110 13.1.5, and a date only when Last-Modified is strong;
- the ETag is strong and exact (size and mtime in nanoseconds, not a float mtime hashed);
- ``Content-Disposition`` carries an ASCII ``filename`` for old clients and ``filename*`` (RFC 6266).

Starlette then gets the request with ``Range`` rewritten into the canonical, already-validated form (or
removed), so its own parser only ever sees ranges that are known good.

Limits: at most :data:`MAX_RANGES` ranges (after merging overlapping and adjacent ones) and a ``Range``
header of at most :data:`MAX_RANGE_HEADER` characters; past either the whole file is sent as 200, which
RFC 9110 allows (a server may ignore Range), and which stops a request for thousands of tiny ranges from
costing more than the file. Filenames are at most :data:`MAX_FILENAME` characters.
"""

from __future__ import annotations

import os
import re
import stat
import time
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

MAX_RANGES = 16
MAX_RANGE_HEADER = 1024
MAX_FILENAME = 255
CACHE_CONTROL = "private, no-cache"  # a download may change when a stage reruns: revalidate every time

MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",       # Starlette adds "; charset=utf-8": WebVTT is UTF-8 by definition
    ".ass": "text/x-ssa",     # Advanced SubStation Alpha has no registered type; x-ssa is what players know
    ".ssa": "text/x-ssa",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".json": "application/json",
    ".txt": "text/plain",
}

# RFC 9110 14.1.2: int-range "first-last" (last optional) or suffix-range "-n"; digits only, no signs.
_INT_RANGE = re.compile(r"^(\d{1,19})-(\d{0,19})$")
_SUFFIX_RANGE = re.compile(r"^-(\d{1,19})$")
# RFC 5987 attr-char: what may stand unescaped in filename*.
_ATTR_CHARS = "!#$&+-.^_`|~"


def media_type_for(path: Path | str) -> str:
    """The Content-Type of a job's file by its suffix (``application/octet-stream`` when unknown).

    A fixed table rather than :mod:`mimetypes`, whose answers depend on the machine's /etc/mime.types."""
    return MEDIA_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def file_response(request: Request, path: Path, media_type: str, filename: str) -> Response:
    """Serve ``path`` as a download, honouring Range, If-Range, If-None-Match and If-Modified-Since.

    Raises FileNotFoundError when ``path`` is missing or is not a regular file (the route answers 404),
    and ValueError for an empty filename or one longer than MAX_FILENAME characters."""
    st = _regular_file_stat(Path(path))
    headers = {
        "accept-ranges": "bytes",
        "etag": etag_for(st),
        "last-modified": formatdate(st.st_mtime_ns // 1_000_000_000, usegmt=True),
        "cache-control": CACHE_CONTROL,
        "content-disposition": content_disposition(filename),
        "x-content-type-options": "nosniff",  # a .vtt or .ass is text: never let a browser run it as HTML
    }
    if request.method in ("GET", "HEAD") and _not_modified(request.headers, st, headers["etag"]):
        return Response(status_code=304, headers={k: headers[k] for k in
                                                  ("etag", "last-modified", "cache-control", "accept-ranges")})

    ranges: list[tuple[int, int]] | None = None  # None: the whole file
    header = request.headers.get("range")
    if header is not None and request.method in ("GET", "HEAD") and _if_range_holds(request.headers, st, headers):
        parsed = parse_range(header, st.st_size)
        if parsed == []:  # well-formed, but nothing in the file: RFC 9110 15.5.17
            return Response(status_code=416, headers={"content-range": f"bytes */{st.st_size}",
                                                      "accept-ranges": "bytes", "etag": headers["etag"],
                                                      "cache-control": CACHE_CONTROL})
        ranges = parsed
    return _PreparedFileResponse(path, stat_result=st, headers=headers, media_type=media_type, ranges=ranges)


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable byte ranges of a Range header as merged, sorted (first, last) pairs (inclusive).

    None: ignore the header and send the whole file (malformed, another unit, an empty file, or past the
    limits). []: well-formed but not satisfiable (416)."""
    if len(header) > MAX_RANGE_HEADER:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    wanted: list[tuple[int, int]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:  # "1#" lists allow empty elements
            continue
        if m := _INT_RANGE.match(part):
            first, last = int(m[1]), int(m[2]) if m[2] else None
            if last is not None and last < first:
                return None  # invalid range-spec: the whole header is ignored
            if first < size:
                wanted.append((first, size - 1 if last is None else min(last, size - 1)))
        elif m := _SUFFIX_RANGE.match(part):
            length = int(m[1])
            if length > 0 and size > 0:
                wanted.append((max(size - length, 0), size - 1))
            elif length > 0:  # a suffix of an empty file is satisfiable but there is no byte to point at
                return None
        else:
            return None
    if not wanted and not spec.strip(" ,"):
        return None  # "bytes=" names no range at all: malformed, not unsatisfiable
    merged: list[tuple[int, int]] = []
    for first, last in sorted(wanted):
        if merged and first <= merged[-1][1] + 1:  # overlapping or adjacent: one part, not two
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return None if len(merged) > MAX_RANGES else merged


def etag_for(st: os.stat_result) -> str:
    """A strong validator: the size and the modification time to the nanosecond, in hex."""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """``attachment; filename="..."`` with an ASCII fallback, plus ``filename*`` when the name needs it
    (RFC 6266 section 4.3: clients that understand filename* prefer it)."""
    name = "".join("_" if unicodedata.category(c).startswith("C") or c in "/\\" else c for c in filename).strip()
    if not name:
        raise ValueError("A download needs a filename.")
    if len(name) > MAX_FILENAME:
        raise ValueError(f"The download's filename is {len(name)} characters long; the most is {MAX_FILENAME}.")
    # Drop accents (Café -> Cafe) before replacing what is still not ASCII, so the fallback stays readable.
    ascii_name = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    ascii_name = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_" for c in ascii_name)
    value = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"
    return value


class _PreparedFileResponse(FileResponse):
    """Starlette's FileResponse, handed the Range decision already made: the request's Range and If-Range
    are replaced by the canonical ranges (or removed), so Starlette streams exactly what was decided."""

    def __init__(self, path: Path, *, stat_result: os.stat_result, headers: Mapping[str, str], media_type: str,
                 ranges: list[tuple[int, int]] | None):
        super().__init__(path, headers=headers, media_type=media_type, stat_result=stat_result)
        self._range = None if ranges is None else \
            ("bytes=" + ",".join(f"{first}-{last}" for first, last in ranges)).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"range", b"if-range")]
        if self._range is not None:
            raw.append((b"range", self._range))
        await super().__call__({**scope, "headers": raw}, receive, send)


def _regular_file_stat(path: Path) -> os.stat_result:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"No file at {path}.") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileNotFoundError(f"{path} is not a regular file.")
    return st


def _entity_tags(value: str) -> list[str]:
    """The entity tags of an If-None-Match list, weak ones included (``W/"x"``), in their quoted form."""
    return re.findall(r'(?:W/)?"[^"]*"', value)


def _weak_match(a: str, b: str) -> bool:
    return a.removeprefix("W/") == b.removeprefix("W/")


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns // 1_000_000_000, timezone.utc)  # HTTP dates have whole seconds


def _not_modified(headers: Mapping[str, str], st: os.stat_result, etag: str) -> bool:
    """RFC 9110 13.2.2 steps 3 and 4: If-None-Match (weak comparison); only without it, If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        return any(_weak_match(tag, etag) for tag in _entity_tags(if_none_match))
    since = headers.get("if-modified-since")
    when = _http_date(since) if since else None
    return when is not None and _mtime(st) <= when


def _if_range_holds(headers: Mapping[str, str], st: os.stat_result, ours: Mapping[str, str]) -> bool:
    """RFC 9110 13.1.5: without If-Range the Range applies; with it, only if the validator still matches
    (strong comparison for an entity tag; an exact date, and only when Last-Modified is strong)."""
    value = headers.get("if-range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == ours["etag"]  # a weak tag never matches: the bytes could differ
    when = _http_date(value)
    # A Last-Modified is strong when the file is at least a second older than now (RFC 9110 8.8.2.2):
    # a file changed twice within one second would otherwise share a date.
    strong = time.time() - st.st_mtime_ns / 1e9 >= 1
    return when is not None and strong and when == _mtime(st)

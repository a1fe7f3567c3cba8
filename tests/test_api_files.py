"""api/files.py over a real loopback server: ranges, validators, HEAD and big files, as a client sees them."""

from __future__ import annotations

import hashlib
import os
import re
import time
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.files import MAX_RANGES, content_disposition, file_response, media_type_for, parse_range
from api_server import serve_asgi

DATA = bytes(range(256)) * 4  # 1024 bytes; every offset's byte is known
OLD = 1_700_000_000  # a modification time well in the past, so Last-Modified is a strong validator


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("downloads")
    (root / "small.bin").write_bytes(DATA)
    (root / "empty.bin").write_bytes(b"")
    (root / "big.mp4").write_bytes(os.urandom(5 * 1024 * 1024 + 123))  # not a multiple of the chunk size
    (root / "cap.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nHéllo\n", encoding="utf-8")
    for f in root.iterdir():
        os.utime(f, (OLD, OLD))
    return root


@pytest.fixture(scope="module")
def base(files):
    async def download(request: Request):
        name = request.path_params["name"]
        try:
            return file_response(request, files / name, media_type_for(name),
                                 request.query_params.get("as", name))
        except FileNotFoundError as exc:
            return PlainTextResponse(str(exc), status_code=404)

    app = Starlette(routes=[Route("/f/{name}", download, methods=["GET"])])
    with serve_asgi(app) as url:
        yield url


@pytest.fixture
def client(base):
    with httpx.Client(base_url=base, timeout=30) as c:
        yield c


def test_whole_file_with_every_header(client):
    r = client.get("/f/small.bin")
    assert r.status_code == 200 and r.content == DATA
    h = r.headers
    assert h["accept-ranges"] == "bytes"
    assert h["content-length"] == "1024"
    assert h["cache-control"] == "private, no-cache"
    assert h["last-modified"] == formatdate(OLD, usegmt=True)
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', h["etag"])  # strong: no W/
    assert h["etag"] == f'"{1024:x}-{OLD * 10**9:x}"'
    assert h["content-disposition"] == 'attachment; filename="small.bin"'
    assert h["content-type"] == "application/octet-stream"


@pytest.mark.parametrize("spec, first, last", [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, 1023),
    ("bytes=-10", 1014, 1023),
    ("bytes=1000-5000", 1000, 1023),   # a last past the end is clipped
    ("bytes=-5000", 0, 1023),          # a suffix longer than the file is the whole file, as 206
    ("BYTES = 5-5", 5, 5),             # the unit is case-insensitive
])
def test_single_ranges_send_exactly_those_bytes(client, spec, first, last):
    r = client.get("/f/small.bin", headers={"Range": spec})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {first}-{last}/1024"
    assert r.headers["content-length"] == str(last - first + 1)
    assert r.content == DATA[first:last + 1]


@pytest.mark.parametrize("spec", ["bytes=1024-", "bytes=5000-6000", "bytes=-0", "bytes=2000-,3000-3001"])
def test_unsatisfiable_range_is_416_with_the_size(client, spec):
    r = client.get("/f/small.bin", headers={"Range": spec})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */1024"


def test_any_range_of_an_empty_file_is_416_but_a_plain_get_works(client):
    assert client.get("/f/empty.bin", headers={"Range": "bytes=0-0"}).status_code == 416
    r = client.get("/f/empty.bin")
    assert r.status_code == 200 and r.content == b""


@pytest.mark.parametrize("spec", ["bytes=abc", "bytes=5-2", "bytes=", "bytes=1-2,x", "items=0-5", "0-5",
                                  "bytes=+1-2", "bytes=1--2", "bytes=" + ",".join(["0-0"] * 600)])
def test_malformed_range_is_ignored_and_the_whole_file_sent(client, spec):
    r = client.get("/f/small.bin", headers={"Range": spec})
    assert r.status_code == 200 and r.content == DATA and "content-range" not in r.headers


def test_several_ranges_come_as_multipart_byteranges(client):
    r = client.get("/f/small.bin", headers={"Range": "bytes=0-9, 500-509, -4"})
    assert r.status_code == 206
    kind, _, boundary = r.headers["content-type"].partition("; boundary=")
    assert kind == "multipart/byteranges" and boundary
    assert int(r.headers["content-length"]) == len(r.content)
    parts = [p for p in r.content.split(f"--{boundary}".encode()) if p not in (b"", b"--")]
    got = []
    for part in parts:
        head, _, body = part.partition(b"\r\n\r\n")
        rng = re.search(rb"Content-Range: bytes (\d+)-(\d+)/1024", head)
        assert b"Content-Type: application/octet-stream" in head
        first, last = int(rng[1]), int(rng[2])
        assert body.removesuffix(b"\r\n") == DATA[first:last + 1]
        got.append((first, last))
    assert got == [(0, 9), (500, 509), (1020, 1023)]


def test_overlapping_and_adjacent_ranges_merge_into_one_part(client):
    r = client.get("/f/small.bin", headers={"Range": "bytes=10-19,0-9,15-29"})
    assert r.status_code == 206 and r.headers["content-range"] == "bytes 0-29/1024"
    assert r.content == DATA[:30]


def test_too_many_ranges_send_the_whole_file():
    spec = "bytes=" + ",".join(f"{i * 10}-{i * 10}" for i in range(MAX_RANGES + 1))
    assert parse_range(spec, 1024) is None
    assert len(parse_range("bytes=" + ",".join(f"{i * 10}-{i * 10}" for i in range(MAX_RANGES)), 1024)) == MAX_RANGES


def test_if_range_with_the_current_etag_or_date_gets_the_range(client):
    etag = client.head("/f/small.bin").headers["etag"]
    for validator in (etag, formatdate(OLD, usegmt=True)):
        r = client.get("/f/small.bin", headers={"Range": "bytes=0-3", "If-Range": validator})
        assert r.status_code == 206 and r.content == DATA[:4]


@pytest.mark.parametrize("validator", ['"other"', "W/{etag}", formatdate(OLD - 60, usegmt=True), "not a date"])
def test_if_range_that_no_longer_matches_gets_the_whole_file(client, validator):
    etag = client.head("/f/small.bin").headers["etag"]
    r = client.get("/f/small.bin", headers={"Range": "bytes=0-3", "If-Range": validator.format(etag=etag)})
    assert r.status_code == 200 and r.content == DATA


def test_if_range_with_a_date_is_weak_for_a_file_changed_this_second(files, client):
    fresh = files / "fresh.bin"
    fresh.write_bytes(DATA)
    soon = time.time() + 30  # "changed this second" without racing the clock: a date the file cannot be older than
    os.utime(fresh, (soon, soon))
    try:
        date = client.head("/f/fresh.bin").headers["last-modified"]
        r = client.get("/f/fresh.bin", headers={"Range": "bytes=0-3", "If-Range": date})
        assert r.status_code == 200  # the date could name two versions of the file
    finally:
        fresh.unlink()


def test_if_none_match_answers_304_with_the_validators(client):
    etag = client.head("/f/small.bin").headers["etag"]
    for value in (etag, f'"nope", W/{etag}', "*"):
        r = client.get("/f/small.bin", headers={"If-None-Match": value, "Range": "bytes=0-3"})
        assert r.status_code == 304 and r.content == b""
        assert r.headers["etag"] == etag and r.headers["cache-control"] == "private, no-cache"
    assert client.get("/f/small.bin", headers={"If-None-Match": '"nope"'}).status_code == 200


def test_if_modified_since_answers_304_unless_the_file_is_newer(client):
    assert client.get("/f/small.bin", headers={"If-Modified-Since": formatdate(OLD, usegmt=True)}).status_code == 304
    r = client.get("/f/small.bin", headers={"If-Modified-Since": formatdate(OLD - 1, usegmt=True)})
    assert r.status_code == 200 and r.content == DATA
    both = {"If-Modified-Since": formatdate(OLD, usegmt=True), "If-None-Match": '"nope"'}
    assert client.get("/f/small.bin", headers=both).status_code == 200  # If-None-Match wins


def test_head_sends_the_headers_and_no_body(client):
    r = client.head("/f/small.bin")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == "1024" and r.headers["accept-ranges"] == "bytes"
    r = client.head("/f/small.bin", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == b""
    assert r.headers["content-range"] == "bytes 10-19/1024" and r.headers["content-length"] == "10"


def test_a_5_mb_video_streams_whole_and_in_ranges(files, client):
    data = (files / "big.mp4").read_bytes()
    with client.stream("GET", "/f/big.mp4") as r:
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        digest, chunks = hashlib.sha256(), 0
        for chunk in r.iter_raw():
            digest.update(chunk)
            chunks += 1
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert chunks > 1  # it came in pieces, not as one body built in memory
    mid = len(data) // 2
    r = client.get("/f/big.mp4", headers={"Range": f"bytes={mid}-{mid + 200_000}"})
    assert r.status_code == 206 and r.content == data[mid:mid + 200_001]
    r = client.get("/f/big.mp4", headers={"Range": "bytes=-70000"})
    assert r.content == data[-70000:]


def test_non_ascii_filename_has_an_ascii_fallback_and_filename_star(client):
    r = client.get("/f/cap.vtt", params={"as": "Café — 東京.vtt"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/vtt; charset=utf-8"
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"Cafe _ __.vtt\"; filename*=UTF-8''Caf%C3%A9%20%E2%80%94%20%E6%9D%B1%E4%BA%AC.vtt")


def test_missing_file_is_the_routes_404(client):
    assert client.get("/f/nothing.mp4").status_code == 404


@pytest.mark.parametrize("name, expected", [
    ('say "hi"\\now.mp4', "attachment; filename=\"say _hi__now.mp4\"; filename*=UTF-8''say%20%22hi%22_now.mp4"),
    ("a/b\nc.srt", 'attachment; filename="a_b_c.srt"'),
    ("100%.png", "attachment; filename=\"100_.png\"; filename*=UTF-8''100%25.png"),
])
def test_content_disposition_escapes_what_would_break_the_header(name, expected):
    assert content_disposition(name) == expected


@pytest.mark.parametrize("name", ["", "  ", "x" * 256])
def test_content_disposition_refuses_an_empty_or_overlong_name(name):
    with pytest.raises(ValueError):
        content_disposition(name)


@pytest.mark.parametrize("name, kind", [
    ("v.mp4", "video/mp4"), ("t.JPG", "image/jpeg"), ("t.jpeg", "image/jpeg"), ("t.png", "image/png"),
    ("c.srt", "application/x-subrip"), ("c.vtt", "text/vtt"), ("c.ass", "text/x-ssa"),
    ("x.unknown", "application/octet-stream"), ("noext", "application/octet-stream"),
])
def test_media_types(name, kind):
    assert media_type_for(name) == kind

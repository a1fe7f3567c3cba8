"""The media cache: content-addressed blobs, pointers per source id, downloads made once and
bounded, files owner-only, a crash or a refusal never leaving half a file behind."""

from __future__ import annotations

import hashlib
import json
import stat
import time
from pathlib import Path

import httpx
import pytest

from fakes_media import FakePexels
from pipeline.media.cache import MediaCache, MediaTooLarge, download_into, store_bytes
from pipeline.providers.base import MediaStore, ProviderError, TransientError


@pytest.fixture
def cdn(media):
    with FakePexels(media) as fake:
        yield fake


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_file_stores_by_content_with_a_pointer_per_source(tmp_path):
    cache = MediaCache(tmp_path / "media")
    assert isinstance(cache, MediaStore)
    src = tmp_path / "clip.MP4"
    src.write_bytes(b"clip bytes")
    path = cache.put_file("pexels", "video:1", src, {"author": "Ana"})
    digest = hashlib.sha256(b"clip bytes").hexdigest()
    assert path == tmp_path / "media" / "blobs" / digest[:2] / f"{digest}.mp4"
    assert path.read_bytes() == b"clip bytes" and src.exists()  # copied: the caller's file is left alone
    pointer = tmp_path / "media" / "index" / "pexels" / f"{hashlib.sha1(b'video:1').hexdigest()}.json"
    record = json.loads(pointer.read_text())
    assert record["sha256"] == digest and record["bytes"] == 10 and record["meta"] == {"author": "Ana"}
    assert record["path"] == f"blobs/{digest[:2]}/{digest}.mp4"  # relative: the data directory can move
    assert cache.get("pexels", "video:1") == path and cache.get("pexels", "video:2") is None
    assert mode(path) == 0o600 and mode(pointer) == 0o600
    assert all(mode(d) == 0o700 for d in (tmp_path / "media", path.parent, pointer.parent))
    assert list(cache.staging.iterdir()) == []  # nothing left aside


def test_identical_content_is_stored_once(tmp_path):
    cache = MediaCache(tmp_path / "media")
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(b"same picture")
    first = cache.put_file("pexels", "photo:1", tmp_path / "a.jpg")
    second = cache.put_file("pixabay", "photo:9", tmp_path / "b.jpg")
    assert first == second
    assert len(files_under(tmp_path / "media" / "blobs")) == 1
    assert len(files_under(tmp_path / "media" / "index")) == 2


def test_a_pointer_whose_blob_is_gone_or_damaged_is_a_miss(tmp_path):
    cache = MediaCache(tmp_path / "media")
    (tmp_path / "x.png").write_bytes(b"png")
    path = cache.put_file("openai-image", "gen:1", tmp_path / "x.png")
    path.write_bytes(b"pn")  # truncated by something outside
    assert cache.get("openai-image", "gen:1") is None
    path.unlink()
    assert cache.get("openai-image", "gen:1") is None
    pointer = next((tmp_path / "media" / "index").rglob("*.json"))
    pointer.write_text(json.dumps({"path": "../../etc/passwd", "bytes": 1}))  # a crafted pointer
    assert cache.get("openai-image", "gen:1") is None
    pointer.write_text("{not json")
    assert cache.get("openai-image", "gen:1") is None


def test_provider_names_cannot_leave_the_index(tmp_path):
    with pytest.raises(ValueError, match="provider name"):
        MediaCache(tmp_path).get("../escape", "1")


def test_meta_never_keeps_a_credential(tmp_path):
    cache = MediaCache(tmp_path / "media")
    (tmp_path / "f.jpg").write_bytes(b"f")
    cache.put_file("pixabay", "photo:1", tmp_path / "f.jpg", {"url": "https://x.test/a?key=SECRET&q=1"})
    assert "SECRET" not in "".join(p.read_text() for p in files_under(tmp_path / "media" / "index"))


def test_download_happens_once_across_sources_and_videos(tmp_path, cdn, media):
    url = cdn.file("land-1080.mp4")
    with httpx.Client() as http:
        first = MediaCache(tmp_path / "media").download("pexels", "video:1", url, http, 10**7, {"job": 1})
        # another video (another job, another MediaCache over the same folder) asks for the same clip
        again = MediaCache(tmp_path / "media").download("pexels", "video:1", url, http, 10**7, {"job": 2})
        # the same bytes offered by another source under its own id: downloaded, but stored once
        other = download_into(MediaCache(tmp_path / "media"), "pixabay", "video:125", url, http, 10**7)
    assert first == again == other and first.read_bytes() == media["land-1080.mp4"]
    assert cdn.downloads["land-1080.mp4"] == 2  # pexels once, pixabay once; the second video nothing
    assert len(files_under(tmp_path / "media" / "blobs")) == 1
    assert first.suffix == ".mp4"
    assert list((tmp_path / "media" / "staging").iterdir()) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["declared-length", "streamed-without-length"])
def test_a_download_over_the_byte_limit_is_refused_and_leaves_nothing(tmp_path, cdn, media, chunked):
    cdn.chunked = chunked
    cache = MediaCache(tmp_path / "media")
    limit = len(media["land-1080.mp4"]) - 1
    with httpx.Client() as http, pytest.raises(MediaTooLarge, match="larger than"):
        cache.download("pexels", "video:1", cdn.file("land-1080.mp4"), http, limit)
    assert cache.get("pexels", "video:1") is None
    assert files_under(tmp_path / "media") == []  # no blob, no pointer, no partial file
    with httpx.Client() as http:  # at the limit exactly it is fine
        assert cache.download("pexels", "video:1", cdn.file("land-1080.mp4"), http, limit + 1).is_file()


def test_download_failures_are_typed_and_keep_nothing(tmp_path, cdn):
    cache = MediaCache(tmp_path / "media")
    with httpx.Client() as http:
        with pytest.raises(ProviderError, match="removed at the source") as gone:
            cache.download("pexels", "video:1", cdn.file("missing.mp4"), http, 10**6)
        assert not isinstance(gone.value, TransientError) and gone.value.provider == "pexels"
        with pytest.raises(TransientError, match="failed"):
            cache.download("pexels", "video:1", "http://127.0.0.1:9/x.mp4", http, 10**6)
    assert files_under(tmp_path / "media") == []


def test_an_html_page_is_not_taken_for_a_picture(tmp_path, cdn):
    cdn.media["page.jpg"] = b"<html>blocked</html>"
    cdn.content_types["page.jpg"] = "text/html"
    with httpx.Client() as http, pytest.raises(ProviderError, match="text/html, not a image"):
        MediaCache(tmp_path / "media").download("pexels", "photo:1", cdn.file("page.jpg"), http, 10**6, expect="image")


def test_store_bytes_writes_aside_then_renames(tmp_path):
    cache = MediaCache(tmp_path / "media")
    path = store_bytes(cache, "openai-image", "gen:abc", b"\x89PNG\r\n\x1a\nrest", ".png", {"model": "gpt-image-1"})
    assert path.suffix == ".png" and cache.get("openai-image", "gen:abc") == path
    assert list(cache.staging.iterdir()) == []


def test_search_answers_are_remembered_for_their_lifetime(tmp_path):
    cache = MediaCache(tmp_path / "media")
    assert cache.recall("pexels", "octopus", 60) is None
    cache.remember("pexels", "https://api.test/?q=octopus&key=SECRET", {"videos": [1]})
    assert cache.recall("pexels", "https://api.test/?q=octopus&key=SECRET", 60) == {"videos": [1]}
    later = time.time() + 61
    assert cache.recall("pexels", "https://api.test/?q=octopus&key=SECRET", 60, now=later) is None
    assert "SECRET" not in "".join(p.read_text() for p in files_under(tmp_path / "media" / "searches"))


def test_prune_removes_the_least_recently_used_and_never_what_is_kept(tmp_path):
    import os
    import time as t

    cache = MediaCache(tmp_path / "media")
    paths = {}
    for n, name in enumerate(("old", "kept", "used", "new")):
        src = tmp_path / f"{name}.bin"
        src.write_bytes(bytes([n]) * 1000)
        paths[name] = cache.put_file("pexels", f"video:{name}", src)
        os.utime(paths[name], (t.time() - 1000 + n * 100,) * 2)  # put in this order, oldest first
    assert cache.get("pexels", "video:used") is not None  # a use makes it the most recent
    removed, freed = cache.prune(2000, keep={paths["kept"]})
    assert (removed, freed) == (2, 2000)
    assert cache.get("pexels", "video:old") is None and cache.get("pexels", "video:new") is None  # the LRU two
    assert cache.get("pexels", "video:kept") is not None and cache.get("pexels", "video:used") is not None
    assert cache.prune(10**9) == (0, 0)
    assert MediaCache(tmp_path / "nothing").prune(0) == (0, 0)

"""The media cache: every picture and clip a source downloaded or generated, stored once by content.

    <media dir>/blobs/<sha256[:2]>/<sha256><ext>           the bytes, named by their SHA-256
    <media dir>/index/<provider>/<sha1 of source id>.json  {sha256, path, bytes, meta}: what a source id holds
    <media dir>/searches/<provider>/<sha1 of key>.json     stock search answers, kept a day (both services ask)
    <media dir>/staging/                                   downloads in progress, renamed into blobs/ when whole

A second video asking for the same clip finds its pointer and downloads nothing; two sources
offering the same bytes share one blob. Every file is written aside, flushed to disk and renamed
into place, so a crash leaves either nothing or a whole file, never half of one. Everything is
readable by its owner only. Nothing here writes to the database (stages never do).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from pipeline.files import OWNER_FILE, inside, private_dir, private_file
from pipeline.providers.base import MediaStore, ProviderError, TransientError
from pipeline.providers.http import redact

MAX_VIDEO_BYTES = 500 * 1024 * 1024  # a 20-second 4K stock clip is ~150 MB; past this something is wrong
MAX_IMAGE_BYTES = 50 * 1024 * 1024
DOWNLOAD_DEADLINE_S = 900.0  # a whole download, however it trickles (the client's timeout is per read)
CHUNK = 1 << 16
EXTENSIONS = {".mp4", ".m4v", ".mov", ".webm", ".jpg", ".jpeg", ".png", ".webp", ".gif"}
CONTENT_TYPES = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "image/jpeg": ".jpg",
                 "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}
NOT_MEDIA = {"application/json", "application/xml", "application/xhtml+xml", "application/problem+json"}
_PROVIDER = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# Two threads asking for the same clip: one downloads, the other waits and finds it. Striped so the
# table never grows; two keys sharing a stripe only wait for each other.
_LOCKS = [threading.Lock() for _ in range(64)]


class MediaTooLarge(ProviderError):
    """A download bigger than the limit for its kind: refused, nothing kept."""


def byte_limit(kind: str) -> int:
    """The largest file accepted for a candidate of ``kind`` ("video" or "image")."""
    return MAX_VIDEO_BYTES if kind == "video" else MAX_IMAGE_BYTES


class MediaCache:
    """The content-addressed cache under ``root`` (``Settings.media_dir``); implements MediaStore."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def staging(self) -> Path:
        """Where downloads are written before they are whole (same filesystem: the move is a rename)."""
        return self._mkdir(self.root / "staging")

    def _mkdir(self, folder: Path) -> Path:
        """``folder`` and every folder between it and the root, owner-only."""
        current = private_dir(self.root)
        for name in folder.relative_to(self.root).parts:
            current = private_dir(current / name)
        return folder

    # -- pointers ------------------------------------------------------------------------------

    def record(self, provider: str, source_id: str) -> dict | None:
        """The pointer of (provider, source_id) when its blob is still there, whole; else None."""
        pointer = self._pointer(provider, source_id)  # an unsafe provider name is an error, not a miss
        try:
            record = json.loads(pointer.read_text(encoding="utf-8"))
            blob = inside(self.root / record["path"], self.root / "blobs")
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if blob is None or not blob.is_file() or blob.stat().st_size != record.get("bytes"):
            return None
        return {**record, "path": str(blob)}

    def get(self, provider: str, source_id: str) -> Path | None:
        """The cached file for (provider, source_id), or None. A hit counts as a use (see :meth:`prune`)."""
        record = self.record(provider, source_id)
        if not record:
            return None
        try:
            os.utime(record["path"])
        except OSError:
            pass
        return Path(record["path"])

    def prune(self, max_bytes: int, keep: set[Path] | frozenset = frozenset()) -> tuple[int, int]:
        """Remove the least recently used blobs until the cache holds at most ``max_bytes``, never one in
        ``keep`` (what unrendered jobs still need). Returns (files removed, bytes freed). A pointer to a
        removed blob is a miss from then on: the file is fetched again if a video wants it."""
        blobs = self.root / "blobs"
        if not blobs.is_dir():
            return 0, 0
        found = []
        for path in blobs.rglob("*"):
            try:
                if path.is_file() and not path.is_symlink():
                    st = path.stat()
                    found.append((st.st_mtime, st.st_size, path))
            except OSError:
                continue
        total = sum(size for _, size, _ in found)
        kept = {Path(k).resolve() for k in keep}
        removed = freed = 0
        for _, size, path in sorted(found):
            if total <= max_bytes:
                break
            if path.resolve() in kept:
                continue
            path.unlink(missing_ok=True)
            total, removed, freed = total - size, removed + 1, freed + size
        return removed, freed

    def put_file(self, provider: str, source_id: str, path: Path, meta: dict | None = None) -> Path:
        """Store a finished file under (provider, source_id) and return its cached path. A file in
        :attr:`staging` is renamed in (it is ours); any other is copied and left where it was."""
        path = Path(path)
        staged = path.resolve().parent == self.staging.resolve()
        tmp = path if staged else self._copy_aside(path)
        try:
            digest, size = _digest(tmp)
            blob = self.root / "blobs" / digest[:2] / f"{digest}{_extension(path.suffix)}"
            if not (blob.is_file() and blob.stat().st_size == size):  # identical content is stored once
                self._mkdir(blob.parent)
                _fsync(tmp)
                os.replace(tmp, blob)
                private_file(blob)
                _fsync_dir(blob.parent)
        finally:
            tmp.unlink(missing_ok=True)
        record = {"provider": provider, "source_id": source_id, "sha256": digest,
                  "path": blob.relative_to(self.root).as_posix(), "bytes": size,
                  "stored_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "meta": _clean(meta or {})}
        pointer = self._pointer(provider, source_id)
        self._mkdir(pointer.parent)
        _write_json(pointer, record)
        return blob

    def download(self, provider: str, source_id: str, url: str, client: httpx.Client, max_bytes: int,
                 meta: dict | None = None, *, expect: str | None = None) -> Path:
        """The cached file for (provider, source_id), downloading ``url`` first when it is not cached."""
        return download_into(self, provider, source_id, url, client, max_bytes, meta, expect=expect)

    # -- remembered search answers ---------------------------------------------------------------

    def recall(self, provider: str, key: str, max_age_s: float, now: float | None = None) -> object | None:
        """A search answer remembered under ``key`` no longer ago than ``max_age_s``, or None."""
        memo = self._memo(provider, key)
        try:
            saved = json.loads(memo.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        age = (time.time() if now is None else now) - float(saved.get("at", 0))
        return saved.get("data") if 0 <= age <= max_age_s else None

    def remember(self, provider: str, key: str, data: object) -> None:
        """Keep a search answer (credentials redacted) for :meth:`recall`."""
        memo = self._memo(provider, key)
        self._mkdir(memo.parent)
        _write_json(memo, {"at": time.time(), "key": redact(key), "data": _clean(data)})

    # -- layout ----------------------------------------------------------------------------------

    def _pointer(self, provider: str, source_id: str) -> Path:
        return self.root / "index" / _safe(provider) / f"{_sha1(source_id)}.json"

    def _memo(self, provider: str, key: str) -> Path:
        return self.root / "searches" / _safe(provider) / f"{_sha1(key)}.json"

    def _copy_aside(self, path: Path) -> Path:
        fd, name = tempfile.mkstemp(prefix=".put-", suffix=path.suffix, dir=self.staging)
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out, CHUNK)
        return Path(name)


def download_into(store: MediaStore, provider: str, source_id: str, url: str, client: httpx.Client,
                  max_bytes: int, meta: dict | None = None, *, expect: str | None = None,
                  deadline_s: float = DOWNLOAD_DEADLINE_S) -> Path:
    """Download ``url`` into any MediaStore once: a cached (provider, source_id) is returned at once.

    The body is streamed to a staging file, counting bytes: a declared or actual size over
    ``max_bytes`` is refused (MediaTooLarge) and nothing is kept. ``expect`` ("video" or "image")
    refuses an answer that is plainly something else (an HTML error page served with 200)."""
    found = store.get(provider, source_id)
    if found is not None:
        return found
    with _LOCKS[hash((str(getattr(store, "root", id(store))), provider, source_id)) % len(_LOCKS)]:
        found = store.get(provider, source_id)  # another thread fetched it while we waited
        if found is not None:
            return found
        staging = getattr(store, "staging", None) or Path(tempfile.gettempdir())
        tmp = _stream(provider, url, client, max_bytes, expect, deadline_s, Path(staging))
        try:
            return store.put_file(provider, source_id, tmp, {**(meta or {}), "url": redact(url)})
        finally:
            tmp.unlink(missing_ok=True)


def store_bytes(store: MediaStore, provider: str, source_id: str, data: bytes, ext: str,
                meta: dict | None = None) -> Path:
    """Put bytes made here (a generated image) into any MediaStore, written aside first."""
    staging = getattr(store, "staging", None) or Path(tempfile.gettempdir())
    fd, name = tempfile.mkstemp(prefix=".gen-", suffix=_extension(ext), dir=staging)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        return store.put_file(provider, source_id, tmp, meta)
    finally:
        tmp.unlink(missing_ok=True)


def _stream(provider: str, url: str, client: httpx.Client, max_bytes: int, expect: str | None,
            deadline_s: float, staging: Path) -> Path:
    shown = redact(url)
    started = time.monotonic()
    try:
        with client.stream("GET", url) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise TransientError(f"the download of {shown} answered {status}; try again later", provider=provider)
            if status >= 300:
                raise ProviderError(f"the file at {shown} cannot be downloaded ({status}): it may have been "
                                    "removed at the source", provider=provider)
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if expect and (kind.startswith("text/") or kind in NOT_MEDIA):
                raise ProviderError(f"{shown} answered {kind}, not a {expect}", provider=provider)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(provider, shown, int(declared), max_bytes)
            ext = _extension(Path(urlsplit(url).path).suffix) or CONTENT_TYPES.get(kind, "")
            fd, name = tempfile.mkstemp(prefix=".dl-", suffix=ext, dir=staging)
            tmp, size = Path(name), 0
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:  # a missing or lying Content-Length is caught here
                            raise _too_large(provider, shown, size, max_bytes)
                        if time.monotonic() - started > deadline_s:
                            raise TransientError(f"the download of {shown} took over {deadline_s:.0f} s",
                                                 provider=provider)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if size == 0:
                    raise ProviderError(f"{shown} answered an empty file", provider=provider)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
    except httpx.TimeoutException as exc:
        raise TransientError(f"the download of {shown} timed out ({redact(exc)})", provider=provider) from None
    except httpx.TransportError as exc:
        raise TransientError(f"the download of {shown} failed ({redact(exc)})", provider=provider) from None
    return tmp


def _too_large(provider: str, shown: str, size: int, limit: int) -> MediaTooLarge:
    return MediaTooLarge(f"{shown} is larger than the {limit / 1024 ** 2:.0f} MB allowed for it "
                         f"({size / 1024 ** 2:.1f} MB at least): refused", provider=provider)


def _safe(provider: str) -> str:
    if not _PROVIDER.fullmatch(provider or ""):
        raise ValueError(f"{provider!r} is not a provider name the media cache can file under")
    return provider


def _sha1(text: str) -> str:
    return hashlib.sha1(str(text).encode("utf-8")).hexdigest()


def _extension(suffix: str) -> str:
    suffix = (suffix or "").lower()
    suffix = suffix if suffix.startswith(".") else f".{suffix}" if suffix else ""
    return suffix if suffix in EXTENSIONS else ""


def _digest(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _clean(data: object) -> object:
    """JSON-safe, and without credentials in any URL it holds (a provider's slip never reaches disk)."""
    return json.loads(redact(json.dumps(data, default=str)))


def _write_json(path: Path, data: object) -> None:
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, OWNER_FILE)
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:  # the rename itself survives a power cut only once the folder is flushed (POSIX)
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""The operator's own media: folders of pictures and clips, indexed in DuckDB and searched by meaning.

:func:`index_folder` walks a folder (images: jpg, jpeg, png, webp; clips: mp4, mov, webm, mkv),
reads each file's size, length and shape, and embeds a text made of its sidecar caption and tags
(``<file>.txt``, or ``<file>.json`` with "caption" and "tags"; ``<stem>.txt`` and ``<stem>.json``
work too), its file name and its sub-folders' names ("octopus-opening-jar_01.mp4" -> "octopus
opening jar") with the process's MiniLM model into ``media_files.embedding``. Indexing again is
incremental: a file whose size, mtime and text are unchanged costs a stat and a small read.

:class:`LibrarySource` is the "library" scene source: it ranks the indexed files by cosine
similarity to a scene's query (DuckDB's ``array_cosine_similarity`` over FLOAT[384]) and hands
back the file itself, never a copy, after checking it is still inside its folder.

Limits: :data:`MAX_FILES` media files per folder; :data:`MAX_IMAGE_BYTES` and
:data:`MAX_IMAGE_PIXELS` per image; :data:`MAX_CLIP_BYTES` per clip; :data:`MAX_SIDECAR_BYTES` per
sidecar. Files past a limit and files that cannot be read are counted by reason in the
:class:`IndexReport`, never fatal.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline.costs import Usage
from pipeline.db import Database
from pipeline.files import inside
from pipeline.providers.base import Candidate, MediaStore, ProviderError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})
CLIP_EXTENSIONS = frozenset({".mp4", ".mov", ".webm", ".mkv"})
MAX_FILES = 20_000
MAX_IMAGE_BYTES = 50 * 2**20
MAX_CLIP_BYTES = 4 * 2**30
MAX_IMAGE_PIXELS = 100_000_000  # a 10,000 x 10,000 picture; a frame needs two megapixels
MAX_SIDECAR_BYTES = 64 * 2**10
MAX_TEXT_CHARS = 1_000
PROBE_TIMEOUT_S = 30.0  # a header read takes well under a second; a dead network share must not hang indexing
DIMS = 384

_NAME_NOISE = {"img", "dsc", "dscn", "dcim", "pxl", "vid", "mov", "mvi", "gopr", "clip", "copy", "final", "edit",
               "edited", "export", "untitled", "photo", "image", "video", "screenshot", "hd", "uhd", "fhd", "4k", "raw"}
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NAME_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


class LibraryError(ValueError):
    """The folder cannot be indexed as asked (missing, not a folder, overlapping another one)."""


@dataclass
class IndexReport:
    """What one indexing pass did. ``skipped`` counts the files left out, by reason."""

    folder: str
    files: int = 0  # media files in the index for this folder after the pass
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: Counter = field(default_factory=Counter)
    unnamed: int = 0  # indexed, but with no words to search by: name them or give them a caption
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the operator."""
        parts = [(f"{self.files} files indexed in {self.folder}: {self.added} new, {self.updated} changed, "
                  f"{self.unchanged} unchanged, {self.removed} removed")]
        if self.unnamed:
            parts.append(f"{self.unnamed} with no words to search by (rename them or add a caption file)")
        if self.skipped:
            parts.append("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())))
        return "; ".join(parts) + f" ({self.seconds:.1f} s)."


@dataclass
class _Entry:
    path: Path
    kind: str
    bytes: int
    mtime: float
    text: str
    width: int = 0
    height: int = 0
    duration_s: float | None = None


def name_words(path: Path) -> str:
    """The words of a file name, camelCase and separators split, numbers and camera prefixes dropped:
    "octopus-opening-jar_01.mp4" -> "octopus opening jar", "IMG_2031.jpg" -> ""."""
    words = _NAME_WORD.findall(_CAMEL.sub(" ", path.stem))
    return " ".join(w.lower() for w in words if w.lower() not in _NAME_NOISE and len(w) > 1)


def read_sidecar(path: Path) -> tuple[str, bool]:
    """(caption and tags of the file's sidecar as one text, whether a sidecar was there but unreadable).

    Looked for as ``<name>.<ext>.txt``/``.json`` first, then ``<stem>.txt``/``.json``. A JSON sidecar
    is ``{"caption": "...", "tags": ["...", ...]}`` (tags may also be one comma-separated string)."""
    for side in (path.with_name(path.name + ".txt"), path.with_name(path.name + ".json"),
                 path.with_suffix(".txt"), path.with_suffix(".json")):
        try:
            if side.is_symlink() or not side.is_file():
                continue
            if side.stat().st_size > MAX_SIDECAR_BYTES:
                return "", True
            raw = side.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "", True
        if side.suffix == ".txt":
            return " ".join(raw.split())[:MAX_TEXT_CHARS], False
        try:
            data = json.loads(raw)
        except ValueError:
            return "", True
        if not isinstance(data, dict):
            return "", True
        tags = data.get("tags") or []
        tags = tags.split(",") if isinstance(tags, str) else tags if isinstance(tags, list) else []
        tags = ", ".join(" ".join(str(t).split()) for t in tags if isinstance(t, (str, int, float)) and str(t).strip())
        text = " ".join(x for x in (" ".join(str(data.get("caption") or "").split()), tags) if x)
        return text[:MAX_TEXT_CHARS], False
    return "", False


def _text(path: Path, folder: Path, sidecar: str) -> str:
    """What is embedded: the sidecar first (it says most, and the model reads 64 tokens), then the
    file name's words, then the names of the sub-folders it sits in."""
    rel_dirs = path.relative_to(folder).parent.parts
    folders = " ".join(name_words(Path(d + ".x")) for d in rel_dirs)
    return " ".join(x for x in (sidecar, name_words(path), folders) if x)[:MAX_TEXT_CHARS]


def _walk(folder: Path, skipped: Counter) -> list[Path]:
    """Media files under ``folder``, sorted: hidden ones left out, links resolving outside it counted
    and left out, links into it kept only when the file they point to is not listed itself.
    Linked folders are not followed, and the walk stops at :data:`MAX_FILES` (a folder such as
    the home directory must not take minutes to refuse)."""
    found: dict[Path, Path] = {}  # resolved -> the path listed for it
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith(".") or path.suffix.lower() not in IMAGE_EXTENSIONS | CLIP_EXTENSIONS:
                continue  # sidecars, documents: not media, not worth a line in the report
            resolved = inside(path, folder)
            if resolved is None:
                skipped["outside the folder (link)"] += 1
                continue
            if resolved in found:  # two names for one file: one row, or the repetition guard sees two clips
                skipped["duplicate link"] += 1
                if not found[resolved].is_symlink():
                    continue
            elif len(found) >= MAX_FILES:
                skipped[f"more than {MAX_FILES:,} files: the rest of the folder was not read"] += 1
                return sorted(found.values())
            found[resolved] = path
    return sorted(found.values())


def _read(path: Path, skipped: Counter) -> _Entry | None:
    """The file's kind, size and mtime, or None (counted in ``skipped``) when it cannot be used."""
    try:
        st = path.stat()
    except OSError:
        skipped["unreadable"] += 1
        return None
    if not stat.S_ISREG(st.st_mode):  # a FIFO named .mp4 would block the reader
        skipped["not a regular file"] += 1
        return None
    kind = "image" if path.suffix.lower() in IMAGE_EXTENSIONS else "video"
    if st.st_size == 0:
        skipped["empty"] += 1
        return None
    if kind == "image" and st.st_size > MAX_IMAGE_BYTES:
        skipped[f"image over {MAX_IMAGE_BYTES // 2**20} MB"] += 1
        return None
    if kind == "video" and st.st_size > MAX_CLIP_BYTES:
        skipped[f"clip over {MAX_CLIP_BYTES // 2**30} GB"] += 1
        return None
    return _Entry(path, kind, st.st_size, st.st_mtime, "")


def _measure(entry: _Entry, probe: Callable, skipped: Counter) -> bool:
    """Fill in width, height and duration; False (counted) when the file cannot be read."""
    if entry.kind == "image":
        from PIL import Image

        try:
            with Image.open(entry.path) as im:
                im.verify()  # the file's structure, without decoding every pixel (must come first)
            with Image.open(entry.path) as im:
                width, height = im.size
                turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF orientation: shown rotated 90°
        except Image.DecompressionBombError:
            skipped[f"image over {MAX_IMAGE_PIXELS // 1_000_000} megapixels"] += 1
            return False
        except Exception:  # noqa: BLE001 - Pillow raises many kinds for a bad file; all mean "cannot use"
            skipped["unreadable image"] += 1
            return False
        if width * height > MAX_IMAGE_PIXELS:
            skipped[f"image over {MAX_IMAGE_PIXELS // 1_000_000} megapixels"] += 1
            return False
        entry.width, entry.height = (height, width) if turned else (width, height)
        return True
    from pipeline.media.ffmpeg import FFmpegError, FFmpegTimeout

    try:
        info = probe(entry.path, timeout_s=PROBE_TIMEOUT_S)
    except FFmpegTimeout:
        skipped["took too long to read"] += 1
        return False
    except (FFmpegError, OSError):
        skipped["unreadable clip"] += 1
        return False
    if not info.video_codec or info.width <= 0 or info.height <= 0:
        skipped["no video stream"] += 1
        return False
    turned = re.search(r"rotation of -?(90|270)\.00 degrees|rotate\s*:\s*-?(90|270)\b", info.raw or "")
    entry.width, entry.height = (info.height, info.width) if turned else (info.width, info.height)
    entry.duration_s = info.duration_s or None
    return True


def _orientation(width: int, height: int) -> str:
    ratio = width / height
    return "square" if 0.9 <= ratio <= 1.1 else ("landscape" if ratio > 1 else "portrait")


def _check_overlap(db: Database, folder: Path, workspace_id: int | None = None) -> None:
    for other, ws in db.query("SELECT path, workspace_id FROM media_folders WHERE path <> ?", [str(folder)]):
        other_path = Path(other)
        if workspace_id is not None and ws != workspace_id and (other_path in folder.parents
                                                                 or folder in other_path.parents):
            raise LibraryError(f"{folder} overlaps a folder another workspace indexed: choose another folder.")
        if other_path in folder.parents:
            raise LibraryError(f"{folder} is inside the library folder {other}, which indexes it already.")
        if folder in other_path.parents:
            raise LibraryError(f"{folder} holds the library folder {other}: remove that one first, "
                               "or index the folders side by side.")


def index_folder(db: Database, folder: Path, embedder=None, probe: Callable | None = None,
                 workspace_id: int = 1) -> IndexReport:
    """Index (or re-index) ``folder`` into media_folders and media_files; returns what it did.

    New files are read and embedded; files whose size, mtime and text (sidecar included) are as
    indexed cost nothing more; changed ones are read again; rows for files gone (or now
    unreadable) are deleted. Every embedding is computed in one ``embedder.encode`` batch before
    one write transaction. Without an embedder the rows are stored without embeddings and a later
    pass with one fills them in. ``probe`` reads clips (default: ``pipeline.media.ffmpeg.probe``).
    Raises LibraryError for a folder that does not exist or overlaps one already indexed.
    """
    started = time.monotonic()
    if probe is None:
        from pipeline.media.ffmpeg import probe
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise LibraryError(f"{folder} is not a folder this workbench can read.")
    folder = folder.resolve()
    _check_overlap(db, folder, workspace_id)
    owner = db.query_one("SELECT workspace_id FROM media_folders WHERE path = ?", [str(folder)])
    if owner and owner[0] != workspace_id:
        raise LibraryError(f"{folder} is indexed by another workspace: each workspace indexes its own folders.")
    report = IndexReport(str(folder))

    paths = _walk(folder, report.skipped)
    known = {row[0]: row[1:] for row in db.query(
        "SELECT path, bytes, mtime, caption, embedding IS NOT NULL FROM media_files WHERE folder = ?", [str(folder)])}

    keep, todo = set(), []
    for path in paths:
        entry = _read(path, report.skipped)
        if entry is None:
            continue
        sidecar, bad = read_sidecar(path)
        if bad:
            report.skipped["sidecar unreadable (file indexed by its name)"] += 1
        entry.text = _text(path, folder, sidecar)
        old = known.get(str(path))
        if old is not None and old[0] == entry.bytes and old[1] == entry.mtime and old[2] == entry.text \
                and (old[3] or embedder is None or not entry.text):
            report.unchanged += 1
        elif _measure(entry, probe, report.skipped):
            todo.append(entry)
        else:
            continue
        keep.add(str(path))
        report.unnamed += not entry.text

    vectors = _embed(embedder, [e.text for e in todo])
    gone = [p for p in known if p not in keep]
    fresh = [(e, v) for e, v in zip(todo, vectors) if str(e.path) not in known]
    with db.write() as cur:
        cur.execute("INSERT INTO media_folders (path, workspace_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [str(folder), workspace_id])
        if gone:
            cur.register("gone_media", pa.table({"path": gone}))
            cur.execute("DELETE FROM media_files WHERE path IN (SELECT path FROM gone_media)")
            cur.unregister("gone_media")
        for entry, vector in zip(todo, vectors):
            if str(entry.path) in known:  # a changed file keeps its row (and id)
                cur.execute("UPDATE media_files SET kind = ?, width = ?, height = ?, duration_s = ?, orientation = ?,"
                            " bytes = ?, mtime = ?, caption = ?, embedding = ?, indexed_at = current_timestamp"
                            " WHERE path = ?", [*_values(entry), vector, str(entry.path)])
                report.updated += 1
        if fresh:  # one bulk insert: row by row, 20,000 files would take half a minute
            columns = list(zip(*[[str(folder), str(e.path), *_values(e), v] for e, v in fresh]))
            table = pa.table({name: list(col) for name, col in zip(_COLUMNS, columns)})
            cur.register("new_media", table)
            cur.execute(f"INSERT INTO media_files ({', '.join(_COLUMNS)}) SELECT folder, path, kind, width, height,"
                        f" duration_s, orientation, bytes, mtime, caption, embedding::FLOAT[{DIMS}] FROM new_media"
                        " ON CONFLICT (path) DO NOTHING")  # a second pass running at once added it first
            cur.unregister("new_media")
            report.added += len(fresh)
    report.removed = len(gone)
    report.files = len(keep)
    report.seconds = round(time.monotonic() - started, 2)
    return report


_COLUMNS = ("folder", "path", "kind", "width", "height", "duration_s", "orientation", "bytes", "mtime", "caption",
            "embedding")


def _values(entry: _Entry) -> list:
    return [entry.kind, entry.width, entry.height, entry.duration_s, _orientation(entry.width, entry.height),
            entry.bytes, entry.mtime, entry.text]


def _embed(embedder, texts: list[str]) -> list[list[float] | None]:
    """One batch for every text; None for a file with no words ("IMG_2031.jpg", no caption): any
    vector would be a guess, and a guess outranks honest captions for some queries."""
    out: list[list[float] | None] = [None] * len(texts)
    wanted = [i for i, t in enumerate(texts) if t]
    if embedder is not None and wanted:
        vectors = np.asarray(embedder.encode([texts[i] for i in wanted]), dtype=np.float32)
        for i, vector in zip(wanted, vectors):
            out[i] = vector.tolist()
    return out


def remove_folder(db: Database, folder: Path | str) -> int:
    """Forget a library folder and its files (the files themselves are untouched); rows removed."""
    folder = str(Path(folder).expanduser().resolve())
    with db.write() as cur:
        n = cur.execute("SELECT count(*) FROM media_files WHERE folder = ?", [folder]).fetchall()[0][0]
        cur.execute("DELETE FROM media_files WHERE folder = ?", [folder])
        cur.execute("DELETE FROM media_folders WHERE path = ?", [folder])
    return int(n)


def library_folders(db: Database) -> list[dict]:
    """Each library folder with its counts of images and clips and when it was added."""
    return db.query_dicts(
        "SELECT f.path, f.added_at, count(m.id) FILTER (WHERE m.kind = 'image') AS images,"
        " count(m.id) FILTER (WHERE m.kind = 'video') AS clips, max(m.indexed_at) AS indexed_at"
        " FROM media_folders f LEFT JOIN media_files m ON m.folder = f.path GROUP BY f.path, f.added_at ORDER BY f.path")


class LibrarySource:
    """The operator's indexed folders as a scene source (name "library"; free, no network)."""

    name = "library"

    def __init__(self, db: Database, embedder=None):
        self.db, self.embedder = db, embedder

    def check(self, settings: object = None) -> str | None:
        """None when there is something to search, else why not (shown in Settings)."""
        folders, files = self.db.query_one(
            "SELECT (SELECT count(*) FROM media_folders), (SELECT count(*) FROM media_files)")
        if not folders:
            return "no media folder is indexed: add one in Settings"
        if not files:
            return "the indexed media folders hold no usable images or clips"
        if self.embedder is None:
            return "the embedding model is unavailable, so the library cannot be searched by meaning"
        return None

    def search(self, query: str, size: tuple[int, int], limit: int = 15) -> tuple[list[Candidate], list[Usage]]:
        """Up to ``limit`` indexed files, most similar to ``query`` first (ties: by path). ``size`` is
        not used here: :func:`pipeline.ranking.rank` weighs each file's fit to the video."""
        if self.embedder is None or not query.strip():
            return [], []
        vector = np.asarray(self.embedder.encode([query]), dtype=np.float32)[0].tolist()
        rows = self.db.query(
            "SELECT folder, path, kind, width, height, duration_s, caption,"
            f" array_cosine_similarity(embedding, ?::FLOAT[{DIMS}]) AS similarity"
            " FROM media_files WHERE embedding IS NOT NULL ORDER BY similarity DESC, path LIMIT ?",
            [vector, int(max(0, limit))])
        return [self._candidate(*row) for row in rows], []

    @staticmethod
    def _candidate(folder: str, path: str, kind: str, width: int, height: int, duration_s: float | None,
                   caption: str, similarity: float) -> Candidate:
        rel = Path(path).relative_to(folder).as_posix()
        return Candidate(provider="library", source_id=f"{folder}::{rel}", kind=kind, text=caption or rel,
                         width=width, height=height, duration_s=duration_s if kind == "video" else None,
                         licence="own", attribution_required=False, local_path=Path(path))

    def fetch(self, candidate: Candidate, cache: MediaStore | None = None) -> tuple[Path, list[Usage]]:
        """The file itself (no copy), once it is known to be indexed, present and inside its folder."""
        path = candidate.local_path
        row = self.db.query_one("SELECT folder FROM media_files WHERE path = ?", [str(path)]) if path else None
        found = inside(path, Path(row[0])) if row else None
        if found is None or not found.is_file():
            raise ProviderError(f"{path} is no longer in the media library (moved, deleted or re-linked "
                                "outside its folder): index the folder again.", provider=self.name)
        return found, []

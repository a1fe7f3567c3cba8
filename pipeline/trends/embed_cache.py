"""A file cache of sentence embeddings, keyed by a hash of the model and the text.

Embedding every trending title with MiniLM is the slow part of clustering on the CPU (minutes for the
bundled 27,000 titles on 2 cores), and the titles barely change between runs: a restart, a recompute
or a re-import with a few new days needs vectors only for the new titles. The cache lives under the
data directory (``cache/embeddings/<model>/``) as append-only shards, one ``.npz`` per batch written
(written to a temporary name and renamed, so a crash leaves no half shard), and compacts itself into
one shard when too many pile up. Deleting the folder is always safe: it only costs the time to
embed again. It holds vectors only, never the texts, and is not part of a backup.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger("ytempire.trends")
KEY_BYTES = 16
MAX_SHARDS = 64  # more than this at load time: merge them into one
MAX_VECTORS = 2_000_000  # about 3 GB of float32 at 384 dimensions: refuse to grow past it (embed without caching)


def text_key(model: str, text: str) -> bytes:
    return hashlib.blake2b(f"{model}\x00{text}".encode(), digest_size=KEY_BYTES).digest()


def _key_array(keys: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(keys), np.uint8).reshape(len(keys), KEY_BYTES)


class EmbeddingCache:
    """Vectors by text for one model (``model`` names the weights and anything that changes the vectors)."""

    def __init__(self, folder: Path, model: str, dims: int = 384):
        self.folder, self.model, self.dims = Path(folder) / model, model, dims
        self._lock = threading.RLock()  # _load compacts while holding it
        self._index: dict[bytes, int] = {}
        self._blocks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self._loaded = False

    def __len__(self) -> int:
        self._load()
        return len(self._index)

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            shards = sorted(self.folder.glob("shard-*.npz")) if self.folder.is_dir() else []
            for path in shards:
                try:
                    with np.load(path, allow_pickle=False) as data:
                        keys, vectors = data["keys"], data["vectors"]
                except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # a damaged shard: drop it, its texts are embedded again
                    log.warning("ignoring damaged embedding cache shard %s (%s)", path.name, exc)
                    continue
                if vectors.ndim != 2 or vectors.shape[1] != self.dims or keys.shape != (len(vectors), KEY_BYTES):
                    continue
                self._add(keys, vectors.astype(np.float32, copy=False))
            self._loaded = True
            if len(shards) > MAX_SHARDS:
                self._compact(shards)

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """keys: uint8 (n, KEY_BYTES) (bytes dtypes would drop trailing zero bytes of a digest)."""
        offset = sum(len(b) for b in self._blocks)
        raw = [k.tobytes() for k in keys]
        fresh, seen = [], set()
        for i, k in enumerate(raw):
            if k not in self._index and k not in seen:
                seen.add(k)
                fresh.append(i)
        if not fresh:
            return
        for j, i in enumerate(fresh):
            self._index[raw[i]] = offset + j
        self._blocks.append(vectors[fresh])
        self._matrix = None

    def _all(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = np.concatenate(self._blocks) if self._blocks else np.zeros((0, self.dims), np.float32)
            self._blocks = [self._matrix]
        return self._matrix

    def lookup(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        """(vectors, positions of the texts not in the cache); rows of missing texts are zero."""
        self._load()
        out = np.zeros((len(texts), self.dims), np.float32)
        with self._lock:
            matrix = self._all()
            missing = []
            rows, at = [], []
            for i, text in enumerate(texts):
                row = self._index.get(text_key(self.model, text))
                if row is None:
                    missing.append(i)
                else:
                    rows.append(row)
                    at.append(i)
            if rows:
                out[at] = matrix[rows]
        return out, missing

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        """Add vectors to the cache and write them as one shard (never raises: a cache that cannot be written
        only means embedding again next time)."""
        self._load()
        keys = _key_array([text_key(self.model, t) for t in texts])
        vectors = np.asarray(vectors, np.float32)
        with self._lock:
            if len(self._index) + len(texts) > MAX_VECTORS:
                log.warning("embedding cache %s is full (%d vectors): not caching more", self.folder, len(self._index))
                return
            self._add(keys, vectors)
            try:
                self._write(keys, vectors)
            except OSError as exc:
                log.warning("cannot write the embedding cache under %s (%s)", self.folder, exc)

    def _write(self, keys: np.ndarray, vectors: np.ndarray, name: str | None = None) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / (name or f"shard-{os.getpid()}-{os.urandom(6).hex()}.npz")
        buffer = io.BytesIO()
        np.savez(buffer, keys=keys, vectors=vectors)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, target)
        return target

    def _compact(self, shards: list[Path]) -> None:
        with self._lock:
            keys = sorted(self._index, key=self._index.get)
            try:
                self._write(_key_array(keys), self._all()[[self._index[k] for k in keys]],
                            name="shard-0-compacted.npz")
            except OSError as exc:
                log.warning("cannot compact the embedding cache under %s (%s)", self.folder, exc)
                return
            for path in shards:
                if path.name != "shard-0-compacted.npz":
                    path.unlink(missing_ok=True)


def encode_cached(encode: Callable[[list[str]], np.ndarray], texts: list[str], cache: EmbeddingCache | None,
                  chunk: int = 512, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Vectors for ``texts``: from the cache where known, the rest through ``encode`` in chunks, each chunk
    cached as soon as it is done (work already done survives a stop or a crash). ``progress(done, todo)``
    is called after each chunk with counts of distinct texts still to embed."""
    if cache is None:
        vectors, missing = None, list(range(len(texts)))
    else:
        vectors, missing = cache.lookup(texts)
    if not missing:
        return vectors if vectors is not None else np.zeros((0, 384), np.float32)
    todo = list(dict.fromkeys(texts[i] for i in missing))  # each distinct text once
    todo.sort(key=len)  # similar lengths in a chunk pad to similar shapes
    done: dict[str, np.ndarray] = {}
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        encoded = encode(part)
        if cache is not None:
            cache.put(part, encoded)
        done.update(zip(part, encoded))
        if progress:
            progress(min(start + chunk, len(todo)), len(todo))
    if vectors is None:
        vectors = np.zeros((len(texts), len(next(iter(done.values())))), np.float32)
    for i in missing:
        vectors[i] = done[texts[i]]
    return vectors

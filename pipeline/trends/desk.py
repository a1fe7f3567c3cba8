"""The trend desk: what the Workbench does with trends (bundled data, topics in the background,
evaluations, the backlog), holding the embedding model once per process."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.config import BUNDLED_DATA
from pipeline.db import Database
from pipeline.gpu import GpuLease, is_gpu_failure
from pipeline.queries import data_version
from pipeline.trends import backlog as bl
from pipeline.trends.embed_cache import EmbeddingCache
from pipeline.trends.ingest import ImportReport, import_file
from pipeline.trends.model import evaluate
from pipeline.trends.names import name_clusters
from pipeline.trends.topics import Embedder, document, embedder_available

log = logging.getLogger("ytempire.trends")
BUNDLED_TRENDS = BUNDLED_DATA / "trends"
_COUNTRY_IN_NAME = re.compile(r"(?:^|[_\-.])([A-Z]{2})(?:[_\-.]|$)")


def country_from_name(name: str) -> str | None:
    match = _COUNTRY_IN_NAME.search(Path(name).stem)
    return match[1] if match else None


QUICK_DAYS = 14  # a first pass over the videos that entered the list lately: momentum compares the last 7 days' with the 7 before
QUICK_MAX = 3000  # ...and at most this many of them (a list of 200 a day for 14 days is 2,800)
QUICK_WHEN = 2000  # more titles than this to embed (not in the cache): the quick pass comes first


@dataclass
class TopicStatus:
    state: str = "idle"  # idle, computing (no topics yet), refining (first topics shown, all videos next), ready, failed
    method: str = ""
    message: str = ""
    seconds: float = 0.0
    started: float = field(default=0.0, repr=False)


class TrendDesk:
    def __init__(self, db: Database, lease: GpuLease, bundled: Path = BUNDLED_TRENDS, cache_dir: Path | None = None,
                 make_embedder: Callable[[str], Embedder] | None = None):
        """``make_embedder(device)``: where embedders come from (default: MiniLM, when it can load)."""
        self.db, self.lease, self.bundled = db, lease, bundled
        self.make_embedder = make_embedder
        self.quick_days, self.quick_max, self.quick_when = QUICK_DAYS, QUICK_MAX, QUICK_WHEN
        # beside the database: a fresh data directory starts empty, a second start finds its embeddings
        self.cache_dir = cache_dir or Path(db.path).parent / "cache" / "embeddings"
        self.status: dict[str, TopicStatus] = {}
        self._embedder: Embedder | None = None
        self._embedder_lock = threading.Lock()
        self._caches: dict[str, EmbeddingCache] = {}
        self._growth: dict[tuple, pl.DataFrame] = {}
        self._topics_lock = threading.Lock()  # one clustering at a time (the background pass, a button, the CLI)
        self._backlog_cache: dict[tuple, pl.DataFrame] = {}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()  # set by stop(): background work ends at its next batch

    # -- data ----------------------------------------------------------------------------------
    def has_data(self) -> bool:
        return bool(self.db.query_one("SELECT count(*) FROM trend_snapshots")[0])

    def import_bundled(self) -> list[ImportReport]:
        """Load the bundled real trending files (first start only)."""
        reports = []
        for path in sorted(self.bundled.glob("youtube_trending_*.csv")):
            reports.append(import_file(self.db, path, country_from_name(path.name) or "US", self.bundled))
        return reports

    def import_csv(self, path: Path, country: str | None, year: int = 2017, name: str | None = None) -> ImportReport:
        country = (country or country_from_name(name or path.name) or "").upper()
        report = import_file(self.db, path, country, self.bundled, year)
        if name:
            report.source = name
        return report

    # -- topics --------------------------------------------------------------------------------
    def unavailable(self) -> str | None:
        """None when an embedder can be had, else why not."""
        return None if self.make_embedder is not None else embedder_available()

    def embedder(self, device: str = "cpu") -> Embedder | None:
        if self.unavailable() is not None:
            return None
        with self._embedder_lock:
            if self._embedder is None or self._embedder.device != device:
                self._embedder = (self.make_embedder or Embedder)(device)
                self._embedder.cancel = self._stop
            return self._embedder

    def embedding_cache(self, embedder: Embedder) -> EmbeddingCache:
        if embedder.name not in self._caches:
            self._caches[embedder.name] = EmbeddingCache(self.cache_dir, embedder.name)
        return self._caches[embedder.name]

    def video_growth(self, country: str) -> pl.DataFrame:
        """The popularity model's per-video growth, fitted once per import (a quick and a full pass share it)."""
        key = (country, self.db.query_one("SELECT max(id) FROM trend_imports WHERE country = ?", [country])[0])
        if key not in self._growth:
            self._growth = {k: v for k, v in self._growth.items() if k[0] != country}
            self._growth[key] = bl.video_growth(self.db, country)
        return self._growth[key]

    def compute_topics(self, country: str, method: str = "auto", quick: bool = False,
                       growth: bool = True) -> TopicStatus:
        """Cluster the country's videos now (embeddings on the leased device, TF-IDF as the fallback). ``quick``:
        only the videos that entered the list in its last QUICK_DAYS days (at most QUICK_MAX), a first answer
        while the rest are embedded; the status is then "refining" until a full pass ends. ``growth`` false:
        the topics are stored without predicted growth (apply_growth adds it), so they show sooner."""
        status = self.status.setdefault(country, TopicStatus())
        status.state = "refining" if self.has_topics(country) else "computing"
        status.started, status.message = time.monotonic(), ""
        subset: dict = {"recent_days": self.quick_days, "limit": self.quick_max} if quick else {}
        subset.update(with_growth=growth, growth=lambda: self.video_growth(country))
        try:
            with self._topics_lock:
                if method in ("auto", "minilm") and self.unavailable() is None:
                    with self.lease.acquire() as device:
                        try:
                            result = self._cluster(country, device, status, subset)
                        except Exception as exc:  # noqa: BLE001
                            if device != "cuda" or not is_gpu_failure(exc):
                                raise
                            log.warning("topic embedding failed on the GPU (%s); using the CPU", exc)
                            result = self._cluster(country, "cpu", status, subset)
                else:
                    if method == "minilm":
                        raise RuntimeError(f"The embedding model is unavailable: {self.unavailable()}.")
                    result = bl.compute_topics(self.db, country, None, **subset)
            status.method = result.method
            status.message = f"{len(result.topics)} topics from {len(result.assignments):,} videos ({result.method})"
            if quick:
                status.state = "refining"
                status.message = (f"first pass: {len(result.topics)} topics from the {len(result.assignments):,} "
                                  f"videos new on the list in its last {self.quick_days} days; all videos next")
            else:
                status.state = "ready"
        except Exception as exc:  # noqa: BLE001 - shown on the Trends page
            log.exception("topics for %s failed", country)
            status.state, status.message = "failed", f"{type(exc).__name__}: {exc}"
        status.seconds = round(time.monotonic() - status.started, 1)
        return status

    def _cluster(self, country: str, device: str, status: TopicStatus, subset: dict):
        embedder = self.embedder(device)
        videos = int(self.db.query_one("SELECT count(*) FROM trend_videos WHERE country = ?", [country])[0])

        def progress(done: int, todo: int) -> None:
            what = f"the videos of the last {self.quick_days} days first" if "limit" in subset else \
                f"for all {videos:,} videos"
            status.message = f"embedding titles: {done:,} of {todo:,} new ones, {what}"

        status.message = "loading the embedding model"
        return bl.compute_topics(self.db, country, embedder, cache=self.embedding_cache(embedder), progress=progress,
                                 **subset)

    def apply_growth(self, country: str) -> None:
        """Store the predicted growth of the country's current topics (after a quick pass)."""
        with self._topics_lock:
            bl.store_growth(self.db, country, self.video_growth(country))

    def quick_pass_helps(self, country: str) -> bool:
        """Whether a first pass over the recent videos saves time: many titles still to embed."""
        if self.unavailable() is not None:
            return False  # TF-IDF clusters everything in seconds
        _, docs = bl.trend_docs(self.db, country)
        if len(docs) <= self.quick_when:
            return False
        embedder = self.embedder("cpu")
        return len(self.embedding_cache(embedder).lookup(docs)[1]) > self.quick_when

    def needs_topics(self, country: str) -> bool:
        """No topics yet, or topics that cover only part of the videos (a quick pass whose full pass did not end,
        or videos imported since)."""
        row = self.db.query_one(
            "SELECT (SELECT count(*) FROM trend_video_topics WHERE country = ?),"
            " (SELECT count(*) FROM trend_videos WHERE country = ?)", [country, country])
        return row[0] == 0 or row[0] < row[1]

    def busy(self, country: str) -> bool:
        status = self.status.get(country)
        return bool(status and status.state in ("computing", "refining"))

    def word_list_labels(self, country: str) -> bool:
        """Topics named the old way ("remix · song · drake"), before names were phrases."""
        return bool(self.db.query_one("SELECT count(*) FROM trend_topics WHERE country = ? AND contains(label, ' · ')",
                                      [country])[0])

    def relabel(self, country: str) -> None:
        """Name the country's stored topics again (names.py) without clustering again."""
        rows = self.db.query("SELECT v.title, v.tags, vt.topic_id FROM trend_video_topics vt JOIN trend_videos v"
                             " USING (country, video_id) WHERE vt.country = ? ORDER BY v.video_id", [country])
        if not rows:
            return
        names = name_clusters([document(r[0], r[1]) for r in rows], np.array([r[2] for r in rows]))
        with self._topics_lock, self.db.write() as cur:
            cur.executemany("UPDATE trend_topics SET label = ?, computed_at = current_timestamp"  # pages read anew
                            " WHERE country = ? AND topic_id = ?",
                            [[name, country, topic] for topic, name in names.items()])

    def compute_topics_in_background(self, countries: list[str], relabel: list[str] | tuple = ()) -> None:
        """First topics for every country as soon as possible (a quick pass where embedding all titles would take
        long), then every country over all its videos; each step's status is on self.status. ``relabel``: countries
        whose stored topics only need names (relabel), done first."""
        def run() -> None:
            for country in relabel:
                if not self._stop.is_set():
                    self.relabel(country)
            first, deferred = [], []  # countries with first topics (growth next); those of them to redo in full
            for country in countries:  # first topics everywhere, growth (the model's fit) left for later
                if self._stop.is_set():
                    return
                quick = self.quick_pass_helps(country)
                if self.compute_topics(country, quick=quick, growth=False).state != "failed":
                    first.append(country)
                    if quick:
                        deferred.append(country)
            for country in first:
                if self._stop.is_set():
                    return
                self.apply_growth(country)
            for country in deferred:
                if self._stop.is_set():
                    return
                self.compute_topics(country)
        for country in countries:
            self.status[country] = TopicStatus("refining" if self.has_topics(country) else "computing",
                                               message="queued")
        thread = threading.Thread(target=run, name="ytempire-topics", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait(self, timeout: float = 600) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def alive(self) -> list[str]:
        """Names of background threads still working."""
        return [t.name for t in self._threads if t.is_alive()]

    def stop(self) -> None:
        """Ask background topic work to end at its next batch (the embedder checks between batches)."""
        self._stop.set()
        if self._embedder is not None:
            self._embedder.cancel = self._stop

    def has_topics(self, country: str) -> bool:
        return bool(self.db.query_one("SELECT count(*) FROM trend_topics WHERE country = ?", [country])[0])

    # -- model and backlog ---------------------------------------------------------------------
    def evaluate(self, country: str, k: int = 2, horizon: int = 2) -> dict:
        result = evaluate(bl.snapshot_frame(self.db, country), k, horizon)
        with self.db.write() as cur:
            cur.execute("INSERT INTO trend_evaluations (country, k, horizon, result) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT DO UPDATE SET result = excluded.result, computed_at = now()",
                        [country, k, horizon, json.dumps(result)])
        return result

    def evaluations(self, country: str) -> list[dict]:
        rows = self.db.query("SELECT k, horizon, result, computed_at FROM trend_evaluations WHERE country = ?"
                             " ORDER BY k, horizon", [country])
        return [{"k": k, "horizon": h, **json.loads(r), "computed_at": at} for k, h, r, at in rows]

    def backlog(self, country: str, channel: dict, limit: int = 30) -> pl.DataFrame:
        key = (country, channel["id"], channel.get("niche"), data_version(self.db), limit,  # growth comes after topics
               self.db.query_one("SELECT max(computed_at), count(predicted_growth) FROM trend_topics WHERE country = ?",
                                 [country]))
        if key not in self._backlog_cache:
            embedder = self.embedder("cpu") if self._topics_method(country) == "minilm" else None
            self._backlog_cache = {key: bl.backlog(self.db, country, channel, embedder, limit=limit)}
        return self._backlog_cache[key]

    def _topics_method(self, country: str) -> str | None:
        row = self.db.query_one("SELECT any_value(method) FROM trend_topics WHERE country = ?", [country])
        return row[0] if row else None

    def brief(self, country: str, topic_id: int) -> dict:
        return bl.topic_brief(self.db, country, topic_id)

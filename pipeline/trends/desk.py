"""The trend desk: what the Workbench does with trends (bundled data, topics in the background,
evaluations, the backlog), holding the embedding model once per process."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline.config import BUNDLED_DATA
from pipeline.db import Database
from pipeline.gpu import GpuLease, is_gpu_failure
from pipeline.queries import data_version
from pipeline.trends import backlog as bl
from pipeline.trends.ingest import ImportReport, import_file
from pipeline.trends.model import evaluate
from pipeline.trends.topics import Embedder, embedder_available

log = logging.getLogger("ytempire.trends")
BUNDLED_TRENDS = BUNDLED_DATA / "trends"
_COUNTRY_IN_NAME = re.compile(r"(?:^|[_\-.])([A-Z]{2})(?:[_\-.]|$)")


def country_from_name(name: str) -> str | None:
    match = _COUNTRY_IN_NAME.search(Path(name).stem)
    return match[1] if match else None


@dataclass
class TopicStatus:
    state: str = "idle"  # idle, computing, ready, failed
    method: str = ""
    message: str = ""
    seconds: float = 0.0
    started: float = field(default=0.0, repr=False)


class TrendDesk:
    def __init__(self, db: Database, lease: GpuLease, bundled: Path = BUNDLED_TRENDS):
        self.db, self.lease, self.bundled = db, lease, bundled
        self.status: dict[str, TopicStatus] = {}
        self._embedder: Embedder | None = None
        self._embedder_lock = threading.Lock()
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
    def embedder(self, device: str = "cpu") -> Embedder | None:
        if embedder_available() is not None:
            return None
        with self._embedder_lock:
            if self._embedder is None or self._embedder.device != device:
                self._embedder = Embedder(device)
                self._embedder.cancel = self._stop
            return self._embedder

    def compute_topics(self, country: str, method: str = "auto") -> TopicStatus:
        """Cluster the country's videos now (embeddings on the leased device, TF-IDF as the fallback)."""
        status = self.status.setdefault(country, TopicStatus())
        status.state, status.started, status.message = "computing", time.monotonic(), ""
        try:
            if method in ("auto", "minilm") and embedder_available() is None:
                with self.lease.acquire() as device:
                    try:
                        result = bl.compute_topics(self.db, country, self.embedder(device))
                    except Exception as exc:  # noqa: BLE001
                        if device != "cuda" or not is_gpu_failure(exc):
                            raise
                        log.warning("topic embedding failed on the GPU (%s); using the CPU", exc)
                        result = bl.compute_topics(self.db, country, self.embedder("cpu"))
            else:
                if method == "minilm":
                    raise RuntimeError(f"The embedding model is unavailable: {embedder_available()}.")
                result = bl.compute_topics(self.db, country, None)
            status.state, status.method = "ready", result.method
            status.message = f"{len(result.topics)} topics from {len(result.assignments)} videos ({result.method})"
        except Exception as exc:  # noqa: BLE001 - shown on the Trends page
            log.exception("topics for %s failed", country)
            status.state, status.message = "failed", f"{type(exc).__name__}: {exc}"
        status.seconds = round(time.monotonic() - status.started, 1)
        return status

    def compute_topics_in_background(self, countries: list[str]) -> None:
        def run() -> None:
            for country in countries:
                if self._stop.is_set():
                    break
                self.compute_topics(country)
        for country in countries:
            self.status[country] = TopicStatus("computing", message="queued")
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
        key = (country, channel["id"], channel.get("niche"), data_version(self.db), limit,
               self.db.query_one("SELECT max(computed_at) FROM trend_topics WHERE country = ?", [country])[0])
        if key not in self._backlog_cache:
            embedder = self.embedder("cpu") if self._topics_method(country) == "minilm" else None
            self._backlog_cache = {key: bl.backlog(self.db, country, channel, embedder, limit=limit)}
        return self._backlog_cache[key]

    def _topics_method(self, country: str) -> str | None:
        row = self.db.query_one("SELECT any_value(method) FROM trend_topics WHERE country = ?", [country])
        return row[0] if row else None

    def brief(self, country: str, topic_id: int) -> dict:
        return bl.topic_brief(self.db, country, topic_id)

"""Trends first-start bench: how long a fresh data directory waits for topics, against a baseline.

Usage (from the project root)::

    .venv/bin/python bench/trends.py [--data-dir bench/out/trends] [--baseline sample|full|none] [--second]

What is measured
    1. First start. The data directory is emptied, then a Workbench is opened as the app opens it (the
       bundled trending files imported at start, topics clustered in the background thread) and the
       clock runs from before the Workbench is created (imports of the app's modules done, as in a
       running Streamlit server) until each country has topics (what the Trends page shows), and until
       every country's topics cover all its videos ("ready"). Polled every 0.2 s.
    2. Second start (``--second``): the same directory opened again after its topics were deleted, so
       the clustering runs again with the embedding cache warm (no title is embedded twice).
    3. Baseline, measured in the same run on the same machine, so the ratios hold under the same load:
       the earlier first start embedded every title with torch's default threads and no cache, then
       clustered. ``full`` runs exactly that (minutes on 2 cores); ``sample`` (the default) times a
       fixed 2,000-title sample of it and scales by the number of titles (embedding is linear in
       titles; clustering is left out, so the estimate is low, in the baseline's favour).

It prints one line per measurement and the ratios first start / baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def first_start(data_dir: Path, wipe: bool = True, timeout: float = 1800) -> dict:
    from pipeline.config import load_settings
    from pipeline.trends.features import countries
    from pipeline.workbench import Workbench

    if wipe:
        shutil.rmtree(data_dir, ignore_errors=True)
    started = time.perf_counter()
    wb = Workbench(load_settings(data_dir, bootstrap_trends=True), start_worker=False, services=("trends",))
    try:
        opened = time.perf_counter() - started
        first: dict[str, float] = {}
        ready: dict[str, float] = {}
        names = countries(wb.db)
        while len(ready) < len(names) and time.perf_counter() - started < timeout:
            for c in names:
                if c not in first and wb.trends.has_topics(c):
                    first[c] = time.perf_counter() - started
                s = wb.trends.status.get(c)
                if c not in ready and s is not None and s.state in ("ready", "failed"):
                    ready[c] = time.perf_counter() - started
            time.sleep(0.2)
        states = {c: (wb.trends.status[c].state, wb.trends.status[c].message) for c in names if c in wb.trends.status}
    finally:
        wb.close()
    return {"opened": opened, "first": first, "ready": ready, "states": states}


def baseline(data_dir: Path, mode: str) -> float:
    """Seconds the earlier first start spent embedding (and, for ``full``, clustering) every title."""
    import torch

    from pipeline.db import Database
    from pipeline.trends.backlog import trend_docs
    from pipeline.trends.features import countries
    from pipeline.trends.topics import Embedder, choose_k, cluster

    db = Database(data_dir / "ytempire.duckdb", read_only=True)
    try:
        docs = {c: trend_docs(db, c)[1] for c in countries(db)}
    finally:
        db.close()
    embedder = Embedder("cpu", threads=os.cpu_count() or 1)  # torch's default: every core
    torch.set_num_threads(os.cpu_count() or 1)
    total = sum(len(d) for d in docs.values())
    started = time.perf_counter()
    if mode == "full":
        for d in docs.values():
            cluster(embedder.encode(d), choose_k(len(d)))
        return time.perf_counter() - started
    every = [t for d in docs.values() for t in d]
    sample = every[:: max(1, len(every) // 2000)][:2000]
    embedder.encode(sample)
    return (time.perf_counter() - started) * total / len(sample)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "out" / "trends")
    parser.add_argument("--baseline", choices=["sample", "full", "none"], default="sample")
    parser.add_argument("--second", action="store_true", help="also time a second start (embedding cache warm)")
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU") if Path("/proc/cpuinfo").exists() else "unknown CPU"
    print(f"machine: {os.cpu_count()} cores, {cpu}; load average {os.getloadavg()[0]:.1f} at start")

    run = first_start(args.data_dir)
    first_all = max(run["first"].values(), default=float("nan"))
    ready_all = max(run["ready"].values(), default=float("nan"))
    print(f"first start: workbench open {run['opened']:.1f} s; topics shown for "
          + ", ".join(f"{c} at {t:.1f} s" for c, t in sorted(run["first"].items()))
          + f"; every country over all its videos at {ready_all:.1f} s")
    for c, (state, message) in sorted(run["states"].items()):
        print(f"  {c}: {state}: {message}")
    if args.second:
        from pipeline.db import open_database
        db = open_database(args.data_dir / "ytempire.duckdb")
        with db.write() as cur:
            cur.execute("DELETE FROM trend_video_topics")
            cur.execute("DELETE FROM trend_topics")
        db.close()
        again = first_start(args.data_dir, wipe=False)
        print(f"second start (embedding cache warm): topics for every country at "
              f"{max(again['first'].values(), default=float('nan')):.1f} s, all ready at "
              f"{max(again['ready'].values(), default=float('nan')):.1f} s")
    if args.baseline != "none":
        base = baseline(args.data_dir, args.baseline)
        how = "measured" if args.baseline == "full" else "estimated from a 2,000-title sample"
        print(f"baseline (every title embedded, no cache, {os.cpu_count()} torch threads; {how}): {base:.1f} s")
        print(f"ratio first topics / baseline: {first_all / base:.3f}; all ready / baseline: {ready_all / base:.3f}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Analysts beside the app: Parquet snapshots, the notebook that reads them, and backup/restore."""

import json
import zipfile

import nbformat
import polars as pl
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from pipeline import jobs
from pipeline.backup import BackupError, export_backup, import_backup
from pipeline.channels import ensure_demo_channel
from pipeline.costs import PriceTable, Usage
from pipeline.snapshots import SnapshotWriter, write_snapshots

TABLE = PriceTable("t", {"openai": {"gpt-4.1-mini": {"output_tokens": 0.0000016}}})


def seed(db, tmp_path, n=3):
    channel = ensure_demo_channel(db) or 1
    for i in range(n):
        job = jobs.create_job(db, channel, f"topic {i}", 60, "landscape", {})
        jobs.claim_next(db)
        jobs.start_stage(db, job, "script", "openai", "cpu")
        f = db.path.parent / "jobs" / str(job) / f"s{i}.json"  # a job's files live in its folder under jobs/
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("{}")
        jobs.complete_stage(db, job, "script", {"script": f}, [TABLE.price(Usage("openai", "gpt-4.1-mini", "output_tokens", 1000 * (i + 1)))],
                            {"channel_id": channel, "title": f"Video {i}", "description": "", "tags": [], "format": "landscape",
                             "video_path": str(f), "quality_score": 90.0,
                             "quality_detail": {"score": 90, "checks": [{"name": "duration", "score": 1.0, "passed": True},
                                                                       {"name": "audio", "score": 0.5, "passed": False}]}})
        jobs.set_job_status(db, job, "done")


def test_snapshots_hold_every_table_and_refresh_only_on_change(db, tmp_path):
    seed(db, tmp_path)
    writer = SnapshotWriter(db, tmp_path / "snap")
    assert writer.refresh() is True
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert manifest["rows"]["jobs"] == 3 and manifest["rows"]["cost_ledger"] == 3
    assert pl.read_parquet(tmp_path / "snap" / "videos.parquet").height == 3
    assert writer.refresh() is False  # nothing changed
    seed(db, tmp_path, 1)
    assert writer.refresh() is True
    assert pl.read_parquet(tmp_path / "snap" / "jobs.parquet").height == 4
    assert not list((tmp_path / "snap").glob(".*tmp"))  # written aside, renamed into place


@pytest.mark.slow
def test_the_analytics_notebook_runs_on_the_snapshots(db, settings, tmp_path, monkeypatch):
    seed(db, tmp_path)
    write_snapshots(db, settings.data_dir / "snapshots")
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(settings.data_dir))
    nb = nbformat.read(ROOT / "notebooks" / "analytics.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "videos: 3, total $0.0096" in outputs  # 1000 + 2000 + 3000 output tokens at $1.60 per million


def test_backup_round_trip(db, tmp_path):
    seed(db, tmp_path)
    zip_path = export_backup(db, tmp_path / "b.zip")
    with zipfile.ZipFile(zip_path) as zf:
        assert "manifest.json" in zf.namelist() and "cost_ledger.parquet" in zf.namelist()
    with db.write() as cur:
        cur.execute("DELETE FROM cost_ledger")
    manifest = import_backup(db, zip_path)
    assert manifest["rows"]["cost_ledger"] == 3
    assert db.query_one("SELECT count(*) FROM cost_ledger")[0] == 3
    new = jobs.create_job(db, 1, "after restore", 60, "landscape", {})
    assert new > 3  # ids continue after the restored ones (gaps are fine)


@pytest.mark.parametrize("mutate, message", [
    (lambda m, files: m.update(format="other"), "Unknown backup format"),
    (lambda m, files: m.update(schema_version=999), "newer YTEmpire"),
    (lambda m, files: files.pop("videos.parquet"), "lacks tables: videos"),
    (lambda m, files: m.update(format=None), "Unknown backup format"),
])
def test_a_bad_backup_changes_nothing(db, tmp_path, mutate, message):
    seed(db, tmp_path)
    good = export_backup(db, tmp_path / "b.zip")
    with zipfile.ZipFile(good) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        files = {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}
    mutate(manifest, files)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in files.items():
            zf.writestr(name, data)
    with pytest.raises(BackupError, match=message):
        import_backup(db, bad)
    assert db.query_one("SELECT count(*) FROM jobs")[0] == 3


@pytest.mark.slow
def test_the_trend_model_notebook_runs_on_a_small_slice(monkeypatch):
    monkeypatch.setenv("TREND_FILE", str(ROOT / "data" / "trends" / "youtube_trending_US_2017-11-14_to_11-28.csv"))
    monkeypatch.setenv("TREND_DAYS", "12")
    nb = nbformat.read(ROOT / "notebooks" / "trend_model.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                   for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "persistence" in text and "log_linear" in text and "split at" in text

import subprocess
import sys

import pytest

from pipeline.db import Database, DatabaseLocked, migrate, migration_files, open_database


def test_migrations_apply_once_and_are_recorded(tmp_path):
    db = open_database(tmp_path / "x.duckdb")
    versions = [v for v, _, _ in migration_files()]
    assert db.query("SELECT version FROM schema_migrations ORDER BY version") == [(v,) for v in versions]
    assert migrate(db) == []  # nothing left to apply
    tables = {r[0] for r in db.query("SELECT table_name FROM information_schema.tables")}
    assert {"channels", "jobs", "job_stages", "job_events", "artifacts", "videos", "cost_ledger"} <= tables
    ledger = {r[0] for r in db.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'cost_ledger'")}
    assert {"job_id", "stage", "provider", "model", "unit", "quantity", "usd", "unit_price_usd", "charged_at"} <= ledger
    db.close()


def test_migrations_are_numbered_and_unique():
    versions = [v for v, _, _ in migration_files()]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_a_failed_write_rolls_back(tmp_path):
    db = open_database(tmp_path / "x.duckdb")
    with pytest.raises(RuntimeError):
        with db.write() as cur:
            cur.execute("INSERT INTO channels (name) VALUES ('A')")
            raise RuntimeError("boom")
    assert db.query_one("SELECT count(*) FROM channels")[0] == 0
    db.close()


def test_a_second_process_gets_a_clear_lock_error(tmp_path):
    path = tmp_path / "x.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); "
                               "print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseLocked) as info:
            Database(path)
        assert info.value.pid == holder.pid
        assert "workbench" in str(info.value) and "Nothing was changed" in str(info.value)
    finally:
        holder.kill()
        holder.wait()

"""Backups that cannot hurt: crafted paths and zip bombs refused with nothing written, a restore that
pauses the worker, never loses what happened outside (spend, quota, uploads), a daily backup with
retention, the scriptable path, and files readable by their owner only."""

from __future__ import annotations

import io
import json
import os
import stat
import threading
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from pipeline import backup, jobs
from pipeline.backup import BackupError
from pipeline.cli import main
from pipeline.config import ConfigError, Settings
from pipeline.costs import Usage
from pipeline.queries import video_detail
from pipeline.workbench import Workbench


@pytest.fixture
def wb(tmp_path):
    bench = Workbench(Settings(data_dir=tmp_path / "data", retry_base_s=0.01, poll_s=0.05), start_worker=False)
    yield bench
    bench.close()


def seed_video(wb, topic: str = "t") -> int:
    """A job with real files in its folder, an artifact row and a videos row."""
    job = jobs.create_job(wb.db, 1, topic, 60, "landscape", {})
    folder = wb.settings.jobs_dir / str(job)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "script.json").write_text(json.dumps({"hook": "h", "sections": [], "call_to_action": "c",
                                                    "description": "d", "tags": []}))
    (folder / "video.mp4").write_bytes(b"mp4")
    with wb.db.write() as cur:
        cur.execute("INSERT INTO artifacts (job_id, stage, kind, path, bytes) VALUES (?, 'script', 'script', ?, 1)",
                    [job, str(folder / "script.json")])
        cur.execute("INSERT INTO videos (job_id, channel_id, title, description, tags, format, video_path)"
                    " VALUES (?, 1, 'T', '', [], 'landscape', ?)", [job, str(folder / "video.mp4")])
    return job


def tampered(good: Path, out: Path, table: str, sql: str) -> Path:
    """A copy of a backup with one table's Parquet rewritten by a query over it (``t``)."""
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    con = duckdb.connect()
    src, dst = out.with_suffix(".in.parquet"), out.with_suffix(".out.parquet")
    src.write_bytes(members[f"{table}.parquet"])
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{src}')")
    con.execute(f"COPY ({sql}) TO '{dst}' (FORMAT PARQUET)")
    members[f"{table}.parquet"] = dst.read_bytes()
    manifest = json.loads(members["manifest.json"])  # a careful forger keeps the manifest in step
    manifest["rows"][table] = con.execute(f"SELECT count(*) FROM read_parquet('{dst}')").fetchall()[0][0]
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out


def state(wb) -> tuple:
    return (wb.db.query("SELECT id, topic FROM jobs ORDER BY id"), wb.db.query("SELECT job_id, path FROM artifacts"),
            wb.db.query("SELECT job_id, video_path FROM videos"))


@pytest.mark.parametrize("table, sql, named", [
    ("artifacts", "SELECT * REPLACE ('/etc/passwd' AS path) FROM t", "artifacts row (job 1, script): path = '/etc/passwd'"),
    ("artifacts", "SELECT * REPLACE ('../../../../etc/passwd' AS path) FROM t", "../../../../etc/passwd"),
    ("artifacts", "SELECT * REPLACE ('jobs/1/../../../secrets.toml' AS path) FROM t", "jobs/1/../../../secrets.toml"),
    ("videos", "SELECT * REPLACE ('/root/.ssh/id_rsa' AS video_path) FROM t", "videos row (job 1): video_path"),
    ("videos", "SELECT * REPLACE ('ytempire.duckdb' AS thumbnail_path) FROM t", "thumbnail_path = 'ytempire.duckdb'"),
])
def test_a_crafted_path_is_refused_naming_the_row_and_nothing_changes(wb, tmp_path, table, sql, named):
    seed_video(wb)
    good = wb.export_backup(tmp_path / "good.zip")
    bad = tampered(good, tmp_path / "bad.zip", table, sql)
    seed_video(wb, "made after the backup")
    before = state(wb)
    with pytest.raises(BackupError, match="outside this data directory's jobs folder") as info:
        wb.import_backup(bad)
    assert named in str(info.value) and "Nothing was restored" in str(info.value)
    assert state(wb) == before


def test_a_symlink_out_of_the_jobs_folder_is_refused(wb, tmp_path):
    job = seed_video(wb)
    good = wb.export_backup(tmp_path / "good.zip")
    (tmp_path / "secret.txt").write_text("token")
    link = wb.settings.jobs_dir / str(job) / "escape.json"
    link.symlink_to(tmp_path / "secret.txt")
    bad = tampered(good, tmp_path / "bad.zip", "artifacts", f"SELECT * REPLACE ('jobs/{job}/escape.json' AS path) FROM t")
    with pytest.raises(BackupError, match="escape.json"):
        wb.import_backup(bad)


def test_a_backup_restores_into_another_data_directory(wb, tmp_path):
    job = seed_video(wb)
    good = wb.export_backup(tmp_path / "good.zip")
    other = Workbench(Settings(data_dir=tmp_path / "elsewhere"), start_worker=False)
    try:
        other.import_backup(good)
        [(path,)] = other.db.query("SELECT path FROM artifacts")
        assert path == str((tmp_path / "elsewhere" / "jobs" / str(job) / "script.json").resolve())
    finally:
        other.close()


def zip_of(members: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_before_anything_is_extracted(wb, tmp_path, monkeypatch):
    seed_video(wb)
    before = state(wb)
    extracted = []
    monkeypatch.setattr(backup, "_extract", lambda *a: extracted.append(a))
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(zip_of({"manifest.json": b"{}", "jobs.parquet": bytes(30 << 20)}, zipfile.ZIP_DEFLATED))
    with pytest.raises(BackupError, match="zip bomb"):
        wb.import_backup(bomb)
    big = tmp_path / "big.zip"
    big.write_bytes(zip_of({"manifest.json": b"{}", "jobs.parquet": os.urandom(3 << 20)}))
    with pytest.raises(BackupError, match="over the restore limit of 2 MB.*raise 'Backup size limit'"):
        wb.import_backup(big, max_bytes=2 << 20)
    assert extracted == [] and state(wb) == before


@pytest.mark.parametrize("members, message", [
    ({"manifest.json": b"{}", "../jobs.parquet": b"x"}, "unexpected file '../jobs.parquet'"),
    ({"manifest.json": b"{}", "/etc/cron.d/x.parquet": b"x"}, "unexpected file"),
    ({"manifest.json": b"{}", "sub/jobs.parquet": b"x"}, "unexpected file 'sub/jobs.parquet'"),
    ({"manifest.json": b"{}", "run.sh": b"x"}, "unexpected file 'run.sh'"),
    ({f"t{i}.parquet": b"x" for i in range(400)}, "has 400 files"),
    ({"manifest.json": b" " * (2 << 20)}, "manifest.json is too large"),
])
def test_bad_member_names_and_counts_are_refused(wb, tmp_path, members, message):
    path = tmp_path / "x.zip"
    path.write_bytes(zip_of(members))
    with pytest.raises(BackupError, match=message):
        wb.import_backup(path)


def test_a_damaged_member_is_refused(wb, tmp_path):
    good = wb.export_backup(tmp_path / "good.zip")
    data = bytearray(good.read_bytes())
    at = data.find(b"PAR1", 200)  # inside a Parquet member: flip bytes so its CRC no longer matches
    data[at + 10:at + 30] = bytes(20)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        wb.import_backup(bad)


def running_one_job(tmp_path, wait) -> tuple[Workbench, Path, int, threading.Event]:
    """A workbench with a backup of its empty state, then one job running a stage that blocks on ``wait(ctx)``."""
    from pipeline.stages import StageOutput, StageSpec
    started = threading.Event()

    def stage(ctx):
        started.set()
        wait(ctx)
        path = ctx.job_dir / "x.out"
        path.write_text("x")
        return StageOutput({"x": path}, [], "fake")

    wb = Workbench(Settings(data_dir=tmp_path / "data", poll_s=0.05), start_worker=False)
    wb.worker.pipeline = (StageSpec("script", stage),)
    good = wb.export_backup(tmp_path / "good.zip")
    job = jobs.create_job(wb.db, 1, "running", 60, "landscape", {}, stages=("script",))
    wb.worker.start()
    assert started.wait(10)
    return wb, good, job, started


def test_restore_pauses_the_worker_and_the_scheduler_until_it_is_done(tmp_path, monkeypatch):
    seen = {}
    wb, good, running, _ = running_one_job(tmp_path, lambda ctx: ctx.cancel.wait(30))  # parked when paused
    try:
        real = backup.import_backup

        def observe(*args, **kw):
            seen["paused"] = wb.worker.paused
            seen["busy"] = wb.worker.busy()
            seen["daily"] = wb.daily_backup()
            ticker = threading.Thread(target=lambda: seen.update(tick=wb.tick()))  # the scheduler's own thread
            ticker.start()
            ticker.join()
            try:
                wb.enqueue(__import__("pipeline.workbench", fromlist=["VideoRequest"]).VideoRequest("during"))
            except ConfigError as exc:
                seen["enqueue"] = str(exc)
            return real(*args, **kw)

        monkeypatch.setattr(backup, "import_backup", observe)
        wb.import_backup(good)
        assert seen == {"paused": True, "busy": [], "daily": None, "tick": "skipped: a restore is running",
                        "enqueue": "A restore is replacing the data right now: queue the video again in a minute."}
        assert not wb.worker.paused  # resumed after
        assert wb.db.query_one("SELECT count(*) FROM jobs WHERE id = ?", [running])[0] == 0  # the backup predates it
    finally:
        wb.close()


def test_a_job_the_backup_caught_running_is_queued_again(wb, tmp_path):
    job = jobs.create_job(wb.db, 1, "t", 60, "landscape", {})
    jobs.claim_next(wb.db)
    jobs.start_stage(wb.db, job, "script", "local", "cpu")
    good = wb.export_backup(tmp_path / "good.zip")
    wb.import_backup(good)
    assert jobs.get_job(wb.db, job)["status"] == "queued"
    assert wb.db.query_one("SELECT status FROM job_stages WHERE job_id = ? AND stage = 'script'", [job])[0] == "pending"


def test_spend_and_quota_since_the_backup_survive_a_restore(wb, tmp_path):
    from pipeline.costs import record_usage
    job = jobs.create_job(wb.db, 1, "t", 60, "landscape", {})
    record_usage(wb.db, wb.prices, job, "script", [Usage("openai", "gpt-4.1-mini", "output_tokens", 1000)])
    good = wb.export_backup(tmp_path / "good.zip")
    record_usage(wb.db, wb.prices, job, "voice", [Usage("google", "neural2", "characters", 100000)])
    with wb.db.write() as cur:
        cur.execute("INSERT INTO youtube_projects (project_id, client_config) VALUES ('p', 'x')")
    wb.youtube.quota.record("p", "thumbnails.set")
    today = wb.db.query_one("SELECT sum(usd) FROM cost_daily WHERE day = current_date")[0]
    wb.import_backup(good)
    assert wb.db.query_one("SELECT sum(usd) FROM cost_daily WHERE day = current_date")[0] == today
    assert wb.youtube.quota.used("p", "default") == 50  # YouTube does not give the units back
    assert wb.db.query_one("SELECT count(*) FROM cost_ledger")[0] == 2


def test_restoring_an_older_backup_never_uploads_a_published_video_again(tmp_path):
    from fakes_youtube import FakeYouTube
    from test_youtube import BODY, connect, settings_for, video_file
    with FakeYouTube() as yt:
        wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
        try:
            cid = connect(wb, "Chi", "proj-chi")
            job = jobs.create_job(wb.db, cid, "t", 60, "landscape", {})
            old = wb.export_backup(tmp_path / "before-publishing.zip")
            video, thumb = video_file(tmp_path)
            first = wb.youtube.publisher.publish(job, {"id": cid}, video, thumb, BODY)
            wb.import_backup(old)  # the database forgets the upload...
            assert jobs.get_job(wb.db, job)["uid"]
            again = wb.youtube.publisher.publish(job, {"id": cid}, video, thumb, BODY)  # ...the journal does not
            assert again.ref == first.ref and len(yt.uploads_of("chi")) == 1
        finally:
            wb.close()


def test_the_daily_backup_keeps_the_newest_and_never_the_operators_own(wb, tmp_path):
    own = wb.export_backup()
    wb.settings.backup_keep = 2
    start = datetime.now(timezone.utc).timestamp()
    made = []
    for day in range(4):
        stamp = start + day * 90000  # 25 hours apart
        path = wb.daily_backup(now=stamp)
        assert path is not None and path.name.startswith("ytempire-auto-")
        made.append(path)
        assert wb.daily_backup(now=stamp + 3600) is None  # one a day
    left = sorted(p.name for p in wb.settings.backups_dir.glob("*.zip"))
    assert left == sorted([own.name, made[-1].name, made[-2].name])
    wb.settings.backup_daily = False
    assert wb.daily_backup(now=start + 10 * 86400) is None


def test_the_scriptable_path(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert main(["init", "--data-dir", data]) == 0
    out_file = tmp_path / "b.zip"
    assert main(["backup", "create", "--out", str(out_file), "--data-dir", data]) == 0
    assert "backup written" in capsys.readouterr().out and out_file.exists()
    bad = tampered(out_file, tmp_path / "bad.zip", "channels", "SELECT * FROM t")
    bad = tampered(bad, tmp_path / "bad2.zip", "videos",
                   "SELECT 7 AS job_id, 1 AS channel_id, 'x' AS title, '' AS description, []::VARCHAR[] AS tags,"
                   " 'landscape' AS format, '/etc/shadow' AS video_path")
    assert main(["backup", "restore", str(bad), "--yes", "--data-dir", data]) == 2
    assert "videos row (job 7): video_path = '/etc/shadow'" in capsys.readouterr().err
    assert main(["backup", "restore", str(out_file), "--data-dir", data]) == 2  # no terminal to ask: --yes needed
    assert "add --yes" in capsys.readouterr().err
    assert main(["backup", "restore", str(out_file), "--yes", "--data-dir", data]) == 0
    assert "restored the backup" in capsys.readouterr().out
    assert main(["backup", "list", "--json", "--data-dir", data]) == 0


def test_the_database_backups_and_snapshots_are_readable_by_the_owner_only(wb, tmp_path):
    seed_video(wb)
    wb.snapshots.refresh(force=True)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(wb.settings.data_dir) == 0o700
    assert mode(wb.settings.db_path) == 0o600
    assert mode(wb.export_backup()) == 0o600 and mode(wb.settings.backups_dir) == 0o700
    snaps = wb.settings.data_dir / "snapshots"
    assert mode(snaps) == 0o700 and {mode(p) for p in snaps.rglob("*") if p.is_file()} == {0o600}
    assert {mode(p) for p in snaps.rglob("*") if p.is_dir()} == {0o700}  # workspaces/ and each workspace's


def test_the_library_rechecks_every_path_it_reads_or_offers(wb, tmp_path):
    job = seed_video(wb)
    detail = video_detail(wb.db, job, wb.settings.jobs_dir)
    assert detail["script"]["hook"] == "h" and detail["video"]["video_path"].endswith("video.mp4")
    (tmp_path / "outside.json").write_text(json.dumps({"hook": "stolen"}))
    with wb.db.write() as cur:
        cur.execute("UPDATE artifacts SET path = ? WHERE job_id = ?", [str(tmp_path / "outside.json"), job])
        cur.execute("UPDATE videos SET video_path = '/etc/passwd', thumbnail_path = ? WHERE job_id = ?",
                    [str(wb.settings.jobs_dir / str(job) / ".." / ".." / "ytempire.duckdb"), job])
    detail = video_detail(wb.db, job, wb.settings.jobs_dir)
    assert detail["script"] is None and detail["files"] == {}
    assert detail["video"]["video_path"] is None and detail["video"]["thumbnail_path"] is None
    assert detail["refused"] == ["script", "thumbnail_path", "video_path"]


def test_a_moved_data_directory_still_finds_its_files(wb, tmp_path):
    job = seed_video(wb)
    with wb.db.write() as cur:  # paths recorded under the folder the data lived in before
        cur.execute("UPDATE videos SET video_path = ? WHERE job_id = ?", [f"/old/place/data/jobs/{job}/video.mp4", job])
    detail = video_detail(wb.db, job, wb.settings.jobs_dir)
    assert detail["video"]["video_path"] == str((wb.settings.jobs_dir / str(job) / "video.mp4").resolve())
    assert detail["refused"] == []


def test_a_refused_restore_leaves_running_jobs_running_not_cancelled(tmp_path):
    release = threading.Event()
    wb, good, job, _ = running_one_job(tmp_path, lambda ctx: release.wait(30))  # a paid call: deaf to cancel
    try:
        wb.restore_wait_s = 0.3
        with pytest.raises(BackupError, match="did not stop within"):
            wb.import_backup(good)
        release.set()
        assert wb.worker.wait_idle(30)
        assert jobs.get_job(wb.db, job)["status"] == "done"  # carried on: not "cancelled by the operator"
    finally:
        wb.close()


def test_a_backup_from_before_job_uids_still_keeps_the_uploads_since(tmp_path):
    """Backups taken before migration 009 have no job uids: a restored job that YouTube already has must
    still find its video instead of uploading it again."""
    from fakes_youtube import FakeYouTube
    from test_youtube import BODY, connect, settings_for, video_file
    with FakeYouTube() as yt:
        wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
        try:
            cid = connect(wb, "Dalet", "proj-dalet")
            job = jobs.create_job(wb.db, cid, "t", 60, "landscape", {})
            good = wb.export_backup(tmp_path / "good.zip")
            old = tampered(good, tmp_path / "old.zip", "jobs", "SELECT * REPLACE (NULL::VARCHAR AS uid) FROM t")
            video, thumb = video_file(tmp_path)
            first = wb.youtube.publisher.publish(job, {"id": cid}, video, thumb, BODY)
            wb.import_backup(old)
            assert jobs.get_job(wb.db, job)["uid"]  # given back its uid
            again = wb.youtube.publisher.publish(job, {"id": cid}, video, thumb, BODY)
            assert again.ref == first.ref and len(yt.uploads_of("dalet")) == 1
        finally:
            wb.close()


def test_a_backup_whose_tokens_another_key_sealed_is_refused(tmp_path):
    from fakes_youtube import FakeYouTube
    from pipeline.youtube.crypto import new_key
    from test_youtube import connect, settings_for
    with FakeYouTube() as yt:
        wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
        try:
            connect(wb, "He", "proj-he")
            good = wb.export_backup(tmp_path / "good.zip")
        finally:
            wb.close()
        other = Workbench(Settings(data_dir=tmp_path / "other", token_key=new_key()), start_worker=False)
        try:
            with pytest.raises(BackupError, match="do not open with this YTEMPIRE_TOKEN_KEY"):
                other.import_backup(good)
            assert other.db.query_one("SELECT count(*) FROM youtube_accounts")[0] == 0
        finally:
            other.close()


def test_a_backup_written_into_an_existing_folder_leaves_its_permissions_alone(wb, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    path = wb.export_backup(shared / "b.zip")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755 and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_webhooks_come_back_with_a_restore_and_events_already_sent_are_not_sent_again(wb, tmp_path):
    from pipeline import events
    from pipeline.access.actor import SYSTEM

    wb.settings.webhooks_allow_private = True
    made = wb.webhooks.create(SYSTEM, "http://127.0.0.1:9/hook", ["job.done"], "books")
    with wb.db.write() as cur:
        events.emit(cur, "job.done", 1, {"job_id": 1})
    outbox = wb.db.query_one("SELECT count(*) FROM event_outbox")[0]
    good = wb.export_backup(tmp_path / "good.zip")
    wb.webhooks.delete(SYSTEM, made["id"])
    wb.import_backup(good)
    [back] = wb.webhooks.list(SYSTEM)
    assert back["url"] == "http://127.0.0.1:9/hook" and back["events"] == ["job.done"]
    assert wb.webhooks.box.open(wb.db.query_one("SELECT secret FROM webhooks")[0]) == made["secret"]
    assert wb.db.query_one("SELECT count(*) FROM event_outbox")[0] == outbox  # the outbox is not rolled back
    again = wb.webhooks.create(SYSTEM, "http://127.0.0.1:9/other")
    assert again["id"] > back["id"]  # the id sequence moved past the restored rows

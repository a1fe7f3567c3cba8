"""YouTube publishing with the real google-api-python-client and google-auth against a loopback fake:
OAuth, encrypted tokens, the quota ledger, rotation, crash-safe resumable uploads, analytics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import EXAMPLE_SOURCE, ROOT, app_test
from fakes_youtube import FakeYouTube
from pipeline import jobs
from pipeline.channels import ChannelInput, create_channel
from pipeline.config import ConfigError, Settings
from pipeline.providers.base import ProviderError
from pipeline.workbench import Workbench
from pipeline.youtube.accounts import AccountError
from pipeline.youtube.crypto import new_key
from pipeline.youtube.quota import MODELS, QuotaDeferred, QuotaLedger, next_reset, pacific_day
from pipeline.youtube.upload import PublishDeferred

KEY = new_key()
BODY = {"snippet": {"title": "T", "description": "D", "tags": [], "categoryId": "27"},
        "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False, "containsSyntheticMedia": True}}


def settings_for(tmp_path: Path, fake: FakeYouTube, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", token_key=KEY, youtube_api_root=fake.url + "/",
                    youtube_analytics_root=fake.url + "/", oauth_token_uri=fake.url + "/token",
                    upload_chunk_kb=256, retry_base_s=0.01, **kw)


def client_secret(project: str) -> str:
    return json.dumps({"installed": {"client_id": f"{project}-client.apps.googleusercontent.com",
                                     "client_secret": f"secret-{project}", "project_id": project,
                                     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                                     "token_uri": "https://oauth2.googleapis.com/token",
                                     "redirect_uris": ["http://localhost"]}})


def token(channel: str) -> str:
    return json.dumps({"refresh_token": f"refresh-{channel}", "token": None,
                       "scopes": ["https://www.googleapis.com/auth/youtube.upload"]})


def video_file(tmp_path: Path, size: int = 700 * 1024) -> tuple[Path, Path]:
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(size))
    thumb = tmp_path / "thumb.jpg"
    thumb.write_bytes(b"\xff\xd8jpeg")
    return video, thumb


@pytest.fixture
def wb(tmp_path, yt):
    bench = Workbench(settings_for(tmp_path, yt), start_worker=False)
    yield bench
    bench.close()


def connect(wb, name: str, project: str, channel: str | None = None) -> int:
    cid = create_channel(wb.db, ChannelInput(name))
    wb.youtube.add_account(cid, client_secret(project), token(channel or name.lower()))
    return cid


def test_tokens_are_encrypted_and_the_app_refuses_to_start_without_the_key(tmp_path, yt):
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    connect(wb, "Alpha", "proj-a")
    wb.close()
    raw = (tmp_path / "data" / "ytempire.duckdb").read_bytes()
    assert b"refresh-alpha" not in raw and b"secret-proj-a" not in raw
    with pytest.raises(ConfigError, match="YTEMPIRE_TOKEN_KEY is not set"):
        Workbench(Settings(data_dir=tmp_path / "data"), start_worker=False)
    with pytest.raises(ConfigError, match="does not open the stored channel tokens"):  # at start, not at publish
        Workbench(Settings(data_dir=tmp_path / "data", token_key=new_key()), start_worker=False)


def test_oauth_code_exchange_against_the_token_endpoint(wb, yt):
    cid = create_channel(wb.db, ChannelInput("Beta"))
    project = wb.youtube.accounts.add_project(json.loads(client_secret("proj-b")), workspace_id=1)
    from urllib.parse import parse_qs, urlparse
    url = wb.youtube.accounts.authorization_url(project, cid)
    query = parse_qs(urlparse(url).query)
    assert query["access_type"] == ["offline"] and "youtube.upload" in query["scope"][0]
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) > 20  # PKCE and a random state
    with pytest.raises(AccountError, match="unknown or more than an hour old"):
        wb.youtube.accounts.exchange_code(f"proj-b|{cid}", "code-beta")  # a forged state is refused
    account = wb.youtube.accounts.exchange_code(query["state"][0], "code-beta")
    assert account.status == "ok" and account.channel_id == cid
    creds = wb.youtube.accounts.credentials(cid, "proj-b")
    assert creds.token.startswith("access-") and creds.refresh_token == "refresh-beta"
    with pytest.raises(AccountError, match="unknown"):
        wb.youtube.accounts.exchange_code(query["state"][0], "code-beta")  # a state works once
    state = parse_qs(urlparse(wb.youtube.accounts.authorization_url(project, cid)).query)["state"][0]
    with pytest.raises(AccountError, match="did not accept the code"):
        wb.youtube.accounts.exchange_code(state, "not-a-code")


def test_a_revoked_token_shows_on_the_channel_with_what_to_do(wb, yt, tmp_path):
    cid = connect(wb, "Gamma", "proj-g")
    yt.revoked.add("refresh-gamma")
    video, thumb = video_file(tmp_path)
    with pytest.raises(AccountError, match="reconnect the channel"):
        wb.youtube.publisher.publish(1, {"id": cid}, video, thumb, BODY)
    [row] = [a for a in wb.youtube.accounts.channel_table() if a["channel_id"] == cid]
    assert row["status"] == "revoked" and "reconnect" in row["what_to_do"] and row["health_upload"] == 0


def test_upload_sets_thumbnail_and_playlist_and_ledgers_quota(wb, yt, tmp_path):
    cid = connect(wb, "Delta", "proj-d")
    video, thumb = video_file(tmp_path)
    result = wb.youtube.publisher.publish(7, {"id": cid}, video, thumb, BODY, playlist_id="PL1")
    assert result.state == "published" and result.url == f"https://youtu.be/{result.ref}"
    assert yt.videos[result.ref]["bytes"] == video.read_bytes()
    assert yt.videos[result.ref]["body"]["status"]["containsSyntheticMedia"] is True
    assert [c[0] for c in yt.calls] == ["videos.insert", "thumbnails.set", "playlistItems.insert"]
    ledger = dict(wb.db.query("SELECT method, sum(units) FROM quota_ledger GROUP BY method"))
    assert ledger == {"videos.insert": 1, "thumbnails.set": 50, "playlistItems.insert": 50}
    assert wb.db.query_one("SELECT DISTINCT bucket FROM quota_ledger WHERE method = 'videos.insert'")[0] == "uploads"
    assert result.usage[0].quantity == 101
    # publishing the same job again does nothing more
    again = wb.youtube.publisher.publish(7, {"id": cid}, video, thumb, BODY)
    assert again.ref == result.ref and len(yt.videos) == 1


def test_a_chunk_failing_with_503_is_resumed_from_what_the_server_has(wb, yt, tmp_path):
    cid = connect(wb, "Eps", "proj-e")
    video, thumb = video_file(tmp_path, 900 * 1024)  # 4 chunks of 256 KiB
    yt.faults["chunk"] = [None, "503", None]  # the second chunk fails once
    wb.youtube.publisher.sleep = lambda s: None
    result = wb.youtube.publisher.publish(8, {"id": cid}, video, thumb, BODY)
    assert yt.videos[result.ref]["bytes"] == video.read_bytes()
    assert len(yt.uploads_of("eps")) == 1


def test_unverified_project_uploads_locked_private_are_detected(wb, yt, tmp_path):
    cid = connect(wb, "Zeta", "proj-z")
    yt.unverified.add("proj-z-client.apps.googleusercontent.com")
    video, thumb = video_file(tmp_path)
    wb.youtube.publisher.publish(9, {"id": cid}, video, thumb, BODY)
    assert wb.youtube.status()["unverified"] == ["proj-z"]
    assert wb.db.query_one("SELECT privacy_requested, privacy_actual FROM uploads WHERE job_id = 9") == ("public", "private")


@pytest.mark.parametrize("fault, parked_kind", [("quotaExceeded", "project"), ("uploadLimitExceeded", "channel")])
def test_quota_and_upload_limit_errors_park_and_defer(wb, yt, tmp_path, fault, parked_kind):
    cid = connect(wb, "Eta", "proj-h")
    yt.fault("videos.insert", fault)
    video, thumb = video_file(tmp_path)
    with pytest.raises(PublishDeferred) as info:
        wb.youtube.publisher.publish(10, {"id": cid}, video, thumb, BODY)
    ref = "proj-h" if parked_kind == "project" else str(cid)
    parked = wb.youtube.quota.parked_until(parked_kind, ref)
    assert parked and info.value.until == parked[0]
    if parked_kind == "project":
        assert parked[0] == next_reset()
    else:
        assert parked[0] > datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(hours=23)
    assert wb.db.query_one("SELECT outcome FROM quota_ledger WHERE method = 'videos.insert'")[0] == fault
    # while parked, nothing is attempted
    calls = len(yt.calls)
    with pytest.raises(PublishDeferred):
        wb.youtube.publisher.publish(11, {"id": cid}, video, thumb, BODY)
    assert len(yt.calls) == calls


def test_rate_limit_is_transient_and_retried_by_the_worker(wb, yt, tmp_path):
    from pipeline.providers.base import TransientError
    cid = connect(wb, "Theta", "proj-t")
    yt.fault("videos.insert", "rateLimitExceeded")
    video, thumb = video_file(tmp_path)
    with pytest.raises(TransientError, match="rateLimitExceeded"):
        wb.youtube.publisher.publish(12, {"id": cid}, video, thumb, BODY)
    result = wb.youtube.publisher.publish(12, {"id": cid}, video, thumb, BODY)
    assert len(yt.uploads_of("theta")) == 1 and result.ref


def test_a_call_that_would_pass_the_quota_is_not_attempted(db):
    ledger = QuotaLedger(db)
    with db.write() as cur:
        cur.execute("INSERT INTO youtube_projects (project_id, client_config) VALUES ('p', 'x')")
    for _ in range(199):
        ledger.record("p", "thumbnails.set")  # 199 x 50 = 9,950 of 10,000 units
    ledger.check("p", "thumbnails.set")  # 10,000 exactly: still allowed
    ledger.check("p", "videos.list")
    ledger.record("p", "videos.list")  # 9,951
    with pytest.raises(QuotaDeferred) as info:
        ledger.check("p", "thumbnails.set")  # would make 10,001
    assert info.value.until == next_reset()
    assert ledger.used("p", "default") == 9951
    legacy = MODELS["legacy"]["costs"]["videos.insert"]
    assert legacy == ("default", 1600)


def test_the_quota_day_is_the_pacific_day():
    late_utc = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)  # 23:30 on the 25th in Los Angeles
    assert pacific_day(late_utc) == date(2026, 11, 25)
    assert next_reset(late_utc) == datetime(2026, 11, 26, 8, 0)


def test_fifty_videos_over_fifteen_channels_and_three_projects_in_one_day(tmp_path, yt):
    """Quota pressure: each project allows 10 uploads today; 50 videos are asked for across 15 channels."""
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    try:
        import pipeline.youtube.quota as q
        limits = {**q.MODELS["2026"]["limits"], "uploads": 10}
        q.MODELS["test"] = {"limits": limits, "costs": q.MODELS["2026"]["costs"]}
        channels = []
        for i in range(15):
            cid = create_channel(wb.db, ChannelInput(f"Ch {i:02d}"))
            for project in (f"proj-{i % 3}", f"proj-{(i + 1) % 3}"):  # each channel is authorised in two projects
                wb.youtube.add_account(cid, client_secret(project), token(f"ch{i:02d}"))
            channels.append(cid)
        with wb.db.write() as cur:
            cur.execute("UPDATE youtube_projects SET quota_model = 'test'")
        video, thumb = video_file(tmp_path, 300 * 1024)
        made, deferred, failed = 0, 0, 0
        for n in range(50):
            try:
                wb.youtube.publisher.publish(1000 + n, {"id": channels[n % 15]}, video, thumb, BODY)
                made += 1
            except PublishDeferred:
                deferred += 1
            except ProviderError:
                failed += 1
        used = {p: wb.youtube.quota.used(p, "uploads") for p in ("proj-0", "proj-1", "proj-2")}
        print(f"\nuploads made {made}, deferred {deferred}, failed {failed}; uploads per project {used}")
        assert made == 30 and deferred == 20 and failed == 0
        assert all(v == 10 for v in used.values())  # no call beyond quota
        assert len(yt.videos) == 30 and sum(1 for c in yt.calls if c[0] == "videos.insert") == 30
        thumbs = {p: wb.youtube.quota.used(p, "default") for p in used}
        assert all(v == 500 for v in thumbs.values())
        del q.MODELS["test"]
    finally:
        wb.close()


def test_rotation_prefers_headroom_and_round_robins_equals(wb, yt, tmp_path):
    cid = create_channel(wb.db, ChannelInput("Iota"))
    for project in ("proj-x", "proj-y"):
        wb.youtube.add_account(cid, client_secret(project), token("iota"))
    first = wb.youtube.accounts.choose(cid, "videos.insert").project_id
    wb.youtube.accounts.touch(cid, first)
    second = wb.youtube.accounts.choose(cid, "videos.insert").project_id
    assert {first, second} == {"proj-x", "proj-y"}
    for _ in range(60):
        wb.youtube.quota.record("proj-x", "videos.insert")
    wb.youtube.accounts.touch(cid, "proj-y")
    assert wb.youtube.accounts.choose(cid, "videos.insert").project_id == "proj-y"


def test_analytics_sync_and_trending_snapshot(wb, yt, tmp_path):
    cid = connect(wb, "Kappa", "proj-k")
    video, thumb = video_file(tmp_path)
    wb.youtube.publisher.publish(20, {"id": cid}, video, thumb, BODY)
    with wb.db.write() as cur:
        cur.execute("INSERT INTO jobs (id, channel_id, topic, duration_s, format, brief, status) VALUES "
                    "(20, ?, 't', 60, 'landscape', '{}', 'done')", [cid])
    summary = wb.youtube.sync(cid, days=6)
    assert summary["rows"] == 7 and summary["revenue"] is False  # not monetised: revenue asked, refused, dropped
    assert wb.db.query_one("SELECT subscribers, videos FROM channel_stats WHERE channel_id = ?", [cid]) == (110, 1)
    assert wb.db.query_one("SELECT sum(views) FROM video_stats")[0] == sum(100 + d for d in range(7))
    yt.monetised.add("kappa")
    assert wb.youtube.sync(cid, days=2)["revenue"] is True
    assert wb.db.query_one("SELECT max(revenue_usd) FROM video_stats")[0] == 0.25
    report = wb.youtube.import_trending(cid, "US")
    assert report.inserted == 12 and report.country == "US"
    assert wb.db.query_one("SELECT count(*) FROM trend_snapshots WHERE country = 'US'")[0] == 12
    methods = dict(wb.db.query("SELECT method, count(*) FROM quota_ledger GROUP BY method"))
    assert methods["videos.list"] == 1 and methods["channels.list"] == 2  # 12 popular videos fit one page of 50


def _cli(args, data_dir, fake, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YTEMPIRE_TOKEN_KEY": KEY, "YTEMPIRE_YOUTUBE_API_ROOT": fake.url + "/",
           "YTEMPIRE_YOUTUBE_ANALYTICS_ROOT": fake.url + "/", "YTEMPIRE_OAUTH_TOKEN_URI": fake.url + "/token",
           "YTEMPIRE_UPLOAD_CHUNK_KB": "256", **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args, "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_the_cli_connects_lists_and_publishes_and_a_killed_upload_resumes_without_a_duplicate(tmp_path, yt):
    data = tmp_path / "data"
    (tmp_path / "secret.json").write_text(client_secret("proj-cli"))
    (tmp_path / "token.json").write_text(token("lambda"))
    # a video made before the channel is connected goes to the outbox
    out, err = _cli(["make", "Octopus arms", "--duration", "12", "--source", EXAMPLE_SOURCE, "--json"], data,
                    yt).communicate(timeout=300)
    made = json.loads(out)
    assert made["status"] == "done", err
    out, err = _cli(["channels", "add", "Demo Channel", "--client-secret", str(tmp_path / "secret.json"),
                     "--token", str(tmp_path / "token.json")], data, yt).communicate(timeout=120)
    assert "connected" in out, err
    listing = json.loads(_cli(["channels", "list", "--json"], data, yt).communicate(timeout=60)[0])
    [demo] = [c for c in listing["channels"] if c["name"] == "Demo Channel"]
    assert demo["accounts"][0]["status"] == "ok" and listing["quota"][0]["project"] == "proj-cli"

    # publish it from the CLI, killed halfway through the upload
    before = len(yt.videos)
    yt.chunk_delay = 0.4
    proc = _cli(["publish", str(made["job_id"]), "--json"], data, yt)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(len(s["data"]) > 0 for s in yt.sessions.values()):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(yt.sessions) == 1 and len(yt.videos) == before  # an upload began and did not finish
    yt.chunk_delay = 0
    out, err = _cli(["publish", str(made["job_id"]), "--channel", "Demo Channel", "--json"], data, yt).communicate(timeout=120)
    result = json.loads(out)
    assert len(yt.sessions) == 1, "the restarted upload must resume the stored session, not start another"
    assert len(yt.videos) == before + 1 and result["video_id"] in yt.videos
    assert result["quota_units"] >= 50  # the thumbnail, and the upload if this run created it
    video = yt.videos[result["video_id"]]
    assert video["bytes"] == Path(made["video"]).read_bytes()


def test_the_scheduler_queues_a_job_per_slot_once_with_publish_at(tmp_path, yt):
    from pipeline.trends.backlog import compute_topics
    from pipeline.trends.ingest import import_file
    from pipeline.youtube.schedule import ScheduleError, Scheduler, save_schedule
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    try:
        import_file(wb.db, ROOT / "data" / "trends" / "youtube_trending_US_2017-11-14_to_11-28.csv", "US")
        compute_topics(wb.db, "US", None)
        cid = connect(wb, "Mu", "proj-m")
        with pytest.raises(ScheduleError, match="not a time"):
            save_schedule(wb.db, cid, "9am", "Europe/Paris", "US", 30, "landscape", "public")
        with pytest.raises(ScheduleError, match="Unknown time zone"):
            save_schedule(wb.db, cid, "09:00", "Mars/Olympus", "US", 30, "landscape", "public")
        save_schedule(wb.db, cid, "09:00, 17:30", "Europe/Paris", "US", 30, "landscape", "public")
        now = datetime(2026, 11, 26, 6, 30)  # 07:30 in Paris: the 09:00 slot is within the 3-hour lead
        made = Scheduler(wb).tick(now)
        assert len(made) == 1
        job = jobs.get_job(wb.db, made[0])
        assert job["brief"]["publish_at"] == "2026-11-26T08:00:00Z" and job["brief"]["related_titles"]
        assert job["topic"] and "trending" not in job["topic"].lower() and job["channel_id"] == cid
        assert Scheduler(wb).tick(now) == []  # the slot is taken once
        assert len(Scheduler(wb).tick(datetime(2026, 11, 26, 15, 0))) == 1  # the 17:30 slot
    finally:
        wb.close()


def test_a_quota_deferral_puts_the_job_back_until_the_reset(tmp_path, yt):
    from pipeline.stages import PIPELINE, StageOutput, StageSpec
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    try:
        until = datetime(2030, 1, 1, 8, 0)

        def deferred(ctx):
            raise PublishDeferred("out of quota", until)

        wb.worker.pipeline = (StageSpec("publish", deferred),)
        job = jobs.create_job(wb.db, 1, "t", 60, "landscape", {}, stages=("publish",))
        assert wb.worker.run_job(job) == "deferred"
        row = jobs.get_job(wb.db, job)
        assert row["status"] == "queued" and row["not_before"] == until
        assert jobs.claim_next(wb.db) is None  # not before its time
        assert wb.db.query_one("SELECT attempts FROM job_stages WHERE job_id = ?", [job])[0] == 1
        del PIPELINE, StageOutput
    finally:
        wb.close()


def test_the_channels_page_connects_through_the_oauth_redirect(tmp_path, monkeypatch, yt):
    from ui.state import get_workbench
    from urllib.parse import parse_qs, urlparse
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    project = wb.youtube.accounts.add_project(json.loads(client_secret("proj-ui")), workspace_id=1)
    state = parse_qs(urlparse(wb.youtube.accounts.authorization_url(project, 1)).query)["state"][0]
    wb.close()
    for key, value in {"YTEMPIRE_DATA_DIR": str(tmp_path / "data"), "YTEMPIRE_TOKEN_KEY": KEY,
                       "YTEMPIRE_OAUTH_TOKEN_URI": yt.url + "/token", "YTEMPIRE_YOUTUBE_API_ROOT": yt.url + "/"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(ROOT)
    get_workbench.clear()
    try:
        at = app_test(60)
        at.query_params["code"] = "code-nu"
        at.query_params["state"] = state
        at.run()
        assert not at.exception and not at.error
        assert [a.status for a in get_workbench().youtube.accounts.accounts(1)] == ["ok"]
        at.switch_page("pages/channels.py").run()
        assert not at.exception
        accounts = [d.value for d in at.dataframe if "health_upload" in d.value.columns][0]
        assert accounts["status"][0] == "ok" and accounts["channel"][0] == "Demo Channel"
    finally:
        get_workbench.clear()


@pytest.mark.slow
def test_the_worker_publishes_a_made_video_to_a_connected_channel(tmp_path, yt):
    from pipeline.workbench import VideoRequest
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    try:
        cid = connect(wb, "Omicron", "proj-o")
        job = wb.enqueue(VideoRequest("Octopus arms", channel=cid, duration_s=12, privacy="unlisted",
                                      sources=[EXAMPLE_SOURCE]))
        assert wb.worker.run_job(job) == "done"
        video = wb.db.query_dicts("SELECT publish_state, publish_ref FROM videos WHERE job_id = ?", [job])[0]
        assert video["publish_state"] == "published" and video["publish_ref"] in yt.videos
        uploaded = yt.videos[video["publish_ref"]]
        assert uploaded["body"]["status"]["privacyStatus"] == "unlisted"
        assert uploaded["body"]["status"]["containsSyntheticMedia"] is True
        assert uploaded["bytes"] == Path(wb.db.query_one("SELECT video_path FROM videos WHERE job_id = ?", [job])[0]).read_bytes()
        assert wb.db.query_one("SELECT quantity FROM cost_ledger WHERE job_id = ? AND provider = 'youtube'", [job])[0] == 451  # videos.insert 1, thumbnails.set 50, captions.insert 400
        assert wb.db.query_one("SELECT status FROM uploads WHERE job_id = ?", [job])[0] == "done"
        # a held video is never published, even asked directly
        wb.settings.quality_threshold = 100.5  # nothing can pass
        held = wb.enqueue(VideoRequest("Octopus hearts", channel=cid, duration_s=12))
        assert wb.worker.run_job(held) == "held"
        assert len(yt.uploads_of("omicron")) == 1
        from pipeline.cli import main
        assert main(["publish", str(held), "--data-dir", str(tmp_path / "data")]) == 2  # refused: held by the gate
        assert wb.db.query_one("SELECT count(*) FROM uploads WHERE job_id = ?", [held])[0] == 0
    finally:
        wb.close()


def test_a_lost_final_answer_and_503s_past_every_budget_still_end_with_one_video(tmp_path, yt):
    """YouTube stores the last chunk but the answer is lost, and every status query after it gets a 503 for
    longer than the upload loop's and the worker's budgets: the session is kept through every retry and a
    restart, and the next publish finds the finished video instead of uploading a second one."""
    from pipeline.providers.base import TransientError
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    cid = connect(wb, "Rho", "proj-r")
    video, thumb = video_file(tmp_path, 700 * 1024)  # 3 chunks of 256 KiB
    yt.fault("chunk", None, None, "503-stored")
    yt.fault("status", *["503"] * 40)
    wb.youtube.publisher.sleep = lambda s: None
    for attempt in range(wb.settings.max_attempts + 2):  # the stage's retries, and then some
        with pytest.raises(TransientError, match="session is kept"):
            wb.youtube.publisher.publish(30, {"id": cid}, video, thumb, BODY)
    assert len(yt.uploads_of("rho")) == 1 and len(yt.sessions) == 1
    row = wb.db.query_one("SELECT status, session_uri IS NOT NULL FROM uploads WHERE job_id = 30")
    assert row == ("uploading", True)
    wb.close()
    yt.faults["status"] = []
    again = Workbench(settings_for(tmp_path, yt), start_worker=False)  # the worker restarts
    try:
        result = again.youtube.publisher.publish(30, {"id": cid}, video, thumb, BODY)
        assert result.ref in yt.videos and len(yt.uploads_of("rho")) == 1 and len(yt.sessions) == 1
        assert again.db.query_one("SELECT status FROM uploads WHERE job_id = 30")[0] == "done"
    finally:
        again.close()


def test_a_dropped_connection_mid_upload_resumes_the_same_session(wb, yt, tmp_path):
    cid = connect(wb, "Sigma", "proj-s")
    video, thumb = video_file(tmp_path, 900 * 1024)
    yt.fault("chunk", None, "drop", None, "drop")
    yt.fault("status", "drop", "503")
    wb.youtube.publisher.sleep = lambda s: None
    result = wb.youtube.publisher.publish(31, {"id": cid}, video, thumb, BODY)
    assert yt.videos[result.ref]["bytes"] == video.read_bytes()
    assert len(yt.sessions) == 1 and len(yt.uploads_of("sigma")) == 1


def test_upload_session_uris_are_encrypted_at_rest(wb, yt, tmp_path):
    from pipeline.providers.base import TransientError
    cid = connect(wb, "Tau", "proj-tau")
    video, thumb = video_file(tmp_path)
    yt.fault("chunk", "503", "503", "503", "503", "503", "503")
    wb.youtube.publisher.sleep = lambda s: None
    with pytest.raises(TransientError):
        wb.youtube.publisher.publish(32, {"id": cid}, video, thumb, BODY)
    stored = wb.db.query_one("SELECT session_uri FROM uploads WHERE job_id = 32")[0]
    [session] = yt.sessions
    assert stored and not stored.startswith("http") and "upload_id" not in stored  # ciphertext, not the URI
    assert wb.youtube.publisher.record(32).session_uri.endswith(f"upload_id={session}")


def test_a_recorded_upload_is_checked_on_youtube_not_uploaded_again(wb, yt, tmp_path):
    from pipeline.providers.base import ProviderError
    cid = connect(wb, "Upsilon", "proj-u")
    video, thumb = video_file(tmp_path)
    first = wb.youtube.publisher.publish(33, {"id": cid}, video, thumb, BODY)
    again = wb.youtube.publisher.publish(33, {"id": cid}, video, thumb, BODY)
    assert again.ref == first.ref and len(yt.uploads_of("upsilon")) == 1
    assert ("videos.list", "upsilon") in yt.calls  # asked YouTube, did not upload
    yt.delete_video(first.ref)
    with pytest.raises(ProviderError, match="no longer has"):
        wb.youtube.publisher.publish(33, {"id": cid}, video, thumb, BODY)
    assert not yt.uploads_of("upsilon")  # nothing uploaded on its own
    assert wb.youtube.publisher.forget_upload(33) == first.ref
    third = wb.youtube.publisher.publish(33, {"id": cid}, video, thumb, BODY)
    assert third.ref != first.ref and len(yt.uploads_of("upsilon")) == 1
    with pytest.raises(ProviderError, match="still has"):
        wb.youtube.publisher.forget_upload(33)


def test_quota_charged_by_a_failed_upload_rides_on_the_error(wb, yt, tmp_path):
    from pipeline.providers.base import TransientError
    cid = connect(wb, "Phi", "proj-phi")
    video, thumb = video_file(tmp_path)
    yt.fault("chunk", *["503"] * 10)
    wb.youtube.publisher.sleep = lambda s: None
    with pytest.raises(TransientError) as info:
        wb.youtube.publisher.publish(34, {"id": cid}, video, thumb, BODY)
    [usage] = info.value.usage
    assert (usage.provider, usage.unit, usage.quantity) == ("youtube", "quota_units", 1.0)


def test_a_wrong_token_key_is_refused_at_start_not_at_publish(tmp_path, yt):
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    connect(wb, "Psi", "proj-psi")
    wb.close()
    with pytest.raises(ConfigError, match="does not open the stored channel tokens"):
        Workbench(Settings(data_dir=tmp_path / "data", token_key=new_key()), start_worker=False)


def test_only_the_ytempire_token_key_name_is_read(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKEN_KEY", KEY)
    monkeypatch.delenv("YTEMPIRE_TOKEN_KEY", raising=False)
    assert Settings(data_dir=tmp_path).token_key is None
    monkeypatch.setenv("YTEMPIRE_TOKEN_KEY", KEY)
    assert Settings(data_dir=tmp_path).token_key.get_secret_value() == KEY


def test_rotate_key_re_encrypts_every_token_in_one_transaction(tmp_path, yt, capsys):
    from pipeline.cli import main
    from pipeline.providers.base import TransientError
    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    cid = connect(wb, "Omega", "proj-w")
    video, thumb = video_file(tmp_path)
    yt.fault("chunk", *["503"] * 6)
    wb.youtube.publisher.sleep = lambda s: None
    with pytest.raises(TransientError):
        wb.youtube.publisher.publish(40, {"id": cid}, video, thumb, BODY)  # leaves an encrypted session behind
    wb.close()
    env = {"YTEMPIRE_TOKEN_KEY": KEY, "YTEMPIRE_OAUTH_TOKEN_URI": yt.url + "/token"}
    for k, v in env.items():
        os.environ[k] = v
    try:
        assert main(["channels", "rotate-key", "--data-dir", str(tmp_path / "data")]) == 0
    finally:
        del os.environ["YTEMPIRE_TOKEN_KEY"]
    out, err = capsys.readouterr()
    fresh = out.strip()
    assert "re-encrypted 1 tokens, 1 client secrets and 1 upload sessions" in err and fresh != KEY
    with pytest.raises(ConfigError, match="does not open"):
        Workbench(settings_for(tmp_path, yt), start_worker=False)  # the old key no longer opens them
    rotated = Workbench(Settings(**{**settings_for(tmp_path, yt).model_dump(), "token_key": fresh}), start_worker=False)
    try:
        assert rotated.youtube.accounts.credentials(cid, "proj-w").refresh_token == "refresh-omega"
        assert rotated.youtube.publisher.record(40).session_uri.startswith("https://")
    finally:
        rotated.close()


def test_disconnecting_and_deleting_a_channel_revokes_its_token_at_google(tmp_path, yt):
    wb = Workbench(settings_for(tmp_path, yt, oauth_revoke_uri=yt.url + "/revoke"), start_worker=False)
    try:
        cid = connect(wb, "Alef", "proj-alef")
        notes = wb.disconnect_channel(cid)
        assert notes == ["proj-alef: revoked at Google; the token is deleted here"]
        assert yt.revocations == ["refresh-alef"] and "refresh-alef" in yt.revoked
        assert wb.youtube.accounts.accounts(cid) == []
        wb.youtube.add_account(cid, client_secret("proj-alef"), token("alef2"))
        wb.settings.oauth_revoke_uri = "http://127.0.0.1:9/revoke"  # Google out of reach: still deleted here
        notes = wb.delete_channel(cid)
        assert "could not be reached" in notes[0] and "myaccount.google.com/permissions" in notes[0]
        assert wb.db.query_one("SELECT count(*) FROM youtube_accounts")[0] == 0
        assert wb.db.query_one("SELECT count(*) FROM channels WHERE id = ?", [cid])[0] == 0
    finally:
        wb.close()


def test_a_session_that_expires_after_the_whole_file_was_sent_never_starts_a_second_upload_by_itself(wb, yt, tmp_path):
    from pipeline.providers.base import TransientError
    cid = connect(wb, "Beth", "proj-beth")
    video, thumb = video_file(tmp_path, 700 * 1024)
    yt.fault("chunk", None, None, "503-stored")  # the last chunk is stored (the video exists), the answer lost
    yt.fault("status", *["503"] * 10)
    wb.youtube.publisher.sleep = lambda s: None
    with pytest.raises(TransientError, match="session is kept"):
        wb.youtube.publisher.publish(41, {"id": cid}, video, thumb, BODY)
    yt.faults["status"] = []
    yt.sessions.clear()  # a week later YouTube has forgotten the session: status queries get 404
    for _ in range(2):
        with pytest.raises(ProviderError, match="may be on the channel already.*--reupload"):
            wb.youtube.publisher.publish(41, {"id": cid}, video, thumb, BODY)
    assert len(yt.uploads_of("beth")) == 1  # nothing started by itself
    assert wb.youtube.publisher.forget_upload(41) is None  # the operator checked Studio and asks for a new copy
    wb.youtube.publisher.publish(41, {"id": cid}, video, thumb, BODY)
    assert len(yt.uploads_of("beth")) == 2


def test_a_session_that_expires_before_the_last_bytes_restarts_the_upload(wb, yt, tmp_path):
    from pipeline.providers.base import TransientError
    cid = connect(wb, "Gimel", "proj-gimel")
    video, thumb = video_file(tmp_path, 900 * 1024)  # 4 chunks
    yt.fault("chunk", None, *["503"] * 10)
    wb.youtube.publisher.sleep = lambda s: None
    with pytest.raises(TransientError, match="session is kept"):
        wb.youtube.publisher.publish(42, {"id": cid}, video, thumb, BODY)
    yt.sessions.clear()  # expired with a quarter of the file: no video can exist
    yt.faults["chunk"] = []
    with pytest.raises(TransientError, match="a new upload will start"):
        wb.youtube.publisher.publish(42, {"id": cid}, video, thumb, BODY)
    result = wb.youtube.publisher.publish(42, {"id": cid}, video, thumb, BODY)
    assert len(yt.uploads_of("gimel")) == 1 and yt.videos[result.ref]["bytes"] == video.read_bytes()


SRT = "1\n00:00:00,400 --> 00:00:02,000\nOctopuses have three hearts.\n"


def test_the_srt_goes_up_as_a_caption_track_ledgered_and_never_twice(wb, yt, tmp_path):
    cid = connect(wb, "Kappa", "proj-k")
    video, thumb = video_file(tmp_path)
    srt = tmp_path / "captions.srt"
    srt.write_text(SRT, encoding="utf-8")
    body = {**BODY, "snippet": {**BODY["snippet"], "defaultLanguage": "de"}}
    result = wb.youtube.publisher.publish(8, {"id": cid}, video, thumb, body, captions=srt)
    assert [c[0] for c in yt.calls] == ["videos.insert", "thumbnails.set", "captions.insert"]
    [track] = yt.videos[result.ref]["captions"]
    assert track["language"] == "de" and "Octopuses have three hearts." in track["track"]
    ledger = dict(wb.db.query("SELECT method, sum(units) FROM quota_ledger GROUP BY method"))
    assert ledger["captions.insert"] == 400 and result.usage[0].quantity == 1 + 50 + 400
    wb.youtube.publisher.publish(8, {"id": cid}, video, thumb, body, captions=srt)  # done: nothing more is sent
    assert [c[0] for c in yt.calls].count("captions.insert") == 1


def test_a_refused_caption_track_leaves_the_video_live(wb, yt, tmp_path):
    cid = connect(wb, "Lambda", "proj-l")
    video, thumb = video_file(tmp_path)
    srt = tmp_path / "captions.srt"
    srt.write_text(SRT, encoding="utf-8")
    yt.fault("captions.insert", "forbidden")
    result = wb.youtube.publisher.publish(9, {"id": cid}, video, thumb, BODY, captions=srt)
    assert result.state == "published" and "captions" not in yt.videos[result.ref]
    assert "captions not added" in wb.db.query_one("SELECT error FROM uploads WHERE job_id = 9")[0]

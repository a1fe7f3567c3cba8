"""pipeline/metrics.py: what a Prometheus scrape reads back equals what the database holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline import jobs
from pipeline.access.scope import ScopedDb
from pipeline.channels import ensure_demo_channel
from pipeline.costs import PriceTable, Usage, record_usage
from pipeline.metrics import JOB_STATES, build_registry, render
from pipeline.youtube.quota import MODELS, QuotaLedger

PRICES = PriceTable("t", {"openai": {"gpt": {"tokens": 0.002}}, "elevenlabs": {"v": {"chars": 0.0003}}})
STATES = {"queued": 1, "running": 1, "review": 1, "done": 2, "held": 1, "failed": 1, "cancelled": 0}


def scrape(db, settings, **kw) -> dict:
    body, content_type = render(build_registry(db, settings, **kw))
    assert content_type.startswith("text/plain") and "version=" in content_type
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def samples(family, name: str | None = None) -> dict[tuple, float]:
    """{label values (sorted by label name): value} of one sample name of a family."""
    return {tuple(v for _, v in sorted(s.labels.items())): s.value for s in family.samples
            if name is None or s.name == name}


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@pytest.fixture
def store(workbench):
    """A workbench's database with jobs in every state but one, two workspaces, spend, quota and webhooks."""
    db = workbench.db
    ensure_demo_channel(db)  # the Workbench made it already; a bare db gets it here
    channel = db.query_one("SELECT min(id) FROM channels")[0]
    with db.write() as cur:
        cur.execute("INSERT INTO workspaces (name) VALUES ('Second')")
    made = []
    for state, n in STATES.items():
        for _ in range(n):
            job = jobs.create_job(db, channel, f"{state} topic {len(made)}", 60, "landscape", {})
            with db.write() as cur:
                cur.execute("UPDATE jobs SET status = ? WHERE id = ?", [state, job])
            made.append(job)
    second = made[-1]  # the failed one moves to workspace 2
    with db.write() as cur:
        cur.execute("UPDATE jobs SET workspace_id = 2 WHERE id = ?", [second])
        now = utcnow()
        for job, stage, started, seconds in [(made[0], "script", 60, 2.0), (made[1], "script", 50, 4.0),
                                             (made[2], "script", 40, 12.0), (made[3], "voice", 30, 7.5),
                                             (made[4], "voice", 3 * 24 * 3600, 99.0)]:  # the last: too old
            start = now - timedelta(seconds=started)
            cur.execute("UPDATE job_stages SET status = 'done', started_at = ?, finished_at = ?"
                        " WHERE job_id = ? AND stage = ?", [start, start + timedelta(seconds=seconds), job, stage])
    record_usage(db, PRICES, made[0], "script", [Usage("openai", "gpt", "tokens", 1000)])
    record_usage(db, PRICES, made[1], "voice", [Usage("elevenlabs", "v", "chars", 2000)])
    record_usage(db, PRICES, second, "script", [Usage("openai", "gpt", "tokens", 500)])
    with db.write() as cur:  # spend of an earlier day: in the total, not in today's
        cur.execute("INSERT INTO cost_daily VALUES (current_date - 3, 'script', 'openai', 'gpt', 'tokens', 10, 1.5,"
                    " 0, 1, 1)")
        cur.execute("INSERT INTO job_costs (job_id, usd, compute_s, workspace_id) VALUES (999, 1.5, 0, 1)")
        cur.execute("INSERT INTO youtube_projects (project_id, client_config, quota_model) VALUES"
                    " ('proj-a', 'x'::BLOB, '2026'), ('proj-b', 'x'::BLOB, 'legacy')")
        cur.execute("UPDATE youtube_projects SET workspace_id = 2 WHERE project_id = 'proj-b'")
        for enabled, ws in [(True, 1), (True, None), (False, 2)]:
            cur.execute("INSERT INTO webhooks (url, secret, enabled, workspace_id) VALUES (?, 's', ?, ?)",
                        ["https://example.com/hook", enabled, ws])
        for status, ws in [("pending", 1), ("delivered", 1), ("delivered", 2), ("delivered", 1), ("failed", 2)]:
            cur.execute("INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, workspace_id, status)"
                        " VALUES (1, 'msg_x', 'job.done', ?, ?)", [ws, status])
    quota = QuotaLedger(db)
    quota.record("proj-a", "videos.insert")
    quota.record("proj-a", "thumbnails.set")
    quota.record("proj-b", "videos.insert")
    return db


def test_job_states_are_every_state_the_state_machine_knows():
    assert set(JOB_STATES) == set(jobs.JOB_TRANSITIONS) | {"done"}


def test_jobs_by_state_and_workspace_match_the_table_with_zeros(store, settings):
    got = samples(scrape(store, settings)["ytempire_jobs"])
    in_db = {(s, str(w)): n for w, s, n in store.query("SELECT workspace_id, status, count(*) FROM jobs GROUP BY ALL")}
    for state in JOB_STATES:
        for ws in ("1", "2"):
            assert got[(state, ws)] == in_db.get((state, ws), 0)
    assert got[("cancelled", "1")] == 0 and got[("failed", "2")] == 1 and got[("done", "1")] == 2


def test_stage_durations_of_the_last_day(store, settings):
    fams = scrape(store, settings)
    summary = fams["ytempire_stage_duration_seconds"]
    assert summary.type == "summary" and "24 hours" in summary.documentation
    assert samples(summary, "ytempire_stage_duration_seconds_count")[("script",)] == 3
    assert samples(summary, "ytempire_stage_duration_seconds_sum")[("script",)] == pytest.approx(18.0)
    assert samples(summary, "ytempire_stage_duration_seconds_count")[("voice",)] == 1  # the 3-day-old one is out
    assert samples(summary, "ytempire_stage_duration_seconds_count")[("render",)] == 0
    assert samples(fams["ytempire_stage_duration_p50_seconds"])[("script",)] == pytest.approx(4.0)
    p95 = samples(fams["ytempire_stage_duration_p95_seconds"])
    assert p95[("script",)] == pytest.approx(4.0 + 0.9 * 8.0)  # linear interpolation between 4 and 12
    assert ("render",) not in p95  # no percentile of nothing


def test_spend_totals_equal_the_ledger_rollups(store, settings):
    fams = scrape(store, settings)
    total = samples(fams["ytempire_spend_usd"], "ytempire_spend_usd_total")
    assert fams["ytempire_spend_usd"].type == "counter"
    (job_costs,) = store.query_one("SELECT sum(usd) FROM job_costs")
    assert sum(total.values()) == pytest.approx(float(job_costs))
    (ledger,) = store.query_one("SELECT sum(usd) FROM cost_ledger")
    assert float(ledger) == pytest.approx(2.0 + 0.6 + 1.0)
    assert total[("openai", "1")] == pytest.approx(2.0 + 1.5)  # today's and the earlier day's
    assert total[("openai", "2")] == pytest.approx(1.0)
    assert total[("elevenlabs", "1")] == pytest.approx(0.6)
    today = samples(fams["ytempire_spend_today_usd"])
    assert today == {("openai",): pytest.approx(3.0), ("elevenlabs",): pytest.approx(0.6)}


def test_quota_used_and_limits_match_the_quota_ledger(store, settings):
    fams = scrape(store, settings)
    used = samples(fams["ytempire_youtube_quota_used"])  # labels sorted by name: (bucket, project)
    limit = samples(fams["ytempire_youtube_quota_limit"])
    summary = QuotaLedger(store).summary()
    assert len(summary) == len(used) == len(limit)
    for row in summary:
        assert used[(row["bucket"], row["project"])] == row["used"]
        assert limit[(row["bucket"], row["project"])] == row["limit"]
    assert used[("uploads", "proj-a")] == 1 and used[("default", "proj-a")] == 50
    assert used[("default", "proj-b")] == 1600 and ("uploads", "proj-b") not in used  # legacy: one pool
    assert limit[("uploads", "proj-a")] == MODELS["2026"]["limits"]["uploads"]


def test_webhook_families(store, settings):
    fams = scrape(store, settings)
    assert samples(fams["ytempire_webhook_deliveries"]) == {("pending",): 1, ("delivered",): 3, ("failed",): 1}
    assert samples(fams["ytempire_webhooks_enabled"]) == {(): 2}
    assert samples(fams["ytempire_webhooks_disabled"]) == {(): 1}


def test_every_family_has_help_text_and_the_prefix(store, settings):
    fams = scrape(store, settings, version="1.2.3")
    assert samples(fams["ytempire_info"]) == {("1.2.3",): 1}
    for name, family in fams.items():
        assert name.startswith("ytempire_") and family.documentation


def test_webhook_families_are_left_out_when_their_tables_are_missing(db, settings):
    with db.write() as cur:
        cur.execute("DROP TABLE webhook_deliveries")
        cur.execute("DROP TABLE webhooks")
    fams = scrape(db, settings)
    assert "ytempire_webhook_deliveries" not in fams and "ytempire_webhooks_enabled" not in fams
    assert "ytempire_jobs" in fams and "ytempire_spend_today_usd" in fams


def test_an_empty_store_scrapes_with_zeros(db, settings):
    fams = scrape(db, settings)
    assert set(samples(fams["ytempire_jobs"]).values()) == {0}
    assert samples(fams["ytempire_webhook_deliveries"]) == {("pending",): 0, ("delivered",): 0, ("failed",): 0}
    assert not fams["ytempire_spend_usd"].samples and not fams["ytempire_youtube_quota_used"].samples


def test_a_scoped_db_reports_only_its_workspaces(store, settings):
    fams = scrape(ScopedDb(store, frozenset({2})), settings)
    assert {ws for _, ws in samples(fams["ytempire_jobs"])} == {"2"}
    assert samples(fams["ytempire_jobs"])[("failed", "2")] == 1
    assert samples(fams["ytempire_spend_usd"], "ytempire_spend_usd_total") == {("openai", "2"): pytest.approx(1.0)}
    assert samples(fams["ytempire_spend_today_usd"]) == {("openai",): pytest.approx(1.0)}
    assert {p for _, p in samples(fams["ytempire_youtube_quota_used"])} == {"proj-b"}
    assert samples(fams["ytempire_webhook_deliveries"]) == {("pending",): 0, ("delivered",): 1, ("failed",): 1}
    assert samples(fams["ytempire_webhooks_enabled"]) == {(): 0}
    assert samples(fams["ytempire_webhooks_disabled"]) == {(): 1}
    assert samples(fams["ytempire_stage_duration_seconds"], "ytempire_stage_duration_seconds_count")[("script",)] == 0


def test_each_scrape_reads_current_values(store, settings):
    registry = build_registry(store, settings)
    before = samples(scrape(store, settings)["ytempire_jobs"])[("queued", "1")]
    jobs.create_job(store, store.query_one("SELECT min(id) FROM channels")[0], "one more", 60, "landscape", {})
    body, _ = render(registry)
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert samples(fams["ytempire_jobs"])[("queued", "1")] == before + 1

"""Domain events and signed webhooks: the outbox, the real emission points, Standard Webhooks signatures
(checked with the library's own verifier), retries, auto-disable, replay, SSRF refusal, workspaces, restarts."""

from __future__ import annotations

import ipaddress
import json
import time
from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from fakes_webhooks import Receiver
from pipeline import events, jobs
from pipeline.access.actor import SYSTEM, Actor, Forbidden, NotInWorkspace
from pipeline.budget import BudgetGuard
from pipeline.channels import ChannelInput, create_channel, ensure_demo_channel
from pipeline.config import Settings
from pipeline.costs import PriceTable, Usage
from pipeline.gpu import GpuLease
from pipeline.stages import StageOutput, StageSpec
from pipeline.webhooks import PrivateAddress, WebhookError, refused_address, utcnow
from pipeline.workbench import Workbench
from pipeline.worker import Worker

PUBLIC = "https://studio.example.com"
FAKE_PRICES = PriceTable("test", {"fake": {"m": {"calls": 0.01}}, "openai": {"m": {"input_tokens": 0.001}}})
NAMES = ("script", "voice", "render")


def hook_settings(tmp_path, **kw) -> Settings:
    values = dict(data_dir=tmp_path / "data", retry_base_s=0.01, poll_s=0.05, public_url=PUBLIC,
                  webhooks_allow_private=True, webhook_retry_s=[0.05, 0.05, 0.05], webhook_timeout_s=2.0)
    values.update(kw)
    return Settings(**values)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def wb(tmp_path):
    bench = Workbench(hook_settings(tmp_path), start_worker=False)  # the tests drive the dispatcher themselves
    yield bench
    bench.close()


def deliver_all(wb, timeout: float = 10.0) -> None:
    """Run dispatcher rounds in this thread until no delivery is pending (retries included)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wb.webhook_dispatcher.run_once()
        pending = wb.db.query_one("SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                                  " WHERE d.status = 'pending' AND w.enabled")[0]
        if not pending:
            return
        time.sleep(0.02)
    raise AssertionError("deliveries still pending")


def verified(secret: str, request) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


def fake_stage(name, behaviour=None):
    def run(ctx):
        if behaviour:
            behaviour(ctx)
        path = ctx.job_dir / f"{name}.out"
        path.write_text(name)
        return StageOutput({name: path}, [Usage("fake", "m", "calls", 1)], "fake",
                           hold="the quality gate said no" if behaviour == "hold" else None)
    if behaviour == "hold":
        behaviour = None

        def run(ctx):  # noqa: F811 - the holding variant
            path = ctx.job_dir / f"{name}.out"
            path.write_text(name)
            return StageOutput({name: path}, [], "fake", hold="quality score 12 under 70")
    return StageSpec(name, run, provider=lambda b, c, s: "fake")


def run_job(wb, specs) -> tuple[int, str]:
    channel = ensure_demo_channel(wb.db) or 1
    job = jobs.create_job(wb.db, channel, "Octopus hearts", 60, "landscape", {}, stages=tuple(s.name for s in specs))
    worker = Worker(wb.settings, wb.db, FAKE_PRICES, pipeline=tuple(specs), lease=GpuLease(0))
    assert jobs.claim_next(wb.db) == job
    with worker._guard:
        worker._running[job] = None
    return job, worker._run_claimed(job)


def outbox(wb, type: str | None = None) -> list[dict]:
    rows = wb.db.query_dicts("SELECT * FROM event_outbox ORDER BY seq" if type is None else
                             "SELECT * FROM event_outbox WHERE type = ? ORDER BY seq", [] if type is None else [type])
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


# -- the outbox --------------------------------------------------------------------------------------
def test_an_event_is_written_with_its_change_or_not_at_all(wb):
    with pytest.raises(RuntimeError):
        with wb.db.write() as cur:
            cur.execute("UPDATE channels SET name = 'Renamed' WHERE id = 1")
            events.emit(cur, "webhook.test", 1, {"n": 1})
            raise RuntimeError("the change failed")
    assert outbox(wb) == []
    with wb.db.write() as cur:
        event_id = events.emit(cur, "webhook.test", 1, {"n": 2})
    [row] = outbox(wb)
    assert row["id"] == event_id and event_id.startswith("msg_") and row["workspace_id"] == 1
    assert row["payload"]["type"] == "webhook.test" and row["payload"]["data"] == {"n": 2}
    assert row["payload"]["timestamp"].endswith("Z")


def test_an_unknown_event_type_is_refused(wb):
    with pytest.raises(events.UnknownEvent, match="job.done"):
        with wb.db.write() as cur:
            events.emit(cur, "job.exploded", 1, {})
    assert {name for name, _ in events.EVENT_TYPES} >= {"job.queued", "budget.reached", "channel.token_revoked"}


# -- the emission points, through their real code ------------------------------------------------------
def test_a_job_sends_queued_started_each_stage_and_done_signed(wb, receiver):
    made = wb.webhooks.create(SYSTEM, receiver.url, description="everything")
    job, status = run_job(wb, [fake_stage(n) for n in NAMES])
    assert status == "done"
    deliver_all(wb)
    got = receiver.wait_for(6)
    bodies = [verified(made["secret"], r) for r in got]
    assert [b["type"] for b in bodies] == ["job.queued", "job.started", "stage.done", "stage.done", "stage.done",
                                           "job.done"]
    assert [b["data"]["stage"] for b in bodies if b["type"] == "stage.done"] == list(NAMES)
    done = bodies[-1]["data"]
    assert done["job_id"] == job and done["status"] == "done" and done["topic"] == "Octopus hearts"
    assert done["url"] == f"{PUBLIC}/api/v1/jobs/{job}" and done["video_url"] == f"{PUBLIC}/api/v1/videos/{job}/video"
    assert done["cost_usd"] == pytest.approx(0.03) and done["channel"]  # three $0.01 calls, and the channel's name
    assert bodies[1]["data"]["resumed"] is False
    headers = got[0].headers
    assert headers["user-agent"] == "YTEmpire-Webhooks/1" and headers["content-type"] == "application/json"
    assert {r.headers["webhook-id"] for r in got} == {e["id"] for e in outbox(wb)}
    with pytest.raises(Exception):  # a body changed on the way is refused by the receiver's check
        Webhook(made["secret"]).verify(got[0].body.replace(b"queued", b"done"), got[0].headers)


def test_a_failed_job_and_a_held_job_send_their_events(wb):
    def boom(ctx):
        raise ValueError("the script writer broke")
    job, status = run_job(wb, [fake_stage("script", boom)])
    assert status == "failed"
    [failed] = outbox(wb, "job.failed")
    assert failed["payload"]["data"]["job_id"] == job and failed["payload"]["data"]["stage"] == "script"
    assert "the script writer broke" in failed["payload"]["data"]["error"]

    held, status = run_job(wb, [fake_stage("script"), fake_stage("quality", "hold"), fake_stage("publish")])
    assert status == "held"
    [event] = outbox(wb, "job.held")
    assert event["payload"]["data"]["job_id"] == held and "quality score 12" in event["payload"]["data"]["message"]
    assert not [e for e in outbox(wb, "stage.done") if e["payload"]["data"]["stage"] == "publish"]


@pytest.mark.parametrize("state,ref", [("published", "dQw4w9WgXcQ"), ("outbox", "/data/outbox/demo/1")])
def test_a_recorded_publish_sends_video_published(wb, tmp_path, state, ref):
    channel = ensure_demo_channel(wb.db) or 1
    job = jobs.create_job(wb.db, channel, "Octopus", 60, "landscape", {"privacy": "unlisted"}, stages=("publish",))
    jobs.claim_next(wb.db)
    jobs.start_stage(wb.db, job, "publish", "youtube", "cpu")
    receipt = tmp_path / "publish.json"
    receipt.write_text("{}")
    jobs.complete_stage(wb.db, job, "publish", {"publish": receipt}, [],
                        video_fields={"channel_id": channel, "title": "Three hearts", "description": "", "tags": [],
                                      "format": "landscape", "publish_state": state, "publish_ref": ref})
    [event] = outbox(wb, "video.published")
    data = event["payload"]["data"]
    assert data["job_id"] == job and data["privacy"] == "unlisted" and data["title"] == "Three hearts"
    assert data["video_url"] == f"{PUBLIC}/api/v1/videos/{job}/video"
    if state == "published":
        assert data["youtube_video_id"] == ref and data["watch_url"] == f"https://youtu.be/{ref}"
    else:
        assert data["outbox_path"] == ref and data["target"] == "outbox"


def test_budget_warning_and_reached_are_sent_once_each(wb):
    channel = ensure_demo_channel(wb.db) or 1
    job = jobs.create_job(wb.db, channel, "t", 60, "landscape", {})
    guard = BudgetGuard(wb.db, FAKE_PRICES, job, 1.0, {"openai": "2 usd"}, workspace_budgets={"openai": "1.5 usd"},
                        workspace_id=1)

    def call(tokens: int) -> None:
        usage = [Usage("openai", "m", "input_tokens", tokens)]
        hold, refusal = guard.reserve("script", usage)
        assert refusal is None
        guard.settle(hold, "script", usage)

    call(450)  # $0.45: 45% of the cap, 30% of the workspace's day
    assert outbox(wb, "budget.warning") == []
    call(450)  # $0.90: 90% of the cap, 60% of the workspace's day
    [warning] = outbox(wb, "budget.warning")
    assert warning["payload"]["data"] == {**warning["payload"]["data"], "scope": "video", "threshold": 80,
                                          "job_id": job, "cap_usd": 1.0}
    call(100)  # $1.00: the cap, and 66% of the workspace's day
    call(0)  # nothing new passed: nothing sent again
    video = [e["payload"]["data"] for e in outbox(wb) if e["payload"]["data"].get("scope") == "video"]
    assert [(d["threshold"]) for d in video] == [80, 100]
    guard.cap = guard.cap * 10  # a bigger cap: the day's budgets are next
    call(300)  # $1.30: 86% of the workspace's $1.50, 65% of the installation's $2
    call(200)  # $1.50: the workspace's whole day, 75% of the installation's
    daily = [(e["type"], e["workspace_id"], e["payload"]["data"]["budget_of"]) for e in outbox(wb)
             if e["payload"]["data"].get("scope") == "daily"]
    assert daily == [("budget.warning", 1, "workspace"), ("budget.reached", 1, "workspace")]
    guard.workspace_daily = {}  # the workspace's own budget lifted: the installation's is next
    call(100)  # $1.60: 80% of the installation's: the installation's own event (all-workspaces webhooks only)
    installation = [e for e in outbox(wb) if e["payload"]["data"].get("budget_of") == "installation"]
    assert [(e["type"], e["workspace_id"]) for e in installation] == [("budget.warning", None)]


def test_parking_a_project_or_channel_sends_quota_parked(wb):
    channel = create_channel(wb.db, ChannelInput("Parked"), workspace_id=1)
    until = (utcnow() + timedelta(hours=5)).replace(microsecond=0)
    wb.youtube.quota.park("channel", str(channel), until, "uploadLimitExceeded: YouTube's upload cap")
    wb.youtube.quota.park("channel", str(channel), until, "uploadLimitExceeded: YouTube's upload cap")  # said again
    [event] = outbox(wb, "quota.parked")
    data = event["payload"]["data"]
    assert event["workspace_id"] == 1 and data["channel_id"] == channel and data["channel"] == "Parked"
    assert data["until"].startswith(until.isoformat()) and "upload cap" in data["reason"]


def test_a_revoked_token_sends_channel_token_revoked(tmp_path, yt):
    from pipeline.youtube.accounts import AccountError
    from pipeline.youtube.crypto import new_key

    settings = hook_settings(tmp_path, token_key=new_key(), youtube_api_root=yt.url + "/",
                             oauth_token_uri=yt.url + "/token")
    with Workbench(settings, start_worker=False) as bench:
        channel = create_channel(bench.db, ChannelInput("Gamma"))
        secret = {"installed": {"client_id": "c.apps.googleusercontent.com", "client_secret": "s",
                                "project_id": "proj-g", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                                "token_uri": "https://oauth2.googleapis.com/token", "redirect_uris": ["http://localhost"]}}
        bench.youtube.add_account(channel, json.dumps(secret), json.dumps({"refresh_token": "refresh-gamma",
                                                                           "token": None}))
        yt.revoked.add("refresh-gamma")
        for _ in range(2):  # found twice: said once
            with pytest.raises(AccountError, match="reconnect"):
                bench.youtube.accounts.credentials(channel, "proj-g")
        [event] = outbox(bench, "channel.token_revoked")
        assert event["payload"]["data"]["channel_id"] == channel and event["payload"]["data"]["status"] == "revoked"
        assert event["workspace_id"] == 1 and "reconnect" in event["payload"]["data"]["action"]


# -- delivery: retries, giving up, turning off, replay ------------------------------------------------------
def test_a_failing_receiver_is_retried_until_it_answers(wb, receiver):
    made = wb.webhooks.create(SYSTEM, receiver.url, events=["webhook.test"])
    receiver.fail(2, status=503)
    event_id = wb.webhooks.send_test(SYSTEM, made["id"])
    deliver_all(wb)
    got = receiver.wait_for(3)
    assert len(got) == 3 and {r.headers["webhook-id"] for r in got} == {event_id}
    assert all(verified(made["secret"], r)["type"] == "webhook.test" for r in got)
    [delivery] = wb.webhooks.deliveries(SYSTEM, made["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3 and delivery["last_status"] == 200
    attempts = wb.webhooks.attempts(SYSTEM, delivery["id"])
    assert [a["status_code"] for a in attempts] == [503, 503, 200] and attempts[0]["error"].endswith("HTTP 503")
    assert attempts[-1]["response"] == "ok" and all(a["duration_ms"] >= 0 for a in attempts)


def test_exhausted_deliveries_fail_then_turn_the_webhook_off_with_the_reason(tmp_path, receiver):
    with Workbench(hook_settings(tmp_path, webhook_disable_after=2), start_worker=False) as bench:
        made = bench.webhooks.create(SYSTEM, receiver.url)
        receiver.always(500)
        first = bench.webhooks.send_test(SYSTEM, made["id"])
        deliver_all(bench)
        hook = bench.webhooks.get(SYSTEM, made["id"])
        assert hook["enabled"] and hook["consecutive_failures"] == 1
        bench.webhooks.send_test(SYSTEM, made["id"])
        deliver_all(bench)
        assert len(receiver.requests) == 8  # 4 attempts each: the first and 3 retries
        hook = bench.webhooks.get(SYSTEM, made["id"])
        assert not hook["enabled"] and "2 deliveries in a row failed" in hook["disabled_reason"]
        assert "HTTP 500" in hook["disabled_reason"] and "turn the webhook on again" in hook["disabled_reason"]
        assert {d["status"] for d in bench.webhooks.deliveries(SYSTEM)} == {"failed"}
        with pytest.raises(WebhookError, match="turn it on"):
            bench.webhooks.send_test(SYSTEM, made["id"])

        hook = bench.webhooks.set_enabled(SYSTEM, made["id"], True)
        assert hook["enabled"] and hook["disabled_reason"] is None and hook["consecutive_failures"] == 0
        receiver.always(200)
        old = [d for d in bench.webhooks.deliveries(SYSTEM) if d["event_id"] == first][0]
        again = bench.webhooks.replay(SYSTEM, old["id"])
        deliver_all(bench)
        assert receiver.requests[-1].headers["webhook-id"] == first  # the same id: a receiver can dedupe
        replayed = [d for d in bench.webhooks.deliveries(SYSTEM) if d["id"] == again][0]
        assert replayed["status"] == "delivered" and replayed["replay_of"] == old["id"]
        assert json.loads(receiver.requests[-1].body) == json.loads(bench.webhooks.payload(SYSTEM, again))


def test_410_gone_turns_the_webhook_off_at_once(wb, receiver):
    made = wb.webhooks.create(SYSTEM, receiver.url)
    receiver.always(410)
    wb.webhooks.send_test(SYSTEM, made["id"])
    deliver_all(wb)
    assert len(receiver.requests) == 1
    hook = wb.webhooks.get(SYSTEM, made["id"])
    assert not hook["enabled"] and "410 Gone" in hook["disabled_reason"]


def test_a_webhook_failing_for_more_than_a_day_is_turned_off(wb, receiver):
    made = wb.webhooks.create(SYSTEM, receiver.url)
    with wb.db.write() as cur:
        cur.execute("UPDATE webhooks SET failing_since = ? WHERE id = ?", [utcnow() - timedelta(days=2), made["id"]])
    receiver.fail(1, status=502)
    wb.webhooks.send_test(SYSTEM, made["id"])
    wb.webhook_dispatcher.run_once()
    hook = wb.webhooks.get(SYSTEM, made["id"])
    assert not hook["enabled"] and "more than a day" in hook["disabled_reason"]


def test_retry_after_is_honoured_within_the_schedule(tmp_path, receiver):
    with Workbench(hook_settings(tmp_path, webhook_retry_s=[0.05, 3.0]), start_worker=False) as bench:
        made = bench.webhooks.create(SYSTEM, receiver.url)
        receiver.fail(1, status=429, headers={"Retry-After": "1"})
        bench.webhooks.send_test(SYSTEM, made["id"])
        bench.webhook_dispatcher.run_once()
        [delivery] = bench.webhooks.deliveries(SYSTEM)
        [attempt] = bench.webhooks.attempts(SYSTEM, delivery["id"])
        wait = (delivery["next_attempt_at"] - attempt["at_time"]).total_seconds()
        assert delivery["status"] == "pending" and 0.95 <= wait <= 1.05  # not the schedule's 0.05 s


def test_redirects_are_not_followed_and_a_hang_times_out(tmp_path, receiver):
    with Workbench(hook_settings(tmp_path, webhook_retry_s=[0.01], webhook_timeout_s=0.3), start_worker=False) as bench:
        made = bench.webhooks.create(SYSTEM, receiver.url)
        receiver.fail(1, status=302, headers={"Location": "http://169.254.169.254/"})
        receiver.fail(1, status=200, delay_s=1.0)
        bench.webhooks.send_test(SYSTEM, made["id"])
        deliver_all(bench)
        [delivery] = bench.webhooks.deliveries(SYSTEM)
        errors = [a["error"] for a in bench.webhooks.attempts(SYSTEM, delivery["id"])]
        assert delivery["status"] == "failed" and len(receiver.requests) == 2  # the redirect target never asked
        assert "redirects are not followed" in errors[0] and "no answer within 0.3 s" in errors[1]


# -- receivers: no private addresses unless the owner allows them ---------------------------------------------
@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest",
                                 "http://[::1]:9/hook", "http://localhost:9/hook", "http://100.64.0.1/",
                                 "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://192.168.1.10/"])
def test_private_receivers_are_refused_by_default(tmp_path, url):
    with Workbench(hook_settings(tmp_path, webhooks_allow_private=False), start_worker=False) as bench:
        with pytest.raises(PrivateAddress, match="YTEMPIRE_WEBHOOKS_ALLOW_PRIVATE"):
            bench.webhooks.create(SYSTEM, url)
        assert bench.webhooks.list(SYSTEM) == []


@pytest.mark.parametrize("address,kind", [("127.0.0.1", "loopback"), ("169.254.169.254", "link-local"),
                                          ("10.0.0.1", "private"), ("100.64.3.4", "carrier-grade NAT"),
                                          ("224.0.0.1", "multicast"), ("::", "unspecified"), ("fe80::1", "link-local"),
                                          ("240.0.0.1", "reserved"), ("8.8.8.8", None), ("2606:4700::1111", None)])
def test_address_kinds(address, kind):
    assert refused_address(ipaddress.ip_address(address)) == kind


def test_private_receivers_work_when_allowed_and_are_checked_again_at_delivery(tmp_path, receiver):
    with Workbench(hook_settings(tmp_path, webhook_retry_s=[0.01]), start_worker=False) as bench:
        made = bench.webhooks.create(SYSTEM, receiver.url)
        bench.update_settings({"webhooks_allow_private": False})  # the owner turns it off again
        bench.webhooks.send_test(SYSTEM, made["id"])
        deliver_all(bench)
        assert receiver.requests == []
        [delivery] = bench.webhooks.deliveries(SYSTEM)
        assert delivery["status"] == "failed" and "loopback" in delivery["last_error"]


# -- validation, workspaces, secrets --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,words", [
    ({"url": "ftp://example.com/hook"}, "https://"), ({"url": "https://user:pw@example.com/"}, "no user name"),
    ({"url": "https://example.com/" + "x" * 2000}, "at most 2,000"), ({"url": "https:///hook"}, "names no host"),
    ({"url": "https://example.com/#top"}, "fragment"), ({"url": ""}, "receiver's URL"),
    ({"url": "https://example.com/a b"}, "spaces"), ({"url": "https://example.com:99999/"}, "port"),
    ({"url": "https://example.com/", "events": ["job.nope"]}, "not an event type"),
    ({"url": "https://example.com/", "description": "d" * 201}, "keep it to 200"),
])
def test_bad_webhooks_are_refused_saying_what_to_fix(wb, kwargs, words):
    with pytest.raises(WebhookError, match=words):
        wb.webhooks.create(SYSTEM, **kwargs)


def test_a_workspace_has_at_most_twenty_webhooks(wb):
    for i in range(20):
        wb.webhooks.create(SYSTEM, f"https://hooks.example.com/{i}")
    with pytest.raises(WebhookError, match="delete one first"):
        wb.webhooks.create(SYSTEM, "https://hooks.example.com/21")


def test_workspaces_see_and_receive_only_their_own(wb, tmp_path):
    two = wb.access.create_workspace(SYSTEM, "Second")
    one_op = Actor(None, "op1@example.com", "One", "operator", 1, frozenset({1}))
    two_op = Actor(None, "op2@example.com", "Two", "operator", two, frozenset({two}))
    receivers = {name: Receiver() for name in ("one", "two", "all")}
    try:
        hooks = {"one": wb.webhooks.create(one_op, receivers["one"].url),
                 "two": wb.webhooks.create(two_op, receivers["two"].url),
                 "all": wb.webhooks.create(SYSTEM, receivers["all"].url)}
        assert (hooks["one"]["workspace_id"], hooks["two"]["workspace_id"], hooks["all"]["workspace_id"]) == (1, two,
                                                                                                          None)
        channel = create_channel(wb.db, ChannelInput("Ones"), workspace_id=1)
        jobs.create_job(wb.db, channel, "Workspace one's video", 60, "landscape", {})
        deliver_all(wb)
        assert [json.loads(r.body)["type"] for r in receivers["one"].wait_for(1)] == ["job.queued"]
        assert len(receivers["all"].wait_for(1)) == 1 and receivers["two"].requests == []
        assert [h["id"] for h in wb.webhooks.list(two_op)] == [hooks["two"]["id"]]
        with pytest.raises(NotInWorkspace):
            wb.webhooks.get(two_op, hooks["one"]["id"])
        with pytest.raises(NotInWorkspace):
            wb.webhooks.deliveries(two_op, hooks["one"]["id"])
        assert wb.webhooks.deliveries(two_op) == []
        delivery = wb.webhooks.deliveries(one_op)[0]
        with pytest.raises(NotInWorkspace):
            wb.webhooks.replay(two_op, delivery["id"])
        with pytest.raises(NotInWorkspace):
            wb.webhooks.delete(two_op, hooks["all"]["id"])  # the owner's all-workspaces webhook is not theirs
        # Through the guarded desk an acting Workbench hands out: the role is checked, then the workspace.
        analyst = Actor(None, "an@example.com", "An", "analyst", 1, frozenset({1}))
        with pytest.raises(Forbidden):
            wb.acting(analyst).webhooks.create(None, "https://hooks.example.com/x")
        assert [h["id"] for h in wb.acting(analyst).webhooks.list(None)] == [hooks["one"]["id"]]
        with pytest.raises(NotInWorkspace):
            wb.acting(one_op).webhooks.set_enabled(None, hooks["two"]["id"], False)
    finally:
        for r in receivers.values():
            r.close()


def test_the_signing_secret_is_shown_once_and_never_stored_in_the_clear(wb, receiver):
    made = wb.webhooks.create(SYSTEM, receiver.url)
    secret = made["secret"]
    assert secret.startswith("whsec_") and "secret" not in wb.webhooks.get(SYSTEM, made["id"])
    wb.webhooks.send_test(SYSTEM, made["id"])
    deliver_all(wb)
    verified(secret, receiver.wait_for(1)[0])
    raw = secret.removeprefix("whsec_")
    for (table,) in wb.db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"):
        for row in wb.db.query(f'SELECT * FROM "{table}"'):
            text = " ".join(str(v) for v in row)
            assert raw not in text, f"the secret is in {table}"
    key = wb.settings.data_dir / "secrets" / "webhook.key"
    assert key.exists() and key.stat().st_mode & 0o077 == 0


# -- restarts -----------------------------------------------------------------------------------------------------
def test_no_event_is_lost_across_a_restart(tmp_path, receiver):
    settings = hook_settings(tmp_path)
    with Workbench(settings, start_worker=False) as bench:  # no dispatcher: nothing is sent before the close
        bench.webhooks.create(SYSTEM, receiver.url)
        channel = ensure_demo_channel(bench.db) or 1
        jobs.create_job(bench.db, channel, "Before the restart", 60, "landscape", {})
        sent_id = bench.webhooks.send_test(SYSTEM, bench.webhooks.list(SYSTEM)[0]["id"])
        bench.webhook_dispatcher.fan_out()
        with bench.db.write() as cur:  # a send in flight when the process died: claimed, never recorded
            cur.execute("UPDATE webhook_deliveries SET claimed_until = ? WHERE event_type = 'webhook.test'",
                        [utcnow() + timedelta(hours=1)])
        ids = {e["id"] for e in outbox(bench)}
    assert receiver.requests == []
    with Workbench(settings, services=("webhooks",)) as bench:
        got = receiver.wait_for(2)
        assert bench.webhook_dispatcher.drain(5)
    assert {r.headers["webhook-id"] for r in got} == ids and sent_id in ids


def test_the_dispatcher_thread_wakes_when_an_event_is_emitted(wb, receiver):
    made = wb.webhooks.create(SYSTEM, receiver.url)
    wb.webhook_dispatcher.poll_s = 30  # only the wake can make it send within the test's few seconds
    wb.webhook_dispatcher.start()
    time.sleep(0.1)  # its first round has run and it waits
    started = time.monotonic()
    wb.webhooks.send_test(SYSTEM, made["id"])
    assert len(receiver.wait_for(1, timeout=5)) == 1 and time.monotonic() - started < 5


def test_the_delivery_log_pages_newest_first(wb, receiver):
    made = wb.webhooks.create(SYSTEM, receiver.url)
    for _ in range(3):
        wb.webhooks.send_test(SYSTEM, made["id"])
    deliver_all(wb)
    log = wb.webhooks.deliveries(SYSTEM, limit=2)
    assert len(log) == 2 and log[0]["id"] > log[1]["id"] and log[0]["url"] == receiver.url
    older = wb.webhooks.deliveries(SYSTEM, before=log[-1]["id"])
    assert len(older) == 1 and older[0]["status"] == "delivered"
    with pytest.raises(WebhookError, match="1 to 500"):
        wb.webhooks.deliveries(SYSTEM, limit=0)
    wb.webhooks.delete(SYSTEM, made["id"])
    assert wb.webhooks.deliveries(SYSTEM) == [] and wb.webhooks.list(SYSTEM) == []


@pytest.mark.slow
def test_a_real_local_video_sends_published_and_done(tmp_path, receiver):
    from conftest import EXAMPLE_SOURCE
    from pipeline.workbench import VideoRequest

    with Workbench(hook_settings(tmp_path, workers=1), services=("webhooks",)) as bench:
        made = bench.webhooks.create(SYSTEM, receiver.url, events=["video.published", "job.done"])
        job = bench.enqueue(VideoRequest("Why octopuses have three hearts", duration_s=12, sources=[EXAMPLE_SOURCE]))
        assert bench.worker.run_job(job) == "done"
        got = receiver.wait_for(2, timeout=20)
        bodies = [verified(made["secret"], r) for r in got]
        assert [b["type"] for b in bodies] == ["video.published", "job.done"]
        published = bodies[0]["data"]
        assert published["target"] == "outbox" and published["outbox_path"].endswith(f"/{job}")
        assert bodies[1]["data"]["video_url"] == f"{PUBLIC}/api/v1/videos/{job}/video"

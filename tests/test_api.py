"""The automation API over loopback: a real uvicorn server serving api_routes() over a real Workbench, driven
with httpx as any client would. (test_api_server.py runs the same API inside `streamlit run app.py`.)"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import httpx
import pytest

from api_server import serve_asgi
from conftest import sign_in_as
from pipeline import jobs
from pipeline.access.accounts import now
from pipeline.config import Settings
from pipeline.workbench import Workbench

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One Workbench (worker off: jobs stay where the tests put them; webhooks delivered) with an owner, an
    operator and an analyst in workspace 1, an operator of workspace 2, a token each, the API on a loopback port."""
    from starlette.applications import Starlette

    from api import api_routes

    data = tmp_path_factory.mktemp("api") / "data"
    wb = Workbench(Settings(data_dir=data, retry_base_s=0.01, poll_s=0.05, api_rate_per_minute=6000,
                            api_burst=1000, bootstrap_trends=False, webhooks_allow_private=True,
                            webhook_retry_s=[0.2, 0.2]), services=("webhooks",))
    sign_in_as(wb, "owner")
    sign_in_as(wb, "operator")
    sign_in_as(wb, "analyst")
    access = wb.access
    ws2 = access.create_workspace(access.cli_actor("owner@example.com", "test"), "Second")
    sign_in_as(wb, "operator", "op2@example.com", ws2)
    tokens = {}
    for name, email in (("owner", "owner@example.com"), ("operator", "operator@example.com"),
                        ("analyst", "analyst@example.com"), ("op2", "op2@example.com")):
        tokens[name] = wb.acting(access.cli_actor(email, "test")).tokens.create(f"{name} token", 30)["token"]
    app = Starlette(routes=api_routes(lambda: wb))
    with serve_asgi(app) as url:
        yield {"wb": wb, "url": url, "tokens": tokens, "ws2": ws2}
    wb.close()


def client(stack, who: str | None = "owner") -> httpx.Client:
    headers = {"authorization": f"Bearer {stack['tokens'][who]}"} if who else {}
    return httpx.Client(base_url=stack["url"] + "/api/v1", headers=headers, timeout=30)


def problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["detail"] and body["type"].startswith("https://")
    return body


# -- auth ----------------------------------------------------------------------------------------------------
def test_no_token_bad_token_and_unknown_token_are_401_with_what_to_do(stack):
    with client(stack, None) as c:
        body = problem(c.get("/jobs"), 401)
        assert "Bearer" in body["detail"] and "Account page" in body["detail"]
        assert c.get("/jobs").headers["www-authenticate"].startswith("Bearer")
        assert "not a YTEmpire API token" in problem(c.get("/jobs", headers={"authorization": "Bearer nope"}),
                                                     401)["detail"]
        forged = stack["tokens"]["owner"][:-4] + "AAAA"
        assert "not known" in problem(c.get("/jobs", headers={"authorization": f"Bearer {forged}"}), 401)["detail"]
        assert c.get("/health").status_code == 200  # health needs no token


def test_expired_revoked_and_disabled_tokens_are_refused(stack):
    wb = stack["wb"]
    view = wb.acting(wb.access.cli_actor("operator@example.com", "test"))
    expired = view.tokens.create("short", 1)
    with wb.raw_db.write() as cur:
        cur.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?", [now() - timedelta(minutes=1), expired["id"]])
    revoked = view.tokens.create("to revoke", 5)
    assert view.tokens.revoke(revoked["id"]) is True
    with client(stack, None) as c:
        assert "expired" in problem(c.get("/me", headers={"authorization": f"Bearer {expired['token']}"}),
                                    401)["detail"]
        assert "revoked" in problem(c.get("/me", headers={"authorization": f"Bearer {revoked['token']}"}),
                                    401)["detail"]
    listed = {t["prefix"]: t for t in view.tokens.list()}
    assert listed[expired["prefix"]]["state"] == "expired" and listed[revoked["prefix"]]["state"] == "revoked"
    assert all("token" not in k or k == "token_hash" for t in listed.values() for k in t)  # no secret in lists
    # The secret itself is never stored: only its hash.
    stored = wb.raw_db.query("SELECT * FROM api_tokens")
    assert not any(expired["token"] in str(row) for row in stored)


def test_a_token_acts_with_its_users_role_and_workspace_now(stack):
    with client(stack, "analyst") as c:
        me = c.get("/me").json()
        assert me["role"] == "analyst" and "make" not in me["permissions"]
        body = problem(c.post("/jobs", json={"topic": "Analysts cannot make videos"}), 403)
        assert "analyst" in body["detail"]
        assert problem(c.post("/channels", json={"name": "Nope"}), 403)
    with client(stack, "op2") as c:
        assert c.get("/me").json()["workspace_id"] == stack["ws2"]


def test_another_workspaces_jobs_channels_and_videos_are_not_found(stack):
    wb = stack["wb"]
    with client(stack, "operator") as c:
        job = c.post("/jobs", json={"topic": "Workspace one job about tides", "duration_s": 20}).json()
        channel = c.post("/channels", json={"name": "Tide Facts"}).json()
    with client(stack, "op2") as c:
        problem(c.get(f"/jobs/{job['id']}"), 404)
        problem(c.post(f"/jobs/{job['id']}/cancel"), 404)
        problem(c.get(f"/channels/{channel['id']}"), 404)
        problem(c.patch(f"/channels/{channel['id']}", json={"niche": "x"}), 404)
        problem(c.delete(f"/channels/{channel['id']}"), 404)
        assert job["id"] not in [j["id"] for j in c.get("/jobs").json()["items"]]
        assert "Tide Facts" not in c.get("/channels").text
        assert "Workspace one job" not in c.get("/metrics").text
    wb.cancel(job["id"])


# -- jobs ----------------------------------------------------------------------------------------------------
def test_make_a_job_read_it_cancel_and_retry(stack):
    with client(stack, "operator") as c:
        r = c.post("/jobs", json={"topic": "Why octopuses are so smart", "duration_s": 30})
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["status"] == "queued" and job["duration_s"] == 30 and job["url"].endswith(f"/jobs/{job['id']}")
        assert [s["stage"] for s in job["stages"]][:2] == ["script", "voice"] and job["progress"] == 0.0
        got = c.get(f"/jobs/{job['id']}").json()
        assert got["topic"] == "Why octopuses are so smart" and got["cost_usd"] == 0.0
        cancelled = c.post(f"/jobs/{job['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        problem(c.post(f"/jobs/{job['id']}/cancel"), 409)
        assert c.post(f"/jobs/{job['id']}/retry").json()["status"] == "queued"
        problem(c.get("/jobs/999999"), 404)
        stack["wb"].cancel(job["id"])


@pytest.mark.parametrize("body, field", [
    ({}, "topic"), ({"topic": "ok topic", "duration_s": 5}, "duration_s"), ({"topic": "x" * 301}, "topic"),
    ({"topic": "ok topic", "privacy": "secret"}, "privacy"), ({"topic": "ok topic", "colour": "red"}, "colour"),
    ({"topic": "ok topic", "cap_usd": -1}, "cap_usd"),
])
def test_invalid_job_bodies_name_the_field(stack, body, field):
    with client(stack) as c:
        got = problem(c.post("/jobs", json=body), 422)
        assert field in got["detail"] and any(e["field"] == field for e in got["errors"])


def test_malformed_and_oversized_bodies(stack):
    with client(stack, None) as c:  # refused while it arrives: no body is held whole before its size is checked
        def endless():
            for _ in range(1000):
                yield b" " * 65536
        assert c.post("/jobs", content=endless()).status_code == 413
        assert c.post("/jobs", content=b"x" * 300_000).status_code == 413
    with client(stack) as c:
        assert "too deeply" in problem(c.post("/jobs", content=b"[" * 120_000 + b"]" * 120_000),
                                              400)["detail"]
        for forged in ({"after": [1]}, {"after": {"x": 1}}, {"after": True}, {"after": -5}):
            from api.core import encode_cursor
            problem(c.get("/jobs", params={"cursor": encode_cursor(forged)}), 400)
            problem(c.get("/videos", params={"cursor": encode_cursor(forged)}), 400)
        assert "not valid JSON" in problem(c.post("/jobs", content=b"{nope"), 400)["detail"]
        problem(c.post("/jobs", content=b""), 400)
        problem(c.post("/jobs", content=json.dumps({"topic": "a" * 300_000}).encode()), 413)
        assert "channel" in problem(c.post("/jobs", json={"topic": "Valid topic here", "channel": "No Such"}),
                                    422)["detail"].lower()


def test_idempotency_key_makes_one_job_and_refuses_another_body(stack):
    wb = stack["wb"]
    before = wb.raw_db.query_one("SELECT count(*) FROM jobs")[0]
    with client(stack, "operator") as c:
        headers = {"idempotency-key": "order-7781"}
        first = c.post("/jobs", json={"topic": "Deep sea vents"}, headers=headers)
        again = c.post("/jobs", json={"topic": "Deep sea vents"}, headers=headers)
        assert first.status_code == 201 and again.status_code == 201
        assert again.headers.get("idempotent-replayed") == "true" and again.json()["id"] == first.json()["id"]
        other = problem(c.post("/jobs", json={"topic": "Something else"}, headers=headers), 422)
        assert "different request" in other["detail"]
        problem(c.post("/jobs", json={"topic": "Deep sea vents"}, headers={"idempotency-key": "x" * 201}), 400)
        # Concurrent retries of one request: still one job.
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            c.post("/jobs", json={"topic": "Parallel retries"}, headers={"idempotency-key": "par-1"})))
            for _ in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        made = {r.json()["id"] for r in results if r.status_code in (200, 201)}
        assert len(made) == 1 and all(r.status_code in (200, 201, 409) for r in results)
    # The same user's key in another workspace is another request (a member of both never sees one from the other).
    wb.access.add_member(wb.access.cli_actor("owner@example.com", "test"), "operator@example.com", stack["ws2"])
    ws2 = wb.acting(wb.access.cli_actor("operator@example.com", "test")).tokens.create("ws2", 5, stack["ws2"])
    with httpx.Client(base_url=stack["url"] + "/api/v1", headers={"authorization": f"Bearer {ws2['token']}"}) as c2:
        c2.post("/channels", json={"name": "Second workspace channel"})
        other_ws = c2.post("/jobs", json={"topic": "Deep sea vents"}, headers={"idempotency-key": "order-7781"})
        assert other_ws.status_code == 201 and other_ws.json()["workspace_id"] == stack["ws2"]
    wb.access.add_member(wb.access.cli_actor("owner@example.com", "test"), "operator@example.com", stack["ws2"],
                         member=False)
    # Another user's same key is theirs alone.
    with client(stack, "owner") as c:
        assert c.post("/jobs", json={"topic": "Deep sea vents"}, headers={"idempotency-key": "order-7781"}
                      ).json()["id"] != first.json()["id"]
    assert wb.raw_db.query_one("SELECT count(*) FROM jobs")[0] == before + 4
    wb.cancel(other_ws.json()["id"])
    # Even when the stored answer is lost, the job's own key keeps it to one job (answered 200: already made).
    with wb.raw_db.write() as cur:
        cur.execute("DELETE FROM api_idempotency")
    with client(stack, "operator") as c:
        replay = c.post("/jobs", json={"topic": "Deep sea vents"}, headers={"idempotency-key": "order-7781"})
        assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]


def test_batch_queues_good_lines_and_explains_the_rest(stack):
    with client(stack, "operator") as c:
        r = c.post("/jobs/batch", json={"topics": ["Volcano lightning", "ab", "Volcano lightning", "Moon dust"],
                                        "duration_s": 20})
        assert r.status_code == 201, r.text
        out = r.json()
        assert len(out["job_ids"]) == 2 and len(out["errors"]) == 2
        assert any("too short" in e for e in out["errors"]) and any("same topic" in e for e in out["errors"])
        again = c.post("/jobs/batch", json={"topics": ["Tea history", "Coffee history"]},
                       headers={"idempotency-key": "batch-1"}).json()
        assert c.post("/jobs/batch", json={"topics": ["Tea history", "Coffee history"]},
                      headers={"idempotency-key": "batch-1"}).json() == again
        problem(c.post("/jobs/batch", json={"topics": ["t"] * 501}), 422)
    for job_id in out["job_ids"] + again["job_ids"]:
        stack["wb"].cancel(job_id)


def test_cursor_pagination_walks_every_job_once_and_filters(stack):
    wb = stack["wb"]
    for n in range(7):
        wb.submit(__import__("pipeline.workbench", fromlist=["VideoRequest"]).VideoRequest(topic=f"Paged topic {n}"))
    with client(stack) as c:
        seen, cursor = [], None
        while True:
            page = c.get("/jobs", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        everything = [r[0] for r in wb.raw_db.query("SELECT id FROM jobs WHERE workspace_id = 1 ORDER BY id DESC")]
        assert seen == everything
        queued = c.get("/jobs", params=[("status", "queued"), ("status", "review"), ("limit", 200)]).json()["items"]
        assert queued and all(j["status"] in ("queued", "review") for j in queued)
        found = c.get("/jobs", params={"q": "paged TOPIC 3"}).json()["items"]
        assert [j["topic"] for j in found] == ["Paged topic 3"]
        problem(c.get("/jobs", params={"cursor": "garbage!"}), 400)
        problem(c.get("/jobs", params={"limit": 0}), 422)
        problem(c.get("/jobs", params={"status": "exploded"}), 422)
        assert "Unknown query parameter" in problem(c.get("/jobs", params={"colour": "x"}), 400)["detail"]


# -- videos and downloads ------------------------------------------------------------------------------------
def seed_video(wb, size: int = 300_000) -> tuple[int, bytes]:
    job = jobs.create_job(wb.raw_db, 1, "A seeded video", 60, "landscape", {})
    folder = wb.settings.jobs_dir / str(job)
    folder.mkdir(parents=True, exist_ok=True)
    data = bytes(range(256)) * (size // 256)
    (folder / "video.mp4").write_bytes(data)
    (folder / "thumbnail.jpg").write_bytes(b"\xff\xd8\xff" + b"j" * 1000)
    (folder / "captions.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n", encoding="utf-8")
    with wb.raw_db.write() as cur:
        cur.execute("INSERT INTO artifacts (job_id, stage, kind, path, bytes) VALUES (?, 'render', 'captions', ?, 1)",
                    [job, str(folder / "captions.srt")])
        cur.execute("INSERT INTO videos (job_id, channel_id, title, description, tags, format, video_path,"
                    " thumbnail_path) VALUES (?, 1, 'Seeded', '', [], 'landscape', ?, ?)",
                    [job, str(folder / "video.mp4"), str(folder / "thumbnail.jpg")])
        cur.execute("UPDATE jobs SET status = 'done' WHERE id = ?", [job])
    return job, data


def test_video_list_get_and_range_downloads(stack):
    job, data = seed_video(stack["wb"])
    with client(stack, "analyst") as c:
        listed = c.get("/videos").json()["items"]
        assert job in [v["job_id"] for v in listed]
        video = c.get(f"/videos/{job}").json()
        assert set(video["downloads"]) >= {"video", "thumbnail", "captions"}
        full = c.get(f"/videos/{job}/video")
        assert full.status_code == 200 and full.content == data and full.headers["accept-ranges"] == "bytes"
        part = c.get(f"/videos/{job}/video", headers={"range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        tail = c.get(f"/videos/{job}/video", headers={"range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == data[-10:]
        assert c.get(f"/videos/{job}/video", headers={"range": f"bytes={len(data)}-"}).status_code == 416
        assert c.get(f"/videos/{job}/captions").text.startswith("1\n00:00:00")
        assert c.head(f"/videos/{job}/video").headers["content-length"] == str(len(data))
        problem(c.get(f"/videos/{job}/webvtt"), 404)  # not made: says so
    with client(stack, "op2") as c:
        problem(c.get(f"/videos/{job}"), 404)
        problem(c.get(f"/videos/{job}/video"), 404)


# -- channels, schedules, costs, trends, quota ---------------------------------------------------------------
def test_channels_crud_and_schedule(stack):
    with client(stack, "operator") as c:
        made = c.post("/channels", json={"name": "Space Minutes", "niche": "astronomy", "default_duration": 45})
        assert made.status_code == 201, made.text
        ch = made.json()
        assert ch["niche"] == "astronomy" and ch["default_duration"] == 45 and ch["connected"] is False
        problem(c.post("/channels", json={"name": "Space Minutes"}), 422)
        problem(c.post("/channels", json={"name": "Bad colour", "primary_color": "blurple"}), 422)
        assert "null is not a value" in problem(c.patch(f"/channels/{ch['id']}", json={"made_for_kids": None}),
                                                422)["detail"]
        patched = c.patch(f"/channels/{ch['id']}", json={"niche": "the night sky"}).json()
        assert patched["niche"] == "the night sky" and patched["default_duration"] == 45
        assert ch["id"] in [x["id"] for x in c.get("/channels").json()["items"]]
        sched = c.put(f"/channels/{ch['id']}/schedule", json={"times": ["09:00", "18:30"],
                                                                "timezone": "Europe/Paris"})
        assert sched.status_code == 200, sched.text
        assert sched.json()["times"] == ["09:00", "18:30"]
        assert any(s["channel_id"] == ch["id"] for s in c.get("/schedules").json()["items"])
        assert "time zone" in problem(c.put(f"/channels/{ch['id']}/schedule",
                                            json={"times": ["09:00"], "timezone": "Mars/Olympus"}), 422)["detail"]
        gone = c.delete(f"/channels/{ch['id']}")
        assert gone.status_code == 200 and gone.json()["deleted"] is True
        problem(c.get(f"/channels/{ch['id']}"), 404)


def test_costs_budget_trends_youtube_and_metrics(stack):
    wb = stack["wb"]
    with client(stack) as c:
        for by in ("day", "channel", "provider"):
            r = c.get("/costs", params={"by": by})
            assert r.status_code == 200 and r.json()["by"] == by
        problem(c.get("/costs", params={"since": "2026-02-01", "until": "2026-01-01"}), 422)
        budget = c.get("/costs/budget").json()
        assert budget["cap_usd"] == wb.settings.cap_usd and {b["provider"] for b in budget["daily"]} == set(
            wb.settings.daily_budgets)
        assert c.get("/trends/topics", params={"country": "US"}).json()["country"] == "US"
        assert set(c.get("/youtube").json()) == {"quota", "accounts", "unverified"}
        metrics = c.get("/metrics")
        assert metrics.status_code == 200 and "ytempire_jobs" in metrics.text
        ready = c.get("/ready").json()
        assert ready["checks"]["database"] == "ok"


def test_rate_limit_answers_429_with_retry_after(stack):
    from api.limits import RateLimiter

    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: 100.0)
    for _ in range(3):
        assert int(limiter.take("t")["ratelimit-remaining"]) >= 0
    with pytest.raises(Exception) as caught:
        limiter.take("t")
    assert caught.value.status == 429 and caught.value.headers["retry-after"] == "1"
    assert limiter.take("another token")  # buckets are per token
    # Over the wire: a token with a tiny budget.
    from starlette.applications import Starlette

    from api import api_routes

    wb = stack["wb"]
    routes = api_routes(lambda: wb, limiter=RateLimiter(per_minute=60, burst=2))
    with serve_asgi(Starlette(routes=routes)) as url:
        with httpx.Client(base_url=url + "/api/v1",
                          headers={"authorization": f"Bearer {stack['tokens']['analyst']}"}) as c:
            codes = [c.get("/me") for _ in range(4)]
        assert [r.status_code for r in codes[:2]] == [200, 200]
        limited = codes[-1]
        body = problem(limited, 429)
        assert int(limited.headers["retry-after"]) >= 1 and "requests a minute" in body["detail"]
        assert limited.headers["ratelimit-limit"] == "60"


# -- the document ----------------------------------------------------------------------------------------------
def test_openapi_document_is_valid_and_lists_every_route(stack):
    from openapi_spec_validator import validate

    with client(stack, None) as c:
        doc = c.get("/openapi.json").json()
        validate(doc)
        assert doc["openapi"].startswith("3.1")
        for path in ("/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/videos/{job_id}/video", "/api/v1/costs",
                     "/api/v1/channels/{channel_id}/backlog", "/api/v1/metrics", "/api/v1/health"):
            assert path in doc["paths"], path
        create = doc["paths"]["/api/v1/jobs"]["post"]
        assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
        assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/JobCreate")
        assert doc["components"]["schemas"]["JobCreate"]["properties"]["topic"]["maxLength"] == 300
        page = c.get("/docs")
        assert page.status_code == 200 and "POST /api/v1/jobs" in page.text and "JobCreate" in page.text


# -- webhooks ----------------------------------------------------------------------------------------------
@pytest.fixture
def receiver():
    from fakes_webhooks import Receiver

    r = Receiver()
    yield r
    r.close()


def test_webhooks_register_test_event_signed_log_and_replay(stack, receiver):
    from standardwebhooks import Webhook

    with client(stack, "operator") as c:
        types = [e["type"] for e in c.get("/events").json()["items"]]
        assert {"job.done", "video.published", "budget.reached", "webhook.test"} <= set(types)
        made = c.post("/webhooks", json={"url": receiver.url + "/hook", "events": ["job.done", "webhook.test"]},
                      headers={"idempotency-key": "hook-1"})
        assert made.status_code == 201, made.text
        hook = made.json()
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["job.done", "webhook.test"]
        replayed = c.post("/webhooks", json={"url": receiver.url + "/hook", "events": ["job.done", "webhook.test"]},
                          headers={"idempotency-key": "hook-1"}).json()
        assert replayed["id"] == hook["id"] and replayed["secret"] is None  # one webhook; the secret shown once
        assert not any(hook["secret"] in str(r) for r in stack["wb"].raw_db.query("SELECT * FROM api_idempotency"))
        assert not any(hook["secret"][6:] in str(r) for r in stack["wb"].raw_db.query("SELECT * FROM webhooks"))
        assert hook["id"] in [w["id"] for w in c.get("/webhooks").json()["items"]]
        assert "secret" not in c.get(f"/webhooks/{hook['id']}").json()
        sent = c.post(f"/webhooks/{hook['id']}/test")
        assert sent.status_code == 202
        got = receiver.wait_for(1)[0]
        assert got.headers["webhook-id"] == sent.json()["event_id"]
        payload = Webhook(hook["secret"]).verify(got.body, got.headers)
        assert payload["type"] == "webhook.test"
        deadline = __import__("time").monotonic() + 10
        while (log := c.get(f"/webhooks/{hook['id']}/deliveries").json()["items"])[0]["status"] != "delivered":
            assert __import__("time").monotonic() < deadline, log
            __import__("time").sleep(0.1)
        detail = c.get(f"/webhooks/deliveries/{log[0]['id']}").json()
        assert detail["attempt_log"][0]["status_code"] == 200 and '"webhook.test"' in detail["payload"]
        again = c.post(f"/webhooks/deliveries/{log[0]['id']}/replay")
        assert again.status_code == 202
        second = receiver.wait_for(2)[1]
        assert second.headers["webhook-id"] == got.headers["webhook-id"] and second.body == got.body
        off = c.patch(f"/webhooks/{hook['id']}", json={"enabled": False}).json()
        assert off["enabled"] is False and off["disabled_reason"]
        problem(c.post(f"/webhooks/{hook['id']}/test"), 422)
        problem(c.post("/webhooks", json={"url": "ftp://example.com/x"}), 422)
        problem(c.post("/webhooks", json={"url": receiver.url, "events": ["job.exploded"]}), 422)
    with client(stack, "analyst") as c:
        assert c.get("/webhooks").status_code == 200
        problem(c.post("/webhooks", json={"url": receiver.url}), 403)
        problem(c.post(f"/webhooks/deliveries/{log[0]['id']}/replay"), 403)
    with client(stack, "op2") as c:
        problem(c.get(f"/webhooks/{hook['id']}"), 404)
        problem(c.get(f"/webhooks/deliveries/{log[0]['id']}"), 404)
        assert hook["id"] not in [w["id"] for w in c.get("/webhooks").json()["items"]]
    with client(stack, "operator") as c:
        assert c.delete(f"/webhooks/{hook['id']}").status_code == 200
        problem(c.get(f"/webhooks/{hook['id']}"), 404)


def test_private_receivers_are_refused_unless_the_owner_allows_them(stack):
    wb = stack["wb"]
    wb.settings = wb.settings.model_copy(update={"webhooks_allow_private": False})
    wb.webhooks.settings = wb.settings
    try:
        with client(stack, "operator") as c:
            for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest", "http://10.1.2.3/x",
                        "http://[::1]:9/x", "http://localhost:9/x"):
                body = problem(c.post("/webhooks", json={"url": url}), 422)
                assert "Settings" in body["detail"], body
    finally:
        wb.settings = wb.settings.model_copy(update={"webhooks_allow_private": True})
        wb.webhooks.settings = wb.settings

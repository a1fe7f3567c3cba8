"""The API inside the real workbench: `streamlit run app.py` serves /api/v1 beside the app in one process (the one
DuckDB writer). The issue's done-when, as an operator would try it, and no event lost across a restart."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from conftest import ROOT
from test_cli_api import make_owner_token as owner_token
from fakes_webhooks import Receiver
from test_browser import serve

pytestmark = pytest.mark.slow

ENV = {"YTEMPIRE_WEBHOOKS_ALLOW_PRIVATE": "true", "YTEMPIRE_WEBHOOK_RETRY_S": "0.5,1,1,2,2,5,5,5",
       "YTEMPIRE_BOOTSTRAP_TRENDS": "false"}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def test_curl_a_video_receive_its_signed_events_and_download_it(tmp_path):
    """POST /jobs starts a video; a registered webhook gets signed job.queued ... job.done (the job carries a
    source, as the quality gate asks of the local writer), and the video downloads with range requests."""
    from standardwebhooks import Webhook

    token = owner_token(tmp_path / "data")
    receiver = Receiver()
    source = (ROOT / "data" / "examples" / "octopus.md").read_text(encoding="utf-8")
    try:
        with serve(tmp_path, tmp_path / "data", **ENV) as srv:
            api = httpx.Client(base_url=f"{srv.url}/api/v1", headers={"authorization": f"Bearer {token}"},
                               timeout=30)
            hook = api.post("/webhooks", json={"url": receiver.url, "description": "done-when"}).json()
            r = api.post("/jobs", content=json.dumps({"topic": "Why octopuses are so smart", "duration_s": 30,
                                                      "source_text": source}))
            assert r.status_code == 201, r.text
            job_id = r.json()["id"]
            verifier = Webhook(hook["secret"])

            def events() -> list[dict]:
                return [verifier.verify(x.body, x.headers) for x in receiver.requests]

            done = wait_for(lambda: [e for e in events() if e["type"] in ("job.done", "job.held", "job.failed")],
                            240, f"job {job_id} to end\n{srv.log_tail()}")
            assert done[0]["type"] == "job.done", (done, api.get(f"/jobs/{job_id}").json())
            data = done[0]["data"]
            assert data["job_id"] == job_id and data["video_url"].endswith(f"/api/v1/videos/{job_id}/video")
            types = [e["type"] for e in events()]
            assert types.index("job.queued") < types.index("job.started") < types.index("job.done")
            assert "stage.done" in types
            job = api.get(f"/jobs/{job_id}").json()
            assert job["status"] == "done" and job["progress"] == 1.0
            video = api.get(f"/videos/{job_id}/video")
            assert video.status_code == 200 and video.content[4:8] == b"ftyp"
            part = api.get(f"/videos/{job_id}/video", headers={"range": "bytes=0-1023"})
            assert part.status_code == 206 and part.content == video.content[:1024]
            assert api.get(f"/videos/{job_id}/thumbnail").content[:2] == b"\xff\xd8"
            assert api.get("/metrics").text.count("ytempire_jobs") > 0
    finally:
        receiver.close()


def test_no_event_is_lost_when_the_server_restarts_before_delivering(tmp_path):
    """A receiver that is down while the server stops: the event waits in the outbox and arrives, once, with
    the same webhook-id, after the server starts again."""
    from standardwebhooks import Webhook

    token = owner_token(tmp_path / "data")
    receiver = Receiver()
    receiver.always(503)
    try:
        with serve(tmp_path, tmp_path / "data", **ENV) as srv:
            api = httpx.Client(base_url=f"{srv.url}/api/v1", headers={"authorization": f"Bearer {token}"},
                               timeout=30)
            hook = api.post("/webhooks", json={"url": receiver.url}).json()
            sent = api.post(f"/webhooks/{hook['id']}/test").json()
            wait_for(lambda: receiver.requests, 20, "a first (refused) attempt")
        receiver.always(200)  # the server is down now; the receiver comes back
        seen_before = len(receiver.requests)
        with serve(tmp_path, tmp_path / "data", **ENV) as srv:
            got = wait_for(lambda: [x for x in receiver.requests[seen_before:]
                                    if x.headers.get("webhook-id") == sent["event_id"]], 60, "the redelivery")
            assert Webhook(hook["secret"]).verify(got[0].body, got[0].headers)["type"] == "webhook.test"
            api = httpx.Client(base_url=f"{srv.url}/api/v1", headers={"authorization": f"Bearer {token}"},
                               timeout=30)
            log = wait_for(lambda: [d for d in api.get(f"/webhooks/{hook['id']}/deliveries").json()["items"]
                                    if d["status"] == "delivered"], 20, "the log to say delivered")
            assert log[0]["event_id"] == sent["event_id"] and log[0]["attempts"] >= 2
    finally:
        receiver.close()

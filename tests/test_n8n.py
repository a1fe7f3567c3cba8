"""The n8n workflows of examples/n8n, run node by node as n8n runs them, against the real API.

A tiny evaluator below reads the few n8n expressions the workflows use (``$env.X``, ``$json.path``, ``.length``,
``a || b``, ``JSON.stringify(...)``, ``$now.toFormat('yyyy-MM-dd')``); anything else is an error, which keeps the
workflows simple enough to trust. Each HTTP Request node's request is sent with httpx exactly as n8n would build
it (method, URL, headers, JSON body) to a running workbench (``streamlit run app.py``) or to a loopback chat. The
signature check is the Code node's own JavaScript, run by Node.js where it is installed.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import threading
import time
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from conftest import ROOT

FLOWS = ROOT / "examples" / "n8n"
TREND_FILE = ROOT / "data" / "trends" / "youtube_trending_US_2017-11-14_to_11-28.csv"
TOPICS_TIMEOUT_S = 90
SECRET = "whsec_" + base64.b64encode(b"a test secret of thirty-two byte").decode()


# -- the evaluator -------------------------------------------------------------------------------------------
EXPR = re.compile(r"\{\{\s*(.+?)\s*\}\}", re.S)
PATH = re.compile(r"\$(env|json)((?:\.\w+|\[\d+\])*)")
STEP = re.compile(r"\.(\w+)|\[(\d+)\]")
NOW_FORMATS = {"yyyy-MM-dd": "%Y-%m-%d"}


def render(value, ctx: dict):
    """An n8n parameter: a plain value, or an expression string ("=" then text with {{ }}). A string that is one
    {{ }} and nothing else gives the expression's own value (a number stays a number), as n8n does."""
    if not isinstance(value, str) or not value.startswith("="):
        return value
    text = value[1:]
    whole = EXPR.fullmatch(text)
    if whole:
        return evaluate(whole.group(1), ctx)
    return EXPR.sub(lambda m: js_string(evaluate(m.group(1), ctx)), text)


def evaluate(expr: str, ctx: dict):
    value = None
    for part in expr.split("||"):  # JavaScript's "or": the first truthy one
        value = term(part.strip(), ctx)
        if value:
            return value
    return value


def term(expr: str, ctx: dict):
    if expr.startswith("JSON.stringify(") and expr.endswith(")"):
        return json.dumps(evaluate(expr[len("JSON.stringify("):-1], ctx), ensure_ascii=False)
    if m := re.fullmatch(r"\$now\.toFormat\('([^']+)'\)", expr):
        return datetime.now().strftime(NOW_FORMATS[m.group(1)])
    m = PATH.fullmatch(expr)
    if m is None:
        raise ValueError(f"the test's evaluator does not read {expr!r}: keep the workflows' expressions simple")
    value = ctx["env"] if m.group(1) == "env" else ctx["json"]
    for name, index in STEP.findall(m.group(2)):
        if name == "length":
            value = len(value)
        elif index:
            value = value[int(index)]
        else:
            value = value.get(name) if isinstance(value, dict) else None
    return value


def js_string(value) -> str:
    """How a value prints inside an n8n template (JavaScript's String())."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


# -- the walker ----------------------------------------------------------------------------------------------
class Run:
    """One execution: the items each node produced and every HTTP request sent, in order."""

    def __init__(self, flow: dict, env: dict):
        self.flow, self.env = flow, env
        self.nodes = {n["name"]: n for n in flow["nodes"]}
        self.output: dict[str, list[dict]] = {}
        self.requests: list[httpx.Response] = []

    def start(self, trigger: str, items: list[dict]) -> Run:
        queue = [(trigger, items)]
        while queue:
            name, items = queue.pop(0)
            node = self.nodes[name]
            branches = [items] if node["type"] in TRIGGERS else self.execute(node, items)
            self.output[name] = [i for branch in branches for i in branch]
            links = self.flow["connections"].get(name, {}).get("main", [])
            for branch, targets in zip(branches, links):
                queue += [(t["node"], branch) for t in targets if branch]
        return self

    def execute(self, node: dict, items: list[dict]) -> list[list[dict]]:
        kind, p = node["type"], node["parameters"]
        if kind == "n8n-nodes-base.httpRequest":
            return [[{"json": self.http(p, item)} for item in items]]
        if kind == "n8n-nodes-base.if":
            passed = [i for i in items if all(condition(c, self.ctx(i)) for c in p["conditions"]["conditions"])]
            assert p["conditions"]["combinator"] == "and"
            return [passed, [i for i in items if i not in passed]]
        if kind == "n8n-nodes-base.set":
            return [[{"json": {a["name"]: str(render(a["value"], self.ctx(i)))
                               for a in p["assignments"]["assignments"]}} for i in items]]
        if kind == "n8n-nodes-base.code":
            return [run_code(p["jsCode"], items, self.env)]
        raise AssertionError(f"the walker does not run {kind} nodes")

    def ctx(self, item: dict) -> dict:
        return {"env": self.env, "json": item["json"]}

    def http(self, p: dict, item: dict):
        ctx = self.ctx(item)
        headers = {h["name"]: str(render(h["value"], ctx)) for h in p.get("headerParameters", {}).get("parameters", [])
                   } if p.get("sendHeaders") else {}
        body = None
        if p.get("sendBody"):
            assert p["specifyBody"] == "json"
            raw = render(p["jsonBody"], ctx)
            body = json.loads(raw) if isinstance(raw, str) else raw  # n8n parses a JSON text body before sending
        r = httpx.request(p.get("method", "GET"), render(p["url"], ctx), headers=headers, json=body, timeout=30)
        self.requests.append(r)
        assert r.is_success, f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text}"  # n8n stops here too
        try:
            return r.json()
        except ValueError:  # n8n's "autodetect" response format: text comes out as {"data": ...} (Slack says "ok")
            return {"data": r.text}


TRIGGERS = {"n8n-nodes-base.scheduleTrigger", "n8n-nodes-base.webhook"}


def condition(c: dict, ctx: dict) -> bool:
    left, right, op = render(c["leftValue"], ctx), render(c["rightValue"], ctx), c["operator"]
    if op["type"] == "number":
        left, right = float(left), float(right)
    return {"equals": left == right, "gt": left > right, "lt": left < right}[op["operation"]]


NODE_HARNESS = r"""
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const items = input.items.map((i) => ({ json: i.json, binary: { data: { mimeType: 'application/json' } } }));
const $input = { first: () => items[0], all: () => items, item: items[0] };
const helpers = { getBinaryDataBuffer: async (index, name) => Buffer.from(input.items[index].raw, 'base64') };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('$input', '$env', 'require', input.code).call({ helpers }, $input, input.env, require)
  .then((out) => process.stdout.write(JSON.stringify(out)))
  .catch((e) => { process.stderr.write(e.message); process.exit(1); });
"""


class CodeFailed(Exception):
    pass


def run_code(code: str, items: list[dict], env: dict) -> list[dict]:
    """A Code node (all items at once) in Node.js, with n8n's $input, $env and this.helpers.getBinaryDataBuffer."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the Code node's JavaScript cannot run (apt-get install nodejs)")
    payload = json.dumps({"code": code, "env": env, "items": [
        {"json": i["json"], "raw": base64.b64encode(i["raw"]).decode()} for i in items]})
    done = subprocess.run([node, "-e", NODE_HARNESS], input=payload, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise CodeFailed(done.stderr.strip())
    return json.loads(done.stdout)


def load(name: str) -> dict:
    flow = json.loads((FLOWS / name).read_text(encoding="utf-8"))
    names = [n["name"] for n in flow["nodes"]]
    assert len(set(names)) == len(names) and set(flow["connections"]) <= set(names)
    for node in flow["nodes"]:
        assert {"parameters", "name", "type", "typeVersion", "position", "id"} <= set(node)
        if node["type"] == "n8n-nodes-base.httpRequest":
            assert node["typeVersion"] == 4.2
    return flow


# -- the daily video from the top backlog topic ---------------------------------------------------------------
@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """A workbench with an owner, a token and the bundled US trending slice clustered (TF-IDF: quick), served."""
    from test_browser import serve
    from test_cli_api import make_owner_token

    from pipeline.config import Settings
    from pipeline.workbench import Workbench

    root = tmp_path_factory.mktemp("n8n")
    data_dir = root / "data"
    token = make_owner_token(data_dir)
    wb = Workbench(Settings(data_dir=data_dir, bootstrap_trends=False), start_worker=False)
    try:
        wb.trends.import_csv(TREND_FILE, "US")
        assert wb.trends.compute_topics("US", "tfidf").state == "ready"
    finally:
        wb.close()
    with serve(root, data_dir, YTEMPIRE_BOOTSTRAP_TRENDS="false") as srv:
        srv.token = token
        srv.api = httpx.Client(base_url=f"{srv.url}/api/v1", headers={"authorization": f"Bearer {token}"},
                               timeout=30)
        deadline = time.monotonic() + TOPICS_TIMEOUT_S
        while not srv.api.get("/trends/topics", params={"country": "US"}).json()["items"]:
            assert time.monotonic() < deadline, f"no trending topics after {TOPICS_TIMEOUT_S} s"
            time.sleep(1)
        yield srv
        srv.api.close()


@pytest.mark.slow
def test_the_schedule_makes_a_video_on_the_top_backlog_topic_once_a_day(workbench):
    flow = load("top-backlog-video.json")
    env = {"YTEMPIRE_URL": workbench.url, "YTEMPIRE_CHANNEL_ID": "1", "YTEMPIRE_TOKEN": workbench.token}
    trigger = next(n["name"] for n in flow["nodes"] if n["type"] == "n8n-nodes-base.scheduleTrigger")
    run = Run(flow, env).start(trigger, [{"json": {"timestamp": datetime.now(timezone.utc).isoformat()}}])
    backlog, made = run.requests
    assert backlog.request.method == "GET" and backlog.request.url.path == "/api/v1/channels/1/backlog"
    top = backlog.json()["items"][0]
    assert made.request.method == "POST" and made.request.url.path == "/api/v1/jobs" and made.status_code == 201
    key = made.request.headers["idempotency-key"]
    assert str(top["topic_id"]) in key and date.today().isoformat() in key
    job = made.json()
    assert job["topic"] == top["label"] and job["channel_id"] == 1
    assert workbench.api.get(f"/jobs/{job['id']}").json()["topic"] == top["label"]  # in the server's queue

    resent = Run(flow, env)  # n8n's Retry On Fail sends the same item again: the same key, so the same job
    resent.execute(resent.nodes["Make the video"], run.output["Backlog has a topic?"])
    assert resent.requests[0].headers.get("idempotent-replayed") == "true"
    assert resent.requests[0].json()["id"] == job["id"]

    tomorrow = Run(flow, env).start(trigger, [{"json": {}}])  # the backlog leaves out what the channel made
    following = tomorrow.requests[1].json()
    assert tomorrow.requests[1].status_code == 201 and following["topic"] != job["topic"]
    for made_id in (job["id"], following["id"]):
        workbench.api.post(f"/jobs/{made_id}/cancel")


def test_an_empty_backlog_makes_nothing():
    flow = load("top-backlog-video.json")
    run = Run(flow, {})
    branches = run.execute(run.nodes["Backlog has a topic?"], [{"json": {"country": "US", "items": []}}])
    assert branches == [[], [{"json": {"country": "US", "items": []}}]]
    assert flow["connections"]["Backlog has a topic?"]["main"][1] == []  # the false branch goes nowhere


# -- video published -> chat -----------------------------------------------------------------------------------
class Chat:
    """A loopback chat incoming webhook (Slack, Mattermost and Discord's /slack take {"text": ...})."""

    def __init__(self):
        self.posts: list[dict] = []
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = min(int(self.headers.get("content-length", 0)), 1 << 20)
                chat.posts.append({"content_type": self.headers.get("content-type"),
                                   "body": json.loads(self.rfile.read(length))})
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/abc"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat():
    receiver = Chat()
    yield receiver
    receiver.close()


def published(target: str = "youtube") -> dict:
    """A video.published payload as pipeline.events.emit_published writes it."""
    data = {"job_id": 42, "topic": "Why octopuses are so smart", "channel_id": 1, "channel": "Demo Channel",
            "status": "done", "run": 1, "cost_usd": 0.0123, "url": "http://127.0.0.1:8501/api/v1/jobs/42",
            "publish_state": "published", "title": "Octopus Intelligence", "privacy": "public",
            "video_url": "http://127.0.0.1:8501/api/v1/videos/42/video"}
    if target == "youtube":
        data.update(target="youtube", youtube_video_id="dQw4w9WgXcQ", watch_url="https://youtu.be/dQw4w9WgXcQ")
    else:
        data.update(target="outbox", publish_state="outbox", outbox_path="/data/outbox/demo-channel/42")
    return {"type": "video.published", "timestamp": datetime.now(timezone.utc).isoformat(), "data": data}


def delivery(payload: dict, secret: str = SECRET) -> dict:
    """What the Webhook node outputs for a signed POST: the parsed body, the headers and the raw bytes."""
    from standardwebhooks import Webhook

    raw = json.dumps(payload, separators=(",", ":")).encode()
    at = datetime.now(timezone.utc)
    headers = {"webhook-id": "msg_test1", "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": Webhook(secret).sign("msg_test1", at, raw.decode()),
               "content-type": "application/json"}
    return {"json": {"headers": headers, "params": {}, "query": {}, "body": payload}, "raw": raw}


def test_a_published_video_is_posted_to_the_chat_with_its_link_and_cost(chat):
    flow = load("video-published-to-chat.json")
    env = {"CHAT_WEBHOOK_URL": chat.url, "YTEMPIRE_WEBHOOK_SECRET": SECRET}
    Run(flow, env).start("YTEmpire event", [delivery(published("youtube"))])
    Run(flow, env).start("YTEmpire event", [delivery(published("outbox"))])
    assert [p["content_type"] for p in chat.posts] == ["application/json"] * 2
    youtube, outbox = (p["body"]["text"] for p in chat.posts)
    assert "https://youtu.be/dQw4w9WgXcQ" in youtube and "$0.0123" in youtube and "Octopus Intelligence" in youtube
    assert "http://127.0.0.1:8501/api/v1/jobs/42" in outbox and "$0.0123" in outbox  # no YouTube link: the job's


def test_other_events_and_forged_ones_post_nothing(chat):
    flow = load("video-published-to-chat.json")
    env = {"CHAT_WEBHOOK_URL": chat.url, "YTEMPIRE_WEBHOOK_SECRET": SECRET}
    Run(flow, env).start("YTEmpire event", [delivery({**published(), "type": "job.done"})])
    assert chat.posts == []
    forged = delivery(published())
    forged["raw"] = forged["raw"].replace(b"0.0123", b"0.0001")  # the body changed after signing
    with pytest.raises(CodeFailed, match="not signed by YTEmpire"):
        Run(flow, env).start("YTEmpire event", [forged])
    other = "whsec_" + base64.b64encode(b"somebody else's secret, 32 bytes").decode()
    with pytest.raises(CodeFailed, match="not signed by YTEmpire"):
        Run(flow, env).start("YTEmpire event", [delivery(published(), secret=other)])
    with pytest.raises(CodeFailed, match="YTEMPIRE_WEBHOOK_SECRET"):
        Run(flow, {"CHAT_WEBHOOK_URL": chat.url}).start("YTEmpire event", [delivery(published())])
    assert chat.posts == []


def test_the_workflows_are_importable_n8n_exports():
    for path in sorted(FLOWS.glob("*.json")):
        flow = load(path.name)
        assert flow["name"] and flow["settings"] is not None and isinstance(flow["connections"], dict)
        for node in flow["nodes"]:
            for value in _strings(node["parameters"]):
                if "{{" in value:
                    assert value.startswith("="), f"{path.name} {node['name']}: an expression must start with ="
    assert Path(FLOWS / "README.md").is_file()


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)

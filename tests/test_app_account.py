"""The Account page (who you are, personal API tokens, your password) and the Automation page (webhooks and their
delivery logs), through AppTest signed in as each role, with a loopback receiver for the deliveries."""

from __future__ import annotations

import time

import pytest

from conftest import OWNER_EMAIL, PASSWORD, ROOT, app_test
from fakes_webhooks import Receiver
from pipeline.access.tokens import TokenError


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YTEMPIRE_BOOTSTRAP_TRENDS", "false")
    monkeypatch.delenv("YTEMPIRE_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    monkeypatch.chdir(ROOT)
    from ui.state import shared_workbench
    shared_workbench.clear()
    yield
    shared_workbench.clear()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def wb():
    from ui.state import shared_workbench
    return shared_workbench()


def open_page(page: str, role: str = "owner", email: str | None = None):
    at = app_test(60, role=role, email=email)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def plain(text: object) -> str:
    """Markdown as it reads (ui.text.md escapes outside text with backslashes and word joiners)."""
    return str(text).replace("\\", "").replace("\u2060", "")


def texts(at) -> str:
    parts = []
    for kind in ("markdown", "caption", "title", "subheader", "info", "success", "warning", "error", "code", "toast"):
        parts += [str(getattr(e, "value", "")) for e in getattr(at, kind)]
    parts += [str(b.label) for b in at.button] + [str(e.label) for e in at.expander]
    parts += [df.value.to_csv() for df in at.dataframe]
    return plain("\n".join(parts))


def button(at, label: str):
    found = [b for b in at.button if str(b.label) == label]
    assert found, f"no {label!r} button in {[str(b.label) for b in at.button]}"
    return found[0]


def submit(at, label: str):
    button(at, label).click().run()
    assert not at.exception, at.exception
    return at


# -- Account -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["owner", "operator", "analyst"])
def test_every_role_has_an_account_page_saying_who_they_are(role):
    at = open_page("account", role)
    text = texts(at)
    assert [t.value for t in at.title] == ["Account"]
    assert role in text and "Main workspace" in text
    assert ("owner" if role == "owner" else role) + "@example.com" in text
    assert "Personal API tokens" in text and "Create token" in text


@pytest.mark.parametrize("role", ["owner", "analyst"])
def test_a_token_is_shown_once_works_and_is_listed_by_its_prefix_only(role):
    at = open_page("account", role)
    name_box = [t for t in at.text_input if t.label == "Name"][0]
    name_box.input("n8n on the office server")
    [s for s in at.selectbox if s.label == "Expires in"][0].set_value(30)
    submit(at, "Create token")
    codes = [c.value for c in at.code]
    token = next(c for c in codes if c.startswith("yte_"))
    assert "copy it now: it will not be shown again" in texts(at).lower()
    assert any(c.startswith(f'curl -H "Authorization: Bearer {token}"') and c.endswith("/api/v1/me") for c in codes)
    user = wb().access.user(OWNER_EMAIL if role == "owner" else f"{role}@example.com")
    actor = wb().tokens.actor(token, "test")
    assert (actor.user_id, actor.role, actor.workspace_id) == (user["id"], role, 1)
    listed = wb().tokens.list(actor)
    assert listed[0]["name"] == "n8n on the office server" and listed[0]["state"] == "active"
    assert 29 <= (listed[0]["expires_at"] - listed[0]["created_at"]).days <= 30
    secret = token.split("_", 2)[2]
    assert secret not in repr(at.session_state.to_dict())  # never kept for the next run
    submit(at, "Done: I have copied it")
    text = texts(at)
    assert token not in text and secret not in text and listed[0]["prefix"] in text
    assert secret not in repr(at.session_state.to_dict())
    assert at.dataframe[0].value["state"].tolist() == ["active"]


def test_a_token_is_revoked_after_a_confirmation():
    at = open_page("account")
    [t for t in at.text_input if t.label == "Name"][0].input("cron")
    submit(at, "Create token")
    token = next(c.value for c in at.code if c.value.startswith("yte_"))
    made = wb().tokens.list(wb().tokens.actor(token))[0]
    go = at.button(key=f"revoke-{made['id']}")
    assert go.disabled  # not before the box is ticked
    at.checkbox(key=f"revoke-sure-{made['id']}").check().run()
    at.button(key=f"revoke-{made['id']}").click().run()
    assert not at.exception, at.exception
    assert "Revoked cron" in texts(at)
    assert at.dataframe[0].value["state"].tolist() == ["revoked"]
    assert not [b for b in at.button if b.key == f"revoke-{made['id']}"]  # no revoke for a revoked token
    with pytest.raises(TokenError, match="revoked"):
        wb().tokens.actor(token)


@pytest.mark.parametrize("name, words", [("   ", "Name the token"), ("x" * 81, "1-80 characters")])
def test_a_bad_token_name_is_refused_saying_what_to_fix(name, words):
    at = open_page("account", "operator")
    [t for t in at.text_input if t.label == "Name"][0].input(name)
    submit(at, "Create token")
    assert any(words in plain(e.value) for e in at.error), [e.value for e in at.error]
    assert not [c for c in at.code if c.value.startswith("yte_")]
    assert wb().db.query_one("SELECT count(*) FROM api_tokens")[0] == 0


def test_an_owner_can_make_a_token_for_all_workspaces_an_operator_cannot_choose():
    at = open_page("account")
    [t for t in at.text_input if t.label == "Name"][0].input("reporting")
    [r for r in at.radio if r.label == "Acts in"][0].set_value("all")
    submit(at, "Create token")
    token = next(c.value for c in at.code if c.value.startswith("yte_"))
    assert wb().tokens.actor(token).scope is None
    assert "All workspaces" in at.dataframe[0].value["workspace"].tolist()
    assert not [r for r in open_page("account", "operator").radio if r.label == "Acts in"]


def test_changing_ones_password_checks_the_current_one_and_signs_out_everywhere():
    at = open_page("account", "operator")
    new = "a much longer new passphrase 77"

    def change(current, first, second):
        boxes = {t.label: t for t in at.text_input}
        boxes["Current password"].input(current)
        boxes["New password"].input(first)
        boxes["New password again"].input(second)
        return submit(at, "Change password")
    change("not my password at all", new, new)
    assert any("not your current password" in e.value for e in at.error)
    change(PASSWORD, new, new + "x")
    assert any("differ" in e.value for e in at.error)
    change(PASSWORD, "short", "short")
    assert any("at least" in e.value for e in at.error)
    assert wb().access.sign_in("operator@example.com", PASSWORD, "test")  # nothing changed so far
    cookie = at.session_state["ytempire_session_cookie"]
    change(PASSWORD, new, new)
    assert any("Password changed" in s.value for s in at.success)
    assert wb().access.session_user(cookie) is None  # this session ended too
    assert wb().access.sign_in("operator@example.com", new, "test").cookie


# -- Automation ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["owner", "operator", "analyst"])
def test_automation_is_for_owners_and_operators(role):
    at = app_test(60, role=role)
    at.run()
    if role == "analyst":
        with pytest.raises(Exception):  # noqa: B017 - not in the analyst's navigation: it cannot be opened
            at.switch_page("pages/automation.py").run()
        return
    at.switch_page("pages/automation.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Automation"] and "Create webhook" in texts(at)
    assert "No webhooks yet" in texts(at)


def create_hook(at, url: str, events: list[str] | None = None, description: str = ""):
    [t for t in at.text_input if t.label == "Receiver URL"][0].input(url)
    if events:
        at.multiselect[0].set_value(events)
    [t for t in at.text_input if t.label.startswith("Description")][0].input(description)
    return submit(at, "Create webhook")


@pytest.mark.parametrize("role", ["owner", "operator"])
def test_a_private_receiver_is_refused_clearly_and_owners_are_told_how_to_allow_it(role):
    at = open_page("automation", role)
    create_hook(at, "http://127.0.0.1:9/x")
    errors = [plain(e.value) for e in at.error]
    assert any("loopback address" in e and "Settings page" in e for e in errors), errors
    assert ("As an owner you can allow this" in texts(at)) == (role == "owner")
    assert not [c for c in at.code if c.value.startswith("whsec_")]
    assert wb().db.query_one("SELECT count(*) FROM webhooks")[0] == 0
    create_hook(at, "ftp://example.com/x")
    assert any("starts with https://" in plain(e.value) for e in at.error), [e.value for e in at.error]


def wait_for(sql: str, params: list, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = wb().db.query_one(sql, params)
        if row and row[0]:
            return row
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {sql}")


def test_a_webhook_is_made_tested_replayed_switched_and_deleted(receiver):
    from standardwebhooks import Webhook

    wb().update_settings({"webhooks_allow_private": True})  # the receiver is on this machine
    at = open_page("automation", "operator")
    create_hook(at, receiver.url, ["webhook.test", "job.failed"], "CI alerts")
    secret = next(c.value for c in at.code if c.value.startswith("whsec_"))
    assert "Copy the signing secret now: it will not be shown again" in texts(at)
    assert any("Webhook(secret).verify(body, headers)" in c.value for c in at.code)
    hook = wb().db.query_dicts("SELECT id, events FROM webhooks")[0]
    assert secret not in repr(at.session_state.to_dict())
    submit(at, "Done: I have copied it")
    text = texts(at)
    assert secret not in text and "127.0.0.1" in text and "webhook.test, job.failed" in text and "CI alerts" in text

    at.button(key=f"hook-test-{hook['id']}").click().run()  # queues it and opens the delivery log
    assert not at.exception, at.exception
    assert "Test event msg_" in texts(at)
    request = receiver.wait_for(1)[0]
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "webhook.test"
    first = wait_for("SELECT id FROM webhook_deliveries WHERE status = 'delivered'", [])[0]
    at.run()
    assert any(plain(e.label).startswith("✅ delivered · webhook.test · HTTP 200 · 1 attempt") for e in at.expander), \
        [e.label for e in at.expander]
    assert at.button(key=f"replay-{first}").disabled is False
    at.button(key=f"replay-{first}").click().run()
    assert not at.exception, at.exception
    again = wb().db.query_dicts("SELECT id, replay_of FROM webhook_deliveries WHERE replay_of = ?", [first])
    assert len(again) == 1
    assert any("queued again as delivery" in t for t in texts(at).split("\n"))
    assert receiver.wait_for(2)[1].headers["webhook-id"] == request.headers["webhook-id"]

    at.button(key=f"hook-off-{hook['id']}").click().run()
    assert any("Off: Turned off by operator@example.com" in plain(w.value) for w in at.warning), \
        [w.value for w in at.warning]
    assert at.button(key=f"hook-test-{hook['id']}").disabled
    at.button(key=f"hook-on-{hook['id']}").click().run()
    assert not at.warning and not at.button(key=f"hook-test-{hook['id']}").disabled

    assert at.button(key=f"hook-delete-{hook['id']}").disabled
    at.checkbox(key=f"hook-delete-sure-{hook['id']}").check().run()
    at.button(key=f"hook-delete-{hook['id']}").click().run()
    assert not at.exception, at.exception
    assert "No webhooks yet" in texts(at) and wb().db.query_one("SELECT count(*) FROM webhooks")[0] == 0


def test_a_failing_receiver_shows_its_error_and_waits_for_the_next_attempt(receiver):
    wb().update_settings({"webhooks_allow_private": True})
    receiver.always(503)
    at = open_page("automation")
    create_hook(at, receiver.url)
    hook = wb().db.query_one("SELECT id FROM webhooks")[0]
    at.button(key=f"hook-test-{hook}").click().run()
    wait_for("SELECT attempts FROM webhook_deliveries", [])
    at.run()
    label = next(plain(e.label) for e in at.expander if "webhook.test" in plain(e.label))
    assert label.startswith("⏳ pending") and "HTTP 503" in label, label
    assert "Next attempt" in texts(at)
    assert at.button(key=f"replay-{wb().db.query_one('SELECT id FROM webhook_deliveries')[0]}").disabled

"""The Automation page's parts: webhooks (make, switch, test, delete) and each one's live delivery log.

A new webhook's signing secret is shown in the one run that made it and never kept in Session State. Buttons act
in callbacks and leave what they did in Session State (never a secret) for the next run to show; the delivery log
is a fragment (``st.fragment(run_every=...)``), so its widgets live inside it and its notes are toasted there.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline.events import EVENT_TYPES, TYPE_NAMES
from pipeline.webhooks import MAX_DESCRIPTION_CHARS, MAX_URL_CHARS, PrivateAddress, WebhookError
from ui.state import get_workbench
from ui.text import md
from ui.widgets import empty, grid, when

NOTE = "webhook-note"  # (kind, text) a main-body button left for the next run
LOG_NOTES = "webhook-log-notes"  # what a Replay did, toasted by the log fragment
LOG_ROWS = (10, 25, 50, 100)
LIVE_S = 3  # how often an open delivery log looks again
STATUS = {"pending": "⏳ pending", "delivered": "✅ delivered", "failed": "❌ failed"}
DESCRIPTIONS = dict(EVENT_TYPES)
VERIFY = '''import os
from standardwebhooks import Webhook  # pip install standardwebhooks

secret = os.environ["YTEMPIRE_WEBHOOK_SECRET"]  # the whsec_... shown above
# body: the request's raw bytes, unparsed; headers: its webhook-id, webhook-timestamp, webhook-signature
event = Webhook(secret).verify(body, headers)  # raises WebhookVerificationError when it was not signed by us
'''


def _note(kind: str, text: str) -> None:
    st.session_state[NOTE] = (kind, text)


def _act(action: str, webhook_id: int, sure_key: str | None = None) -> None:
    wb = get_workbench()
    try:
        if action == "on":
            wb.webhooks.set_enabled(wb.actor, webhook_id, True)
            _note("success", f"Webhook {webhook_id} is on: what waited for it goes out now.")
        elif action == "off":
            wb.webhooks.set_enabled(wb.actor, webhook_id, False)
            _note("success", f"Webhook {webhook_id} is off: its events wait (and are sent when it is on again).")
        elif action == "test":
            event_id = wb.webhooks.send_test(wb.actor, webhook_id)
            _note("success", f"Test event {event_id} queued for webhook {webhook_id}: watch its delivery log.")
            st.session_state[f"hook-log-{webhook_id}"] = True  # show the log it goes into
        elif action == "delete":
            wb.webhooks.delete(wb.actor, webhook_id)
            _note("success", f"Webhook {webhook_id} and its delivery log were deleted.")
    except (WebhookError, LookupError, PermissionError) as exc:
        _note("error", str(exc))
    if sure_key:
        st.session_state[sure_key] = False


def _replay(delivery_id: int) -> None:
    wb = get_workbench()
    try:
        new_id = wb.webhooks.replay(wb.actor, delivery_id)
        text = f"Delivery {delivery_id} queued again as delivery {new_id} (the same webhook-id and body)."
    except (WebhookError, LookupError, PermissionError) as exc:
        text = f"Not replayed: {exc}"
    st.session_state.setdefault(LOG_NOTES, []).append(text)


# -- making one ---------------------------------------------------------------------------------------------------
def _show_secret(made: dict) -> None:
    st.success(f"Webhook {made['id']} made: it receives "
               f"{', '.join(made['events']) if made['events'] else 'every event'}.", icon=":material/webhook:")
    st.warning("Copy the signing secret now: it will not be shown again. Your receiver needs it to check that a "
               "request came from this workbench.", icon=":material/content_copy:")
    st.code(made["secret"], language=None)
    st.caption("Check every request before trusting it (Python; the Standard Webhooks libraries exist for most "
               "languages):")
    st.code(VERIFY, language="python")
    st.button("Done: I have copied it", key="webhook-dismiss", icon=":material/check:")  # any rerun hides it


def show_create() -> None:
    wb = get_workbench()
    with st.form("webhook-new", clear_on_submit=True):
        url = st.text_input("Receiver URL", max_chars=MAX_URL_CHARS, placeholder="https://hooks.example.com/ytempire",
                            help="Where each event is POSTed as JSON, signed. A public address (see below for one "
                                 "on this machine or your network).")
        names = st.multiselect("Events", TYPE_NAMES, placeholder="Every event",
                               help="None chosen: every event type, including ones added later.")
        with st.expander("What each event means"):
            grid(pl.DataFrame({"event": list(DESCRIPTIONS), "sent_when": list(DESCRIPTIONS.values())}),
                 labels={"sent_when": "Sent when"})
        description = st.text_input("Description (optional)", max_chars=MAX_DESCRIPTION_CHARS,
                                    placeholder="e.g. Slack alerts for failed jobs")
        submitted = st.form_submit_button("Create webhook", type="primary", icon=":material/add:")
    if not submitted:
        return
    try:
        made = wb.webhooks.create(wb.actor, url, list(names) or None, description)
    except PrivateAddress as exc:
        st.error(md(exc), icon=":material/public_off:")
        if wb.actor.can("admin"):
            st.info("As an owner you can allow this: on the Settings page turn on **Webhooks may reach private "
                    "addresses** (or start the workbench with `YTEMPIRE_WEBHOOKS_ALLOW_PRIVATE=1`), then create it "
                    "again. Only do so when every operator may point the workbench at machines on your network.",
                    icon=":material/info:")
            st.page_link("pages/settings.py", label="Open Settings", icon=":material/settings:")
        return
    except (WebhookError, LookupError, PermissionError) as exc:
        st.error(md(exc), icon=":material/error:")
        return
    _show_secret(made)


# -- the list -----------------------------------------------------------------------------------------------------
def _webhook(hook: dict) -> None:
    with st.container(border=True):
        events = ", ".join(hook["events"]) if hook["events"] else "every event"
        about = f"{md(hook['description'])} · " if hook["description"] else ""
        st.markdown(f"**{md(hook['url'])}**  \n{about}Events: {md(events)}")
        st.caption(f"Webhook {hook['id']} · made {when(hook['created_at'])} UTC"
                   + (" · all workspaces" if hook["workspace_id"] is None else "")
                   + (f" · last delivered {when(hook['last_success_at'])} UTC" if hook["last_success_at"] else "")
                   + (f" · {hook['consecutive_failures']} failed in a row" if hook["consecutive_failures"] else ""))
        if not hook["enabled"]:
            st.warning(f"Off: {md(hook['disabled_reason'] or 'turned off.')} Events for it wait; turn it on to send "
                       "them.", icon=":material/pause_circle:")
        row = st.container(horizontal=True)
        hid = hook["id"]
        if hook["enabled"]:
            row.button("Turn off", key=f"hook-off-{hid}", icon=":material/pause:", on_click=_act, args=("off", hid))
        else:
            row.button("Turn on", key=f"hook-on-{hid}", icon=":material/play_arrow:", on_click=_act, args=("on", hid))
        row.button("Send test event", key=f"hook-test-{hid}", icon=":material/send:", disabled=not hook["enabled"],
                   on_click=_act, args=("test", hid))
        with row.popover("Delete", icon=":material/delete:", key=f"hook-delete-pop-{hid}"):
            sure_key = f"hook-delete-sure-{hid}"
            sure = st.checkbox(f"Yes, delete the webhook to {md(hook['url'][:80])} and its delivery log", key=sure_key)
            st.button("Delete it", key=f"hook-delete-{hid}", type="primary", disabled=not sure, on_click=_act,
                      args=("delete", hid, sure_key))
        if st.toggle("Delivery log", key=f"hook-log-{hid}", help="Newest first; it updates itself while shown."):
            st.fragment(show_log, run_every=LIVE_S)(hid)


def show_webhooks() -> None:
    note = st.session_state.pop(NOTE, None)
    if note:
        (st.success if note[0] == "success" else st.error)(md(note[1]))
    wb = get_workbench()
    hooks = wb.webhooks.list(wb.actor)
    if not hooks:
        empty("No webhooks yet. Make one above to have job, publish, budget and quota events POSTed to your tools.")
        return
    for hook in hooks:
        _webhook(hook)


# -- the delivery log (a fragment) --------------------------------------------------------------------------------
def _delivery(d: dict) -> None:
    http = f"HTTP {d['last_status']}" if d["last_status"] else "no answer yet" if d["status"] == "pending" \
        else "no HTTP answer"
    label = (f"{STATUS.get(d['status'], d['status'])} · {d['event_type']} · {http} · {d['attempts']} attempt"
             f"{'s' if d['attempts'] != 1 else ''} · {when(d['created_at'])}")
    with st.expander(md(label), key=f"delivery-{d['id']}"):
        st.markdown(f"Delivery {d['id']} of event `{d['event_id']}`"
                    + (f", a replay of delivery {d['replay_of']}" if d["replay_of"] else ""))
        if d["last_error"]:
            st.error(md(d["last_error"]), icon=":material/error:")
        if d["status"] == "pending":
            st.caption(f"Next attempt: {when(d['next_attempt_at']) + ' UTC' if d['next_attempt_at'] else 'now'}")
        elif d["delivered_at"]:
            st.caption(f"Delivered {when(d['delivered_at'])} UTC")
        attempts = get_workbench().webhooks.attempts(get_workbench().actor, d["id"])
        if attempts:
            grid(pl.DataFrame(attempts, infer_schema_length=None),
                 labels={"at_time": "When (UTC)", "status_code": "HTTP status", "duration_ms": "Took (ms)",
                         "response": "Answer (start)"})
        st.button("Replay", key=f"replay-{d['id']}", icon=":material/replay:", disabled=d["status"] == "pending",
                  help="Send this event again as a new delivery (the same webhook-id: receivers that dedupe see it "
                       "once). Possible once it was delivered or failed.", on_click=_replay, args=(d["id"],))


def show_log(webhook_id: int) -> None:
    """One webhook's deliveries, newest first; looks again every few seconds while the log is open."""
    for text in st.session_state.pop(LOG_NOTES, []):
        st.toast(md(text), icon=":material/replay:")
    wb = get_workbench()
    limit = st.selectbox("Show the newest", LOG_ROWS, key=f"hook-log-rows-{webhook_id}",
                         format_func=lambda n: f"{n} deliveries")
    try:
        rows = wb.webhooks.deliveries(wb.actor, webhook_id, limit=int(limit))
    except LookupError:  # deleted meanwhile (another session)
        st.caption("This webhook is gone.")
        return
    if not rows:
        st.caption("Nothing sent yet. Send a test event, or wait for the next job event.")
        return
    for d in rows:
        _delivery(d)

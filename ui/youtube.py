"""The YouTube side of the Channels page: connect (OAuth), health and quota, schedules, analytics."""

from __future__ import annotations

import logging

import polars as pl
import streamlit as st

from pipeline.channels import ChannelError
from pipeline.config import ConfigError
from pipeline.providers.base import ProviderError
from pipeline.youtube.accounts import AccountError, parse_client_config
from pipeline.youtube.quota import QuotaDeferred
from pipeline.youtube.schedule import MAX_SLOTS, ScheduleError
from ui.cache import read
from ui.state import get_workbench
from ui.text import md
from ui.widgets import count, empty, grid, table

log = logging.getLogger(__name__)


def with_names(rows: list[dict], channels: pl.DataFrame) -> pl.DataFrame:
    """Rows that carry a channel_id, with the channel's name first in its place."""
    names = dict(zip(channels["id"].to_list(), channels["name"].to_list()))
    return pl.DataFrame([{"channel": names.get(r["channel_id"], f"#{r['channel_id']}"),
                          **{k: v for k, v in r.items() if k != "channel_id"}} for r in rows])


def finish_oauth_redirect() -> None:
    """Google sends the operator back with ?code=...&state=project|channel: trade the code for tokens."""
    params = st.query_params
    if "code" in params and "state" in params:
        wb = get_workbench()
        try:
            account = wb.youtube.accounts.exchange_code(params["state"], params["code"])
            st.toast(f"Channel #{account.channel_id} connected through {md(account.project_id)}.", icon=":material/link:")
        except (AccountError, ConfigError) as exc:
            st.error(md(exc))
        st.query_params.clear()


def show_youtube(channels: pl.DataFrame) -> None:
    wb = get_workbench()
    status = wb.youtube.status()
    for project in status["unverified"]:
        st.warning(f"Project {md(project)} looks unverified: YouTube locked its uploads to private. Have the project "
                   "audited (YouTube API Services audit) to publish publicly.", icon=":material/lock:")
    st.markdown("**Accounts and health**")
    if status["accounts"]:
        table(with_names(status["accounts"], channels), "youtube_accounts", labels={"project": "Google Cloud project"})
    else:
        empty("No channel is connected yet: videos go to the local outbox. Connect one below.")
    st.markdown("**Quota today (per Google Cloud project, resets at midnight Pacific)**")
    if status["quota"]:
        table(pl.DataFrame(status["quota"]), "youtube_quota", labels={"project": "Google Cloud project",
                                                                     "model": "Quota model", "left": "Left today"})
    else:
        empty("No Google Cloud project added yet: add one's OAuth client secret under **Connect a channel**.")
    performance = read("channel_performance")
    if not performance.is_empty():
        st.markdown("**Audience and return** (views, watch time, subscribers and revenue against cost)")
        table(performance, "channel_performance", labels={"name": "Channel"}, hide=["id"])
    connect(channels)
    disconnect(channels, status["accounts"])
    schedules(channels)
    analytics(channels)


def disconnect(channels: pl.DataFrame, accounts: list[dict]) -> None:
    """Revoke a channel's access at Google and delete its token here."""
    if not accounts:
        return
    wb = get_workbench()
    names = dict(zip(channels["id"].to_list(), channels["name"].to_list()))
    with st.expander("Disconnect a channel", icon=":material/link_off:"):
        options = [(a["channel_id"], a["project"]) for a in accounts]
        chosen = st.selectbox("Account", options, key="yt-disconnect",
                              format_func=lambda o: f"{names.get(o[0], o[0])} through {o[1]}")
        sure = st.checkbox("Revoke this access at Google and delete the token here (publishing goes to the outbox "
                           "until it is connected again)", key="yt-disconnect-sure")
        if st.button("Disconnect", key="yt-disconnect-go", disabled=not sure, icon=":material/link_off:"):
            try:
                for note in wb.disconnect_channel(int(chosen[0]), chosen[1]):
                    st.success(md(note))
            except (AccountError, ConfigError, ChannelError) as exc:
                st.error(md(exc))


def connect(channels: pl.DataFrame) -> None:
    wb = get_workbench()
    with st.expander("Connect a channel", icon=":material/add_link:"):
        if not wb.youtube.accounts.box.ready:
            st.error("Set YTEMPIRE_TOKEN_KEY first (it encrypts the tokens): run `python -m pipeline channels key` "
                     "and put the result in the environment or .streamlit/secrets.toml, then restart.")
            return
        name = st.selectbox("Channel", channels["name"].to_list(), key="yt-channel")
        channel_id = channels.filter(pl.col("name") == name)["id"][0]
        upload = st.file_uploader("OAuth client secret of your Google Cloud project (JSON, at most 64 KB)", type=["json"],
                                  key="yt-secret", max_upload_size=1)
        projects = [r[0] for r in wb.db.query("SELECT project_id FROM youtube_projects ORDER BY 1")]
        project = None
        if upload is not None:
            try:
                project = wb.youtube.accounts.add_project(parse_client_config(upload.getvalue().decode()))
            except (AccountError, UnicodeDecodeError) as exc:
                st.error(md(exc))
        elif projects:
            project = st.selectbox("Or a project already added", projects, key="yt-project")
        if project:
            st.link_button("Open Google's consent page", wb.youtube.accounts.authorization_url(project, channel_id),
                           icon=":material/open_in_new:")
            st.caption(f"Google sends you back to {wb.settings.oauth_redirect_uri} and the channel is connected. If that "
                       "address cannot be reached from where you sign in, copy the `code` from the address bar here:")
            code = st.text_input("Code", key="yt-code")
            if st.button("Finish connecting", key="yt-finish") and code:
                try:
                    state = wb.youtube.accounts.pending_state(project, channel_id)
                    if state is None:
                        raise AccountError("Open Google's consent page first.")
                    wb.youtube.accounts.exchange_code(state, code)
                    st.success(f"{md(name)} connected through {md(project)}.")
                except AccountError as exc:
                    st.error(md(exc))
        token = st.file_uploader("…or an authorized-user token JSON (as google-auth writes it, at most 64 KB)",
                                 type=["json"], key="yt-token", max_upload_size=1)
        if token is not None and upload is not None and st.button("Connect with this token", key="yt-token-go"):
            try:  # read here, never through a temporary file whose name a refusal would show
                wb.youtube.add_account(channel_id, upload.getvalue().decode("utf-8"), token.getvalue().decode("utf-8"))
                st.success(f"{md(name)} connected.")
            except UnicodeDecodeError:
                st.error("The client secret or the token is not a text (JSON) file: download it again from Google.")
            except (AccountError, ConfigError) as exc:
                st.error(md(exc))


def schedules(channels: pl.DataFrame) -> None:
    wb = get_workbench()
    with st.expander("Schedules", icon=":material/schedule:"):
        current = wb.db.query_dicts("SELECT * FROM schedules")
        if current:
            grid(with_names(current, channels), labels={"times": "Times of day", "timezone": "Time zone",
                                                        "country": "Trends country"})
        else:
            st.caption("No schedule yet: set one below and jobs are queued ahead of each time.")
        with st.form("schedule"):
            c = st.columns(3)
            name = c[0].selectbox("Channel", channels["name"].to_list())
            times = c[1].text_input(f"Times of day (HH:MM, comma separated, at most {MAX_SLOTS})", "09:00, 17:00",
                                    max_chars=6 * MAX_SLOTS + 100)
            tz = c[2].text_input("Time zone", "America/New_York", max_chars=64, help="An IANA name such as Europe/Paris.")
            c = st.columns(4)
            country = c[0].text_input("Trends country (blank: any)", max_chars=2)
            duration = c[1].number_input("Duration (s)", 10, 1800, 60, 10)
            fmt = c[2].selectbox("Format", ["landscape", "shorts"])
            privacy = c[3].selectbox("Privacy when published", ["public", "unlisted", "private"])
            enabled = st.checkbox("Enabled", True)
            if st.form_submit_button("Save schedule"):
                try:
                    cid = channels.filter(pl.col("name") == name)["id"][0]
                    wb.save_schedule(cid, times, tz, country.upper() or None, int(duration), fmt, privacy, enabled)
                    st.success("Saved. Jobs are queued from the trend backlog ahead of each time and publish when "
                               "they pass the quality gate.")
                except ScheduleError as exc:
                    st.error(md(exc))
        slots = wb.db.query_dicts("SELECT * FROM schedule_slots ORDER BY slot_at DESC LIMIT 30")
        if slots:
            grid(with_names(slots, channels), labels={"job_id": "Job queued"})


def analytics(channels: pl.DataFrame) -> None:
    wb = get_workbench()
    connected = [c for c in channels.iter_rows(named=True) if wb.youtube.connected(c["id"])]
    if not connected:
        return
    with st.expander("Analytics", icon=":material/insights:"):
        name = st.selectbox("Channel", [c["name"] for c in connected], key="yt-sync-channel")
        if st.button("Sync analytics now", key="yt-sync"):
            cid = next(c["id"] for c in connected if c["name"] == name)
            try:
                result = wb.youtube.sync(cid)
                st.success(f"Synced {count(result['videos'])} videos ({count(result['rows'])} days of figures)"
                           + ("" if result["revenue"] else "; revenue is not available (channel not monetised)"))
            except (AccountError, ConfigError, ChannelError, ProviderError, QuotaDeferred) as exc:
                st.error(f"Sync failed: {md(exc)}")
            except Exception:  # noqa: BLE001 - an unexpected answer: words here, the details in the log
                log.exception("analytics sync of channel %s failed", cid)
                st.error("Sync failed: YouTube's answer was not what the workbench expected (the details are in the "
                         "workbench's log). Try again later; if it keeps failing, reconnect the channel.")

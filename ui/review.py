"""The Library's review panels: read, edit, regenerate and approve a script; edit and publish a video."""

from __future__ import annotations

from datetime import datetime, time as clock, timedelta, timezone
from pathlib import Path

import polars as pl
import streamlit as st

from pipeline import jobs
from pipeline.access.actor import NotInWorkspace
from pipeline.config import ConfigError
from pipeline.jobs import InvalidTransition
from pipeline.providers import UnknownProvider
from pipeline.review import (MAX_DESCRIPTION_BYTES, MAX_SENTENCE_CHARS, MAX_TITLE, PRIVACY, PublishRequest,
                             ScriptEdit, SectionEdit, split_tags)
from ui.state import get_workbench
from ui.text import md
from ui.widgets import usd

ERRORS = (ConfigError, InvalidTransition, UnknownProvider, ValueError)
STAGE_WORDS = {"voice": "the narration and everything after it", "scenes": "the scene plan, visuals and render",
               "visuals": "the visuals, render and thumbnail", "thumbnail": "the thumbnail and the quality check",
               "quality": "the quality check", "publish": "publishing", "script": "the script"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def script_form(job_id: int, awaiting_script: bool) -> None:
    """The script as the operator edits it: one sentence a line; each save is a new version. (One form per job on
    a page: the Library shows it either in the review panel or in the video's Script tab, never both.)"""
    wb = get_workbench()
    try:
        script = wb.review.script(job_id)
    except ERRORS as exc:
        st.info(md(exc))
        return
    with st.form(f"script-{job_id}"):
        title = st.text_input("Title", script.title, max_chars=MAX_TITLE, key=f"s-title-{job_id}",
                              help=f"At most {MAX_TITLE} characters (YouTube's limit); drawn on the thumbnail.")
        hook = st.text_area("Hook", script.hook, height=80, key=f"s-hook-{job_id}")
        sections = []
        for n, section in enumerate([*script.sections, None], start=1):
            new = section is None
            heading = st.text_input(f"Section {n} heading" + (" (new, optional)" if new else ""),
                                    "" if new else section.heading, key=f"s-head-{job_id}-{n}", max_chars=120)
            text = st.text_area(f"Section {n}: one sentence a line" + (" (leave empty for none)" if new else
                                                                          " (empty it to remove the section)"),
                                "" if new else "\n".join(section.sentences), key=f"s-text-{job_id}-{n}",
                                height=68 if new else 140,
                                help=f"Each line is spoken as one sentence (at most {MAX_SENTENCE_CHARS} characters). "
                                     "Lines you change or add count as your own words, not the sources'.")
            if not new or _lines(text):
                sections.append(SectionEdit(heading, _lines(text)))
        cta = st.text_area("Call to action", script.call_to_action, height=68, key=f"s-cta-{job_id}")
        description = st.text_area("Description", script.description, height=140, key=f"s-desc-{job_id}",
                                   max_chars=MAX_DESCRIPTION_BYTES,
                                   help=f"At most {MAX_DESCRIPTION_BYTES:,} bytes (YouTube's limit).")
        tags = st.text_input("Tags, comma separated", ", ".join(script.tags), key=f"s-tags-{job_id}",
                             max_chars=600, help="At most 500 characters in all (YouTube's limit).")
        cols = st.columns(2)
        if awaiting_script:
            save = cols[0].form_submit_button("Save edits", icon=":material/save:")
            approve = cols[1].form_submit_button("Approve and make the video", type="primary",
                                                 icon=":material/check_circle:")
        else:
            save = cols[0].form_submit_button("Save and make again", type="primary", icon=":material/refresh:",
                                              help="Only the stages your change touches run again.")
            approve = False
    if save or approve:
        edit = ScriptEdit(title, hook, sections, cta, description, split_tags(tags))
        try:
            said = wb.review.edit_script(job_id, edit, approve=bool(approve))
        except ERRORS as exc:
            st.error(md(exc), icon=":material/error:")
            return
        if said["status"] == "review" and said["rerun_from"] is None and awaiting_script:
            st.success(f"Saved as version {said['version']}. It still waits for your approval: nothing is voiced yet.")
        elif approve:
            st.success("Approved: the job is queued and the narration is made from this script. Follow it in "
                       "the Studio's queue.")
        elif said["rerun_from"]:
            st.success(f"Saved as version {said['version']}: {STAGE_WORDS.get(said['rerun_from'], said['rerun_from'])}"
                       " run again; earlier stages are kept. The ledger shows what the rerun costs.")
        else:
            st.success(f"Saved as version {said['version']}: nothing needs making again.")


def regenerate(job_id: int, channel_writer: str) -> None:
    wb = get_workbench()
    with st.expander("Write the script again", icon=":material/autorenew:"):
        st.caption("A new version from a writer; it waits for your review before any voice is paid for.")
        writer = st.text_input("Writer chain", channel_writer, key=f"regen-writer-{job_id}", max_chars=300,
                               help="e.g. local, or openai:gpt-4o-mini > local (needs its key in Settings).")
        if st.button("Write again", key=f"regen-{job_id}", icon=":material/autorenew:"):
            try:
                wb.review.regenerate_script(job_id, writer.strip() or None)
                st.success("Queued: the new script will wait here for your review.")
            except ERRORS as exc:
                st.error(md(exc), icon=":material/error:")


def versions(job_id: int) -> None:
    wb = get_workbench()
    rows = wb.review.versions(job_id)
    if len(rows) < 2:
        return
    with st.expander(f"Script versions ({len(rows)})", icon=":material/history:"):
        table = pl.DataFrame([{"Version": r["version"], "By": "you" if r["author"] == "operator" else
                               f"writer ({r['writer'] or 'unknown'})", "What changed": r["note"] or "first draft",
                               "When": r["created_at"].strftime("%d %b %Y %H:%M")} for r in rows])
        st.dataframe(table, hide_index=True)


def script_review(job: dict) -> None:
    """A job waiting for its script to be read: the script, the form, regenerate, approve."""
    job_id = job["job_id"]
    st.subheader(f"#{job_id} {md(job['topic'])}")
    st.info(f"**Waiting for your review of the script** · {md(job['channel'])}. Read it, edit any sentence, then "
            "approve: only then is a voice paid for and the video made.", icon=":material/rate_review:")
    script_form(job_id, awaiting_script=True)
    wb = get_workbench()
    writer = wb.db.query_one("SELECT writer FROM channels WHERE name = ?", [job["channel"]])
    regenerate(job_id, writer[0] if writer else "local")
    versions(job_id)
    c = st.columns([1, 3])
    if c[0].button("Cancel this job", key=f"review-cancel-{job_id}", icon=":material/cancel:"):
        try:
            wb.cancel(job_id)
            st.success("Cancelled: nothing more is made or paid for.")
        except ERRORS as exc:
            st.error(md(exc))


def _planned(value: str | None) -> datetime | None:
    """The publish time a video was queued with, if it is still ahead."""
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at if at and at > datetime.now(timezone.utc) else None


def publish_panel(v: dict) -> None:
    """Edit what goes out and publish, after a confirmation naming the channel and the privacy."""
    wb = get_workbench()
    job_id = v["job_id"]
    ok, why = wb.review.can_publish(job_id)
    note = st.session_state.pop(f"published-note-{job_id}", None)
    if note:
        st.success(note, icon=":material/schedule_send:")
    if _publishing(job_id):  # live until it is done, then the page shows the result once, still
        st.fragment(publish_status, run_every=2)(job_id, live=True)
    else:
        publish_status(job_id)
    if not ok:
        if not wb.review.publish_result(job_id) and v.get("job_status") not in ("queued", "running"):
            st.caption(f"Not publishable now: {md(why)}.")
        return
    job = jobs.get_job(wb.db, job_id)  # its brief parsed: privacy, schedule and thumbnail as stored
    if job["status"] == "review":
        st.info("**Waiting for you to publish it.** Watch it, edit what goes out, then publish.",
                icon=":material/rate_review:")
    try:
        connected = wb.review.connected(v["channel_id"])
    except NotInWorkspace:  # its channel was deleted: the outbox is left
        connected = False
    try:
        script = wb.review.script(job_id)
    except ERRORS as exc:  # its script file is gone (deleted, or a restore without the files)
        st.warning(f"{md(exc)} Retry the job to make its files again before publishing.", icon=":material/warning:")
        return
    options = []
    try:
        options = wb.review.thumbnail_options(job_id)
    except ERRORS:
        pass
    with st.form(f"publish-{job_id}"):
        targets = ["youtube", "outbox"] if connected else ["outbox"]
        target = st.radio("Publish to", targets, horizontal=True, key=f"p-target-{job_id}",
                          format_func={"youtube": "YouTube", "outbox": "The outbox (a folder to upload by hand)"}.get)
        if not connected:
            st.caption("This channel is not connected to YouTube: connect it on the Channels page to publish there.")
        title = st.text_input("Title", script.title, max_chars=MAX_TITLE, key=f"p-title-{job_id}")
        description = st.text_area("Description", script.description, height=120, key=f"p-desc-{job_id}",
                                   max_chars=MAX_DESCRIPTION_BYTES)
        tags = st.text_input("Tags, comma separated", ", ".join(script.tags), key=f"p-tags-{job_id}", max_chars=600)
        c = st.columns(3)
        brief = job["brief"] or {}
        stored = brief.get("privacy", "private")
        privacy = c[0].selectbox("Privacy", PRIVACY, key=f"p-privacy-{job_id}",
                                 index=PRIVACY.index(stored) if stored in PRIVACY else 0)
        planned = _planned(brief.get("publish_at"))
        later = c[1].checkbox("Schedule", planned is not None, key=f"p-later-{job_id}",
                              help="YouTube publishes it at this time (UTC); it stays private until then.")
        when = planned or datetime.now(timezone.utc).replace(hour=15, minute=0, second=0, microsecond=0) + timedelta(days=1)
        day = c[1].date_input("Day (UTC)", when.date(), key=f"p-day-{job_id}")
        at = c[2].time_input("Time (UTC)", clock(when.hour, when.minute), key=f"p-time-{job_id}")
        keys = [o["key"] for o in options]
        current = brief.get("thumbnail_choice")
        thumb = None
        if options:
            cols = st.columns(len(options))
            for col, o in zip(cols, options):
                col.image(preview(o["path"]), caption=o["label"])
            thumb = st.radio("Thumbnail", keys, index=keys.index(current) if current in keys else 0, horizontal=True,
                             key=f"p-thumb-{job_id}",
                             format_func=lambda k: next(o["label"][:30] for o in options if o["key"] == k))
        asked = st.form_submit_button("Publish…", type="primary", icon=":material/publish:")
    pending = f"publish-pending-{job_id}"
    if asked:
        when = datetime.combine(day, at, tzinfo=timezone.utc) if later else None
        st.session_state[pending] = PublishRequest(target=target, privacy="private" if when else privacy, title=title,
                                                   description=description,
                                                   tags=split_tags(tags),
                                                   publish_at=when,
                                                   thumbnail=thumb if thumb != (current or (keys or [None])[0]) else None)
    req = st.session_state.get(pending)
    if req is None:
        return
    where = "YouTube" if req.target == "youtube" else "the outbox"
    plan = (f"scheduled for {req.publish_at:%d %b %Y %H:%M} UTC (private until then)" if req.publish_at
            else f"as **{req.privacy}**")
    with st.container(border=True):
        st.warning(f"Publish **{md(req.title)}** to **{md(v['channel'])}** on {where} {plan}?",
                   icon=":material/help:")
        c = st.columns([1, 1, 3])
        if c[0].button("Yes, publish", key=f"p-confirm-{job_id}", type="primary"):
            try:
                said = wb.review.publish(job_id, req)
            except ERRORS as exc:
                st.error(md(exc), icon=":material/error:")
            else:
                st.session_state.pop(pending, None)
                rerun = said["rerun_from"]
                again = "" if rerun == "publish" else f" ({STAGE_WORDS.get(rerun, rerun)} first)"
                st.session_state[f"published-note-{job_id}"] = (
                    f"Queued to publish to {where}{again}. The link and the quota charged appear here when it is done.")
                st.rerun()
        if c[1].button("Cancel", key=f"p-cancel-{job_id}"):
            st.session_state.pop(pending, None)
            st.rerun()


def _publishing(job_id: int) -> bool:
    row = get_workbench().db.query_one("SELECT status IN ('queued', 'running') AND publish_approved_at IS NOT NULL"
                                       " FROM jobs WHERE id = ?", [job_id])
    return bool(row and row[0])


def publish_status(job_id: int, live: bool = False) -> None:
    """While a publish runs: its progress (bytes YouTube acknowledged); after: the link and the quota charged."""
    if live and not _publishing(job_id):
        st.rerun(scope="app")  # finished: the whole page shows the video as it is now, and stops polling
    wb = get_workbench()
    job = wb.db.query_dicts("SELECT status, publish_approved_at, error_message, error_stage FROM jobs WHERE id = ?",
                            [job_id])
    if not job:
        return
    job = job[0]
    stage = wb.db.query_one("SELECT status, progress FROM job_stages WHERE job_id = ? AND stage = 'publish'", [job_id])
    result = wb.review.publish_result(job_id)
    if job["status"] in ("queued", "running") and job["publish_approved_at"] is not None:
        fraction = float(stage[1]) if stage and stage[0] == "running" else 0.0
        st.progress(fraction, text="Publishing: " + (f"{fraction:.0%} uploaded" if stage and stage[0] == "running"
                                                      else "making what the edit changed first"))
    elif job["status"] == "failed" and job["error_stage"] == "publish":
        st.error(f"Publishing failed: {md(job['error_message'])}", icon=":material/error:")
    elif result and result.get("state") in ("published", "scheduled"):
        st.success(f"On YouTube: [{result['url']}]({result['url']}) · {result['state']} · "
                   f"{result['quota_units']:,} quota units charged to this video.", icon=":material/check_circle:")
    elif result and result.get("state") == "outbox":
        st.info(f"Exported to the outbox: {md(result['ref'])}", icon=":material/outbox:")


def runs_table(job_id: int) -> None:
    """What each run of the job cost: the first pass, then each rerun after an edit."""
    runs = get_workbench().review.runs(job_id)
    if len(runs) < 2:
        return
    st.caption("Runs: the first pass, then each rerun after an edit, with what it cost.")
    st.dataframe(pl.DataFrame([{"Run": r["run"], "Why": r["reason"], "From stage": r["from_stage"] or "—",
                                "When": r["created_at"].strftime("%d %b %Y %H:%M"), "Cost": usd(r["usd"])}
                               for r in runs]), hide_index=True)


def waiting_list() -> int | None:
    """The jobs waiting for the operator, with bulk approval; returns the job chosen to open (or None)."""
    from ui.cache import read

    approved_results()
    waiting = read("review_queue")
    if waiting.is_empty():
        return None
    st.subheader(f"Waiting for you ({waiting.height})")
    shown = waiting.with_columns(
        pl.when(pl.col("awaiting") == "script").then(pl.lit("Script review")).otherwise(pl.lit("Ready to publish"))
        .alias("awaiting")).select(
        pl.col("job_id").alias("Job"), pl.col("topic").alias("Topic"), pl.col("channel").alias("Channel"),
        pl.col("awaiting").alias("Waiting for"), pl.col("cost_usd").map_elements(usd, return_dtype=pl.String)
        .alias("Spent so far"))
    ids = waiting["job_id"].to_list()
    # Keyed by the rows it shows: once a job leaves the list, an old selection (kept by row position) is dropped
    # instead of pointing at another job.
    event = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="multi-row",
                         key=f"review-table-{digest(ids)}")
    picked = [ids[i] for i in event.selection.rows if i < len(ids)]
    scripts = [j for j in picked if waiting.filter(pl.col("job_id") == j)["awaiting"][0] == "script"]
    if len(scripts) > 1 and get_workbench().actor.can("make"):
        st.button(f"Approve {len(scripts)} scripts", key="bulk-approve", icon=":material/done_all:",
                  on_click=_approve_all, args=(scripts,))
    return picked[0] if picked else None


def _approve_all(job_ids: list[int]) -> None:
    st.session_state["approved-results"] = get_workbench().bulk("approve", job_ids)


def approved_results() -> None:
    for job_id, done, said in st.session_state.pop("approved-results", None) or []:
        (st.success if done else st.error)(f"#{job_id}: {md(said)}")


@st.cache_data(max_entries=64, show_spinner=False)
def _preview(path: str, mtime: float, width: int) -> str:
    import base64
    import io

    from PIL import Image

    with Image.open(path) as image:
        image.thumbnail((width, width))
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def preview(path: str, width: int = 384) -> str:
    """A small copy of an image, inline: it never depends on Streamlit's media store, whose files an interrupted
    rerun can drop while the browser still shows them (a broken picture until the next change)."""
    return _preview(path, Path(path).stat().st_mtime, width)


def digest(ids: list[int]) -> str:
    """A short name for a set of rows: widget keys built from it start fresh when the rows change."""
    import hashlib
    return hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:10]

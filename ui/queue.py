"""The live queue: each job's stages with their progress and the time it has left, its video when it is
finished, what a review job waits for; cancel, retry, bulk actions, and clearing finished jobs from view.

Rendered inside ``st.fragment(run_every=...)``, so it keeps to the fragment rules: every widget is created
here, inside the fragment; callbacks only act and leave messages in Session State (displaying from a
callback during a fragment rerun is not supported), and the fragment body shows them as toasts.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline import queries
from pipeline.eta import describe_left, describe_wait
from pipeline.job_views import summary
from pipeline.jobs import InvalidTransition
from ui.cache import read
from ui.state import get_workbench
from ui.text import md
from ui.widgets import STATUS_ICONS, empty, usd

STAGE_NAMES = {"script": "Script", "voice": "Narration", "scenes": "Scenes", "visuals": "Visuals", "render": "Render",
               "thumbnail": "Thumbnail", "quality": "Quality check", "publish": "Publishing"}
DOING = {"script": "Writing the script", "voice": "Narrating", "scenes": "Planning the scenes",
         "visuals": "Choosing the visuals", "render": "Rendering", "thumbnail": "Drawing the thumbnail",
         "quality": "Checking the quality", "publish": "Publishing"}
AWAITING = {"script": "awaiting your review of the script", "publish": "awaiting your review before publishing"}
MARKS = {"done": "✓", "failed": "✗", "cancelled": "cancelled", "skipped": "skipped", "pending": ""}
ACTIVE = ("queued", "running")
FINISHED = ("done", "held", "failed", "cancelled")
RETRYABLE = ("failed", "cancelled", "held")
WATCH = "queue-watch"  # job id -> what the operator was last told about it (None: nothing yet)
NOTES = "queue-notes"  # what callbacks did, toasted by the fragment body


def remember(*job_ids: int) -> None:
    """Tell this session's operator, with a toast, when these jobs finish, are held, fail or wait for review."""
    watch = st.session_state.setdefault(WATCH, {})
    for job_id in job_ids:
        watch[int(job_id)] = None


def _note(message: str) -> None:
    st.session_state.setdefault(NOTES, []).append(message)


def _ended_words(row: dict) -> tuple[str, str]:
    """(toast text, icon) for a watched job that reached a state the operator should hear about."""
    job = f"Job #{row['id']} ({md(row['topic'])})"
    status = row["status"]
    if status == "done":
        return f"{job} is done: it is in the Library.", ":material/check_circle:"
    if status == "held":
        return f"{job} was held by the quality gate: see why in the Library.", ":material/front_hand:"
    if status == "failed":
        return f"{job} failed at {md(row['error_stage'] or 'a stage')}: see the queue.", ":material/error:"
    if status == "cancelled":
        return f"{job} was cancelled.", ":material/stop_circle:"
    return f"{job} is {AWAITING.get(row['awaiting'], 'awaiting your review')}.", ":material/rate_review:"


def _announce() -> None:
    """Toast what the callbacks did, and each watched job that finished, was held, failed or awaits review (once)."""
    for message in st.session_state.pop(NOTES, []):
        st.toast(message)
    watch = st.session_state.get(WATCH) or {}
    if not watch:
        return
    rows = read("job_statuses", tuple(sorted(watch)))
    seen = set()
    for row in rows.iter_rows(named=True):
        seen.add(row["id"])
        told = f"{row['status']}:{row['awaiting'] or ''}"
        if (row["status"] in FINISHED or row["status"] == "review") and watch.get(row["id"]) != told:
            text, icon = _ended_words(row)
            st.toast(text, icon=icon, duration="long")
            watch[row["id"]] = told
        if row["status"] in FINISHED:
            watch.pop(row["id"], None)  # a retry remembers it again
    for gone in set(watch) - seen:  # deleted meanwhile
        watch.pop(gone, None)


# -- actions (callbacks: they act and leave a note, never display) -------------------------------------------

def _act(action: str, job_id: int) -> None:
    wb = get_workbench()
    try:
        if action == "cancel":
            state = wb.cancel(job_id)
            _note(f"Job {job_id}: {'cancelled' if state == 'cancelled' else 'stopping at the next checkpoint'}")
        else:
            wb.retry(job_id)
            remember(job_id)
            _note(f"Job {job_id} queued again: it resumes at its first unfinished stage")
    except InvalidTransition as exc:
        _note(md(exc))


def _picked(ids: list[int]) -> list[int]:
    return [j for j in ids if st.session_state.get(f"pick-{j}")]


def _bulk(action: str, ids: list[int]) -> None:
    wb = get_workbench()
    chosen = _picked(ids)
    if action == "retry":
        outcomes = wb.retry_jobs(chosen)
        remember(*[o.job_id for o in outcomes if o.ok])
        _note(md(summary(outcomes, "queued again")))
    else:
        outcomes = wb.cancel_jobs(chosen)
        _note(md(summary(outcomes, "cancelled or stopping")))
    for j in chosen:
        st.session_state[f"pick-{j}"] = False


def _clear() -> None:
    cleared = get_workbench().clear_finished()
    st.session_state["queue-clear-sure"] = False
    _note(f"Cleared {cleared} finished job{'s' if cleared != 1 else ''} from the queue. Their videos and costs "
          "stay: open them in the Library.")


# -- showing -------------------------------------------------------------------------------------------------

def _share(progress: float) -> str:
    """A running stage's progress; "…" until it reports any (the short stages only say when they are done)."""
    return f"{progress:.0%}" if progress > 0 else "…"


def _stage_line(stages: pl.DataFrame) -> str:
    """Every stage in pipeline order, in words, with its progress or outcome."""
    parts = []
    for s in stages.iter_rows(named=True):
        name = STAGE_NAMES.get(s["stage"], s["stage"])
        mark = _share(s["progress"]) if s["status"] == "running" else MARKS.get(s["status"], s["status"])
        retry = f" (try {s['attempts']})" if s["attempts"] > 1 and s["status"] in ("running", "done") else ""
        parts.append(f"{name} {mark}{retry}".strip())
    return " · ".join(parts)


def _progress_text(job: dict, stages: pl.DataFrame, eta: dict | None) -> str:
    running = stages.filter(pl.col("status") == "running")
    if job["status"] == "running" and job["cancel_requested"]:
        said = "Stopping at the next checkpoint"
    elif running.height:
        s = running.row(0, named=True)
        said = f"{DOING.get(s['stage'], s['stage'])}" + (f": {_share(s['progress'])}" if s["progress"] > 0 else "…")
    elif job["status"] == "queued":
        said = "Queued: waiting for a worker"
    else:
        said = "Between stages"
    if eta is not None:
        said = " · ".join(x for x in (said, describe_wait(eta["wait_s"]), describe_left(eta["left_s"])) if x)
    return said


def _library_link(job_id: int, label: str) -> None:
    st.page_link("pages/library.py", label=label, icon=":material/video_library:", query_params={"job": str(job_id)})


def _result(job: dict, stages: pl.DataFrame) -> None:
    """A finished job's video: its thumbnail, quality score and cost, and the way to its Library entry."""
    c = st.columns([1, 4], vertical_alignment="center")
    if job["thumbnail_path"]:
        c[0].image(job["thumbnail_path"], width=160)
    facts = []
    if job["quality_score"] is not None:
        facts.append(f"quality **{job['quality_score']:.0f}**")
    facts.append(f"cost **{usd(job['cost_usd'])}**")
    worked = [(r["finished_at"] - r["started_at"]).total_seconds() for r in stages.iter_rows(named=True)
              if r["status"] == "done" and r["started_at"] and r["finished_at"]]
    if worked:
        facts.append(f"made in {_took(sum(worked))}")
    if job["status"] == "held":
        facts.append("held by the quality gate: not published")
    elif job["publish_state"]:
        facts.append(f"publish state *{md(job['publish_state'])}*")
    with c[1]:
        if job["title"]:
            st.markdown(f"**{md(job['title'])}**")
        st.caption(" · ".join(facts))
        _library_link(job["id"], "Open in the Library")


def _took(seconds: float) -> str:
    """The stages' own working time (a wait in the queue or for a review is not making)."""
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min {seconds % 60:02d} s"


def _job(job: dict, stages: pl.DataFrame, eta: dict | None) -> None:
    status = job["status"]
    with st.container(border=True):
        top = st.columns([0.35, 6, 1.1, 1.1], vertical_alignment="center")
        top[0].checkbox(f"Select job {job['id']}", key=f"pick-{job['id']}", label_visibility="collapsed")
        waiting = f"*{AWAITING.get(job['awaiting'], 'awaiting your review')}*" if status == "review" else f"*{status}*"
        top[1].markdown(f"{STATUS_ICONS.get(status, '')} **#{job['id']} {md(job['topic'])}** · "
                        f"{md(job['channel'])} · {job['duration_s']} s {job['format']} · {waiting}"
                        + (" (cancelling)" if job["cancel_requested"] and status == "running" else ""))
        if status in ACTIVE or status == "review":
            top[2].button("Cancel", key=f"cancel-{job['id']}", on_click=_act, args=("cancel", job["id"]),
                          icon=":material/stop:")
        if status in RETRYABLE:
            top[3].button("Retry", key=f"retry-{job['id']}", on_click=_act, args=("retry", job["id"]),
                          icon=":material/replay:")
        if status in ACTIVE:
            st.progress(min(1.0, eta["done"] if eta else 0.0), text=_progress_text(job, stages, eta))
            st.caption(_stage_line(stages))
        elif status == "review":
            st.info(f"Job #{job['id']} is {AWAITING.get(job['awaiting'], 'awaiting your review')}.",
                    icon=":material/rate_review:")
            _library_link(job["id"], "Review it in the Library")
        elif status == "failed":
            who = f" ({md(job['error_provider'])})" if job["error_provider"] else ""
            st.error(f"Failed at **{md(job['error_stage'])}**{who}: {md(job['error_message'], multiline=True)}",
                     icon=":material/error:")
            st.caption(_stage_line(stages))
        elif status == "cancelled":
            st.caption(_stage_line(stages))
        if status in ("done", "held") and job["has_video"]:
            _result(job, stages)


def _bulk_bar(jobs: pl.DataFrame) -> None:
    ids = jobs["id"].to_list()
    chosen = _picked(ids)
    by_status = dict(zip(ids, jobs["status"].to_list()))
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption(f"{len(chosen)} selected" if chosen else "Select jobs to act on several at once")
    row.button("Retry selected", key="queue-retry-selected", icon=":material/replay:", on_click=_bulk,
               args=("retry", ids), disabled=not any(by_status[j] in RETRYABLE for j in chosen))
    row.button("Cancel selected", key="queue-cancel-selected", icon=":material/stop:", on_click=_bulk,
               args=("cancel", ids), disabled=not any(by_status[j] in ACTIVE for j in chosen))
    finished = sum(s in FINISHED for s in by_status.values())
    with row.popover("Clear finished jobs", icon=":material/clear_all:", disabled=not finished):
        st.caption("Hides every finished job (done, held, failed, cancelled) from this queue. The jobs, their "
                   "videos, files and costs stay; the Library still shows them.")
        sure = st.checkbox("Yes, clear the finished jobs from the queue", key="queue-clear-sure")
        st.button("Clear", key="queue-clear", type="primary", disabled=not sure, on_click=_clear)


def show_queue(recent: int = 10) -> None:
    """The queue view (call it as a fragment): active and review jobs, plus the ``recent`` newest others."""
    _announce()
    jobs = read("queue", recent)
    if jobs.is_empty():
        empty("The queue is empty. Start a video above; it will appear here with live progress.")
        return
    wb = get_workbench()
    # Progress is not part of the data version the cached reads key on: read the stages live.
    stages = queries.stages_for(wb.db, jobs["id"].to_list())
    active = jobs.filter(pl.col("status").is_in(ACTIVE))
    etas = {r["job_id"]: r for r in wb.queue_eta().iter_rows(named=True)} if active.height else {}
    # Always one line here: the fragment's elements keep their places from run to run (an element that moves
    # shows twice, old and new, until the run ends).
    last = max(etas.values(), key=lambda r: r["left_s"], default=None)
    st.caption((f"{active.height} job{'s' if active.height != 1 else ''} in progress" if active.height
                else "No job in progress")
               + (f" · all finished in {describe_left(last['left_s']).removesuffix(' left')}" if last else ""))
    _bulk_bar(jobs)
    for job in jobs.iter_rows(named=True):
        _job(job, stages.filter(pl.col("job_id") == job["id"]), etas.get(job["id"]))

"""One video in the Library: player, thumbnail, script, subtitles, quality, costs, publish state, downloads."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import streamlit as st

from pipeline.config import ConfigError
from pipeline.queries import PUBLISH_WORDS
from ui.review import publish_panel, runs_table, script_form, versions
from ui.scenes import show_scenes
from ui.state import get_workbench
from ui.text import md
from ui.widgets import exports, grid, in_stage_order, usd


def _download(label: str, path: str | None, mime: str, key: str) -> None:
    if path and Path(path).exists():
        st.download_button(label, lambda: Path(path).read_bytes(), Path(path).name, mime, key=key,
                           icon=":material/download:", on_click="ignore")


def _delete_popover(job: int) -> None:
    with st.popover("Delete video", icon=":material/delete:"):
        st.caption("Deletes this video's files (video, thumbnail, captions, scenes) from this machine. What it "
                   "cost stays in the ledger; a copy on YouTube or in the outbox is not touched.")
        sure = st.checkbox(f"Yes, delete job #{job}'s files", key=f"delete-sure-{job}")
        if st.button("Delete", key=f"delete-video-{job}", type="primary", disabled=not sure):
            try:
                st.success(md(get_workbench().delete_video(job)))
                st.stop()  # the rest of this view was about files that are gone
            except ConfigError as exc:
                st.error(md(exc))


def show_video(detail: dict, row: pl.DataFrame) -> None:
    v = detail["video"]
    job = v["job_id"]
    st.subheader(md(v["title"]))
    state = PUBLISH_WORDS.get(v["publish_state"], "Not published")
    score = f"{v['quality_score']:.0f}" if v["quality_score"] is not None else "—"
    st.caption(f"#{job} · {md(v['channel'])} · {v['format']} · {v['duration_s']:.1f} s · quality {score} · {state}")
    if detail.get("refused"):
        st.error("Some of this video's stored file paths point outside the data directory's jobs folder "
                 f"({', '.join(detail['refused'])}): they are not read or offered. Retry the job to make the files "
                 "again.", icon=":material/gpp_bad:")
    left, right = st.columns([3, 2])
    with left:
        if v["video_path"] and Path(v["video_path"]).exists():
            st.video(v["video_path"])  # its captions are burned in: a caption track on top would show them twice
        else:
            st.warning("The video file is missing from the data directory: retry the job to render it again.")
    with right:
        if v["thumbnail_path"] and Path(v["thumbnail_path"]).exists():
            st.image(v["thumbnail_path"], caption="Thumbnail")
        ref = v["publish_ref"] or ""
        where = (f" → [{md(ref)}](https://youtu.be/{ref})" if v["publish_state"] in ("published", "scheduled") and ref
                 else f" → {md(Path(ref).name)} in the outbox" if v["publish_state"] == "outbox" and ref else "")
        st.markdown(f"**{state}**{where}")
        c = st.columns(2)
        with c[0]:
            _download("Video", v["video_path"], "video/mp4", f"dl-video-{job}")
            _download("Captions", detail["files"].get("captions"), "text/plain", f"dl-srt-{job}")
            _download("WebVTT (word timing)", detail["files"].get("webvtt"), "text/vtt", f"dl-vtt-{job}")
        with c[1]:
            _download("Thumbnail", v["thumbnail_path"], "image/jpeg", f"dl-thumb-{job}")
            _download("Script", detail["files"].get("script"), "application/json", f"dl-script-{job}")
        if v.get("music_path"):
            st.caption(f"Music: {md(Path(v['music_path']).name)}"
                       + (f" · licence: {md(v['music_licence'])}" if v.get("music_licence") else " · no licence note"))
        st.caption("This video's row:")
        exports(row, f"video-{job}", key=f"row-{job}")
        if get_workbench().actor.can("make"):  # an analyst reads and downloads; deleting is an operator's
            _delete_popover(job)

    # Publishing first, always: where the video went (or the form that sends it) is what the operator checks.
    publish, script, scenes, quality, costs = st.tabs(["Publish", "Script", "Scenes", "Quality", "Costs"])
    acts = get_workbench().actor
    with publish:
        if acts.can("publish"):
            publish_panel(v)
        else:
            st.markdown(f"**{state}**{where}")
            st.caption(f"Your role ({acts.role}) reads; an operator publishes.")
    with scenes:
        show_scenes(get_workbench(), detail)
    with script:
        s = detail["script"]
        if v.get("job_status") == "review" and v.get("awaiting") == "script":
            st.info("A new script for this video waits for your review at the top of the Library.",
                    icon=":material/rate_review:")
        elif s and acts.can("make") and st.toggle("Edit the script", key=f"edit-script-{job}",
                           help="Change any sentence, heading, the title or the description; only the stages your "
                                "change touches are made again."):
            script_form(job, awaiting_script=False)
            versions(job)
        elif s:
            st.markdown(f"**Hook.** {md(s['hook'])}")
            for section in s["sections"]:
                st.markdown(f"**{md(section['heading'])}.** " + md(" ".join(section["sentences"])))
            st.markdown(f"**Call to action.** {md(s['call_to_action'])}")
            for note in s.get("notes", []):
                st.caption(f"Writer's note: {md(note)}")
            for ref in s.get("references") or []:  # where the sentences came from (each cites one in script.json)
                where = f" · {md(ref['location'])}" if ref.get("location") else ""
                st.caption(f"Source {md(ref['id'])}: {md(ref['title'])}{where}")
            with st.expander("Description and tags"):
                st.text(s["description"])
                st.markdown(md(", ".join(s["tags"])))
        with st.expander("Subtitles (SRT)"):
            st.code(detail["captions"] or "No subtitles recorded.", language=None)
    with quality:
        q = detail["quality"]
        if q:
            st.metric("Score", f"{q['score']:.0f}/100", delta=f"threshold {q['threshold']:.0f}", delta_color="off",
                      delta_arrow="off")
            checks = pl.DataFrame(q["checks"]).select("name", "passed", "score", "weight", "value", "target", "message")
            grid(checks, {"name": "Check", "passed": "Passed", "score": "Score (0-1)", "weight": "Weight",
                          "value": "Measured", "target": "Target", "message": "What it says"})
        else:
            st.info("Not scored yet.")
    with costs:
        breakdown = detail["costs"]
        st.metric("Total", usd(float(breakdown["usd"].sum()) if not breakdown.is_empty() else 0.0))
        grid(in_stage_order(breakdown) if "stage" in breakdown.columns else breakdown)
        exports(breakdown, f"video-{job}-costs", key=f"costs-{job}")
        runs_table(job)
        with st.expander("Events"):
            grid(detail["events"])


def metadata_preview(detail: dict) -> str | None:
    path = detail["files"].get("publish")
    if path and Path(path).exists():
        return json.dumps(json.loads(Path(path).read_text())["body"], indent=2)
    return None

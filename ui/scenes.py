"""The Library's scene view: what each scene shows, where it came from, how well it matched, and a swap."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from pipeline.config import ConfigError
from pipeline.jobs import InvalidTransition, JobNotFound
from pipeline.files import job_file
from pipeline.providers.base import ProviderError
from ui.text import md

MAX_LIBRARY_CHOICES = 200


def show_scenes(wb, detail: dict) -> None:
    job = detail["video"]["job_id"]
    found = detail["files"].get("scenes")
    if not found:
        st.info("This video was made before scenes existed: it is one slide per section.")
        return
    rows = json.loads(Path(found).read_text(encoding="utf-8"))["scenes"]
    footage = sum(r["kind"] != "slide" for r in rows)
    st.caption(f"{len(rows)} scenes: {footage} with footage or pictures, {len(rows) - footage} with slides. "
               "Swap a scene's visual and the video is rendered again (only the render and what follows it run).")
    library = [r[0] for r in wb.db.query("SELECT path FROM media_files ORDER BY path LIMIT ?", [MAX_LIBRARY_CHOICES])]
    shown = {(r.get("provider"), r.get("source_id")) for r in rows}
    paths = {r.get("path") for r in rows}
    for r in rows:
        with st.container(border=True):
            left, right = st.columns([1, 3])
            still = job_file(r.get("still"), wb.settings.jobs_dir, job)
            if still:
                left.image(str(still))
            score = "—" if r.get("score") is None else f"{r['score']:.2f}"
            right.markdown(f"**{r['start_s']:.1f}–{r['end_s']:.1f} s** · query *{md(r['query'])}* · "
                           f"{md(r['provider'])} ({md(r['kind'])}) · score {score}")
            right.caption(md(r["narration"]))
            if r.get("source_url") or r.get("author"):
                right.text(" · ".join(x for x in (r.get("author"), r.get("licence"), r.get("source_url")) if x))
            _swap(wb, job, r, library, right, shown, paths)


def _swap(wb, job: int, row: dict, library: list[str], where, shown: set[tuple], paths: set[str]) -> None:
    if not wb.actor.can("make"):  # an analyst sees each scene; swapping one is an operator's
        return
    # Not what this scene or another scene of the video shows: a video never shows the same footage twice.
    alternatives = [c for c in row.get("candidates") or [] if (c.get("provider"), c.get("source_id")) not in shown]
    library = [p for p in library if p not in paths]
    if not alternatives and not library:
        return
    with where.expander("Swap this scene's visual"):
        options = [("alt", i) for i in range(len(alternatives))] + [("lib", p) for p in library]

        def label(option) -> str:
            kind, value = option
            if kind == "alt":
                c = alternatives[value]
                return f"{c['provider']} · {c.get('score', 0):.2f} · {c['kind']} · {c.get('text', '')[:60]}"
            return f"library · {Path(value).name}"

        chosen = st.selectbox("New visual", options, format_func=label, key=f"swap-{job}-{row['idx']}")
        if st.button("Use it and render again", key=f"swap-go-{job}-{row['idx']}", icon=":material/autorenew:"):
            kind, value = chosen
            try:
                if kind == "alt":
                    wb.swap_scene(job, row["idx"], candidate=alternatives[value])
                else:
                    wb.swap_scene(job, row["idx"], library_path=value)
                st.success("Swapped: the video is being rendered again; follow it in Studio's queue.")
            except (ConfigError, ProviderError, InvalidTransition, JobNotFound) as exc:
                st.error(md(exc))

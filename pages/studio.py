"""Studio: start one video or a batch, see what it will cost, and watch the queue."""

from contextlib import nullcontext

import polars as pl
import streamlit as st

from pipeline.channels import CAPTION_STYLES, MAX_CHAIN, REVIEW_MODES, ChannelError
from pipeline.config import MAX_OUTLINE_CHARS, MAX_TOPIC_CHARS, ConfigError
from pipeline.providers import UnknownProvider
from pipeline.providers.base import BriefError
from pipeline.workbench import MAX_BATCH_LINES, VideoRequest
from ui.cache import read
from ui.queue import remember, show_queue
from ui.requests import another_copy, request_key
from ui.sources import offer_example, source_inputs
from ui.state import get_workbench
from ui.text import md
from ui.widgets import grid, usd

wb = get_workbench()
ERRORS = (BriefError, ConfigError, ChannelError, UnknownProvider)
st.title("Studio")
channels = read("channels")
names = channels["name"].to_list()
if not names:
    st.warning("There is no channel yet: create one on the Channels page first.")
    st.page_link("pages/channels.py", label="Go to Channels", icon=":material/groups:")
    st.stop()

one, batch = st.tabs(["One video", "Batch"])
with one:
    offer_example(read("job_count") == 0)
    topic = st.text_input("Topic", placeholder="Why octopuses are so smart", key="topic", max_chars=MAX_TOPIC_CHARS,
                          help=f"At most {MAX_TOPIC_CHARS} characters; put detail in the outline.")
    c = st.columns(3)
    channel = c[0].selectbox("Channel", names, key="channel")
    defaults = channels.filter(pl.col("name") == channel).row(0, named=True)
    duration = c[1].number_input("Duration (seconds)", 10, 1800, int(defaults["default_duration"]), 10, key="duration")
    fmt = c[2].radio("Format", ["landscape", "shorts"], horizontal=True, key="format",
                     index=0 if defaults["default_format"] == "landscape" else 1)
    outline = st.text_area("Outline (optional)", key="outline", height=120, max_chars=MAX_OUTLINE_CHARS,
                           help="Bullets or paragraphs: the script's substance, kept word for word. "
                                f"At most {MAX_OUTLINE_CHARS:,} characters.")
    visuals = st.text_input("Visuals chain (optional)", key="visuals", max_chars=MAX_CHAIN,
                            placeholder=defaults.get("visuals") or wb.settings.visuals,
                            help="Where each scene's picture comes from, best first, e.g. `library > pexels > slides`; "
                                 "empty: the channel's chain. Sources without a key or folder are skipped; "
                                 f"slides always work. At most {MAX_CHAIN} characters.").strip() or None
    specs, pasted = source_inputs(wb.settings.data_dir)
    c = st.columns(3)
    styles = ["channel's style", *CAPTION_STYLES]
    captions = c[0].selectbox("Captions", styles, key="captions",
                              help="sentence: clean subtitles; karaoke: the spoken word lit in the accent; pop: one to "
                                   "three words at a time, large (the Shorts style). Set the default on Channels.")
    captions = None if captions == styles[0] else captions
    music = c[1].checkbox("Background music", True, key="music",
                          help="A track from the channel's music folder (Channels page), ducked under the voice.")
    gates = ["channel", *REVIEW_MODES]
    review = c[2].selectbox("Review", gates, key="review",
                            format_func=lambda k: f"Channel's ({REVIEW_MODES.get(defaults.get('review') or 'auto')})"
                            if k == "channel" else REVIEW_MODES[k],
                            help="Stop for you after the script (nothing is voiced until you approve it in the "
                                 "Library), before publishing, or both. Set the default on Channels.")
    review = None if review == "channel" else review
    writer = (defaults.get("writer") or "local").replace(">", ",").split(",")[0].strip()
    if writer == "local" and not outline.strip() and not specs and not pasted.strip():
        st.warning("Without an outline or sources the local writer can only frame the question: the video would say "
                   "nothing about the topic, and the quality gate holds it. Add an outline or sources, or put an LLM "
                   "writer first in the channel's writer chain.", icon=":material/info:")
    # The estimate leaves the sources out: reading them (URLs are fetched) waits for "Make video".
    req = VideoRequest(topic or "estimate", channel=channel, duration_s=int(duration), format=fmt, outline=outline,
                       visuals=visuals)
    try:
        rows, total = wb.estimate(req)
        st.caption(f"Provider chain and estimated cost: **{usd(float(total))}** (cap {usd(wb.settings.cap_usd)})")
        grid(pl.DataFrame(rows).select("stage", "chain", "model", "unit", "quantity", "usd"),
             {"usd": "Estimate"})
    except ERRORS as exc:
        st.warning(f"Cannot estimate yet: {md(exc)}")
    key = request_key("studio", (topic, channel, int(duration), fmt, outline, visuals, tuple(specs), pasted,
                                 captions, music, review))
    if st.button("Make video", type="primary", icon=":material/play_arrow:"):
        try:
            with st.spinner("Reading the sources…") if specs or pasted.strip() else nullcontext():
                job_id, created = wb.submit(VideoRequest(topic, channel=channel, duration_s=int(duration), format=fmt,
                                                         outline=outline, visuals=visuals, request_key=key,
                                                         sources=specs, source_text=pasted, captions=captions,
                                                         music=music, review=review))
            remember(job_id)
            if created:
                st.success(f"Queued job #{job_id}: follow it in the queue below.")
            else:
                st.info(f"Already queued as job #{job_id}: the same request arrived twice, so nothing was added.")
                st.button("Make another copy", key="studio-copy", on_click=another_copy, args=("studio",),
                          help="Queue a second video from exactly the same inputs.")
        except ERRORS as exc:
            st.error(md(exc))

with batch:
    with st.form("batch"):
        lines = st.text_area("Topics, one a line", height=160, max_chars=MAX_BATCH_LINES * (MAX_TOPIC_CHARS + 1),
                             help=f"At most {MAX_BATCH_LINES} topics of {MAX_TOPIC_CHARS} characters each.")
        c = st.columns(3)
        b_channel = c[0].selectbox("Channel", names)
        b_duration = c[1].number_input("Duration (seconds)", 10, 1800, 60, 10)
        b_format = c[2].radio("Format", ["landscape", "shorts"], horizontal=True)
        if st.form_submit_button("Queue batch", type="primary"):
            key = request_key("batch", (lines, b_channel, int(b_duration), b_format))
            try:
                ids, errors = wb.enqueue_batch(lines.splitlines(), request_key=key, channel=b_channel,
                                               duration_s=int(b_duration), format=b_format)
                remember(*ids)
            except ERRORS as exc:
                ids, errors = [], [str(exc)]
            if ids:
                st.success(f"Queued {len(ids)} jobs: #{min(ids)}–#{max(ids)} (a batch sent twice is queued once).")
            for error in errors:
                st.error(md(error))
            if not ids and not errors:
                st.error("Write at least one topic, one a line.")

st.subheader("Queue")
st.fragment(show_queue, run_every=2)()

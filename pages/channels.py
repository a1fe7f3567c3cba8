"""Channels: create, edit and delete channels and their brand settings."""

import polars as pl
import streamlit as st

from pipeline.channels import (MAX_CHAIN, MAX_NAME, MAX_NICHE, REVIEW_MODES, ChannelError, ChannelInput,
                               channel_warnings)
from pipeline.media.draw import ColorError, parse_color
from pipeline.providers import EXAMPLES
from ui.cache import read
from ui.captions import show_captions
from ui.media import show_media_library
from ui.music import show_music
from ui.state import get_workbench
from ui.text import md
from ui.widgets import exports, grid
from ui.youtube import show_youtube

wb = get_workbench()
st.title("Channels")
channels = read("channels")


def colour(c: dict, field: str, default: str, label: str) -> str:
    """The stored colour as the picker takes it (#RRGGBB). One that is not a hex colour (a restored backup, an
    old row) is said, with what to do, and the picker starts from the default: never a silent swap."""
    value = c.get(field)
    if value is None:
        return default
    try:
        return "#%02X%02X%02X" % parse_color(value)
    except ColorError as exc:
        st.error(f"{label} of this channel: {md(exc)} The picker shows {default}: pick the colour you want and "
                 "save the channel.")
        return default


def channel_form(key: str, current: dict | None = None) -> ChannelInput | None:
    c = current or {}
    with st.form(key):
        a, b = st.columns(2)
        name = a.text_input("Name", c.get("name", ""), max_chars=MAX_NAME, help=f"At most {MAX_NAME} characters.")
        niche = b.text_input("Niche", c.get("niche", ""), max_chars=MAX_NICHE,
                             help=f"What the channel is about; used in calls to action. At most {MAX_NICHE} characters.")
        a, b, d = st.columns(3)
        language = a.text_input("Language", c.get("language", "en"), max_chars=12, help="A code such as en or en-US.")
        voice = b.text_input("Voice chain", c.get("voice", "piper"), max_chars=MAX_CHAIN,
                             help=f"Tried in order, e.g. '{EXAMPLES['voice']}'.")
        writer = d.text_input("Writer chain", c.get("writer", "local"), max_chars=MAX_CHAIN,
                              help=f"Tried in order, e.g. '{EXAMPLES['writer']}'.")
        visuals = st.text_input("Visuals chain", c.get("visuals", ""), max_chars=MAX_CHAIN,
                                placeholder=wb.settings.visuals,
                                help="Where each scene's picture comes from, tried in order, e.g. 'library > pexels > "
                                     "pixabay > slides'. Empty: the default from Settings. Slides always fit last.")
        a, b, d = st.columns(3)
        primary = a.color_picker("Primary colour", colour(c, "primary_color", "#1E2A44", "Primary colour"))
        accent = b.color_picker("Accent colour", colour(c, "accent_color", "#F2B632", "Accent colour"))
        text = d.color_picker("Text colour", colour(c, "text_color", "#FFFFFF", "Text colour"))
        a, b, d = st.columns(3)
        fmt = a.radio("Default format", ["landscape", "shorts"], index=0 if c.get("default_format", "landscape") == "landscape" else 1, horizontal=True)
        duration = b.number_input("Default duration (s)", 1, 3600, int(c.get("default_duration", 60)))
        kids = d.checkbox("Made for kids", bool(c.get("made_for_kids", False)),
                          help="YouTube requires this declaration for every upload.")
        modes = list(REVIEW_MODES)
        review = st.radio("Review", modes, modes.index(c.get("review") or "auto"), format_func=REVIEW_MODES.get,
                          horizontal=True, help="Automatic: videos run straight through. Review the script: each job "
                          "stops after its script, before any voice is paid for, until you approve it in the Library. "
                          "Review before publishing: each job stops after the quality gate until you publish it.")
        if st.form_submit_button("Save channel", type="primary"):
            captions = {k: c[k] for k in ("caption_style", "caption_font", "caption_size", "caption_outline",
                                          "caption_shadow") if c.get(k) is not None}  # kept: set on their own tab
            return ChannelInput(name, niche, language, voice, writer, primary, accent, text, fmt, int(duration), kids,
                                visuals, review=review, **captions)
    return None


def pick(key: str) -> dict | None:
    """The channel chosen in this tab, or None (with what to do) when there is none yet."""
    if channels.is_empty():
        st.info("No channels yet: create one in the first tab.")
        return None
    chosen = st.selectbox("Channel", channels["name"].to_list(), key=key)
    return channels.filter(channels["name"] == chosen).row(0, named=True)


def saved(message: str, data: ChannelInput) -> None:
    """Say it was saved, and what will not work yet with these settings."""
    st.success(message)
    for warning in channel_warnings(data, wb.settings):
        st.warning(md(warning))


if not wb.actor.can("channels"):  # analysts read: the list below, nothing to change
    st.caption(f"Your role ({wb.actor.role}) reads channels; an operator or owner changes them.")
else:
    create, edit, sound, youtube, media = st.tabs(["New channel", "Edit or delete", "Captions and music", "YouTube",
                                                    "Media library"])
    with media:
        show_media_library(wb)
    with create:
        data = channel_form("new-channel")
        if data:
            try:
                wb.create_channel(data)
                saved(f"Channel {md(repr(data.name))} created.", data)
            except ChannelError as exc:
                st.error(md(exc))
    with edit:
        current = pick("edit-channel")
        if current:
            chosen = current["name"]
            data = channel_form(f"edit-{current['id']}", current)
            if data:
                try:
                    wb.update_channel(current["id"], data)
                    saved("Saved.", data)
                except ChannelError as exc:
                    st.error(md(exc))
            outcome = st.container()  # what happened shows here, outside the popover
            with st.popover(f"Delete {md(chosen)}…", icon=":material/delete:"):
                st.caption("Its schedule goes and its YouTube access is revoked at Google. Its finished videos stay in "
                           "the Library and what they cost stays in the ledger. A channel with queued or running jobs "
                           "cannot be deleted: cancel them or let them finish first.")
                sure = st.checkbox(f"Yes, delete {md(chosen)}", key=f"delete-sure-{current['id']}")
                go = st.button(f"Delete {md(chosen)}", icon=":material/delete:", key="delete-channel", type="primary",
                               disabled=not sure)
            if go:
                try:
                    for note in wb.delete_channel(current["id"]):
                        outcome.info(md(note))
                    outcome.success(f"Deleted {md(chosen)}. Its finished videos stay in the Library.")
                except ChannelError as exc:
                    outcome.error(md(exc))

    with sound:
        current = pick("sound-channel")
        if current:
            st.subheader("Captions")
            show_captions(wb, current)
            st.subheader("Background music")
            show_music(wb, current)

    with youtube:
        show_youtube(read("channels"))  # again: a channel just deleted in the tab before is gone

st.subheader("All channels")
channels = read("channels")  # again: a channel created or deleted above shows at once
if channels.is_empty():
    st.info("No channels yet: create one in the **New channel** tab.")
else:
    grid(channels.with_columns(pl.col("review").fill_null("auto").replace_strict(REVIEW_MODES, default=None),
                               pl.col("visuals").fill_null("").replace("", f"default ({wb.settings.visuals})")),
         hide=["id"], labels={"voice": "Voice chain", "writer": "Writer chain", "visuals": "Visuals chain",
                              "videos": "Videos made"})
    exports(channels, "channels")

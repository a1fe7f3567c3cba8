"""Channels: create, edit and delete channels and their brand settings."""

import streamlit as st

from pipeline.channels import (MAX_CHAIN, MAX_NAME, MAX_NICHE, ChannelError, ChannelInput, channel_warnings,
                               create_channel, update_channel)
from pipeline.providers import EXAMPLES
from ui.cache import read
from ui.captions import show_captions
from ui.music import show_music
from ui.state import get_workbench
from ui.text import md
from ui.widgets import table
from ui.youtube import show_youtube

wb = get_workbench()
st.title("Channels")
channels = read("channels")


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
        primary = a.color_picker("Primary colour", c.get("primary_color", "#1E2A44"))
        accent = b.color_picker("Accent colour", c.get("accent_color", "#F2B632"))
        text = d.color_picker("Text colour", c.get("text_color", "#FFFFFF"))
        a, b, d = st.columns(3)
        fmt = a.radio("Default format", ["landscape", "shorts"], index=0 if c.get("default_format", "landscape") == "landscape" else 1, horizontal=True)
        duration = b.number_input("Default duration (s)", 1, 3600, int(c.get("default_duration", 60)))
        kids = d.checkbox("Made for kids", bool(c.get("made_for_kids", False)),
                          help="YouTube requires this declaration for every upload.")
        if st.form_submit_button("Save channel", type="primary"):
            captions = {k: c[k] for k in ("caption_style", "caption_font", "caption_size", "caption_outline",
                                          "caption_shadow") if c.get(k) is not None}  # kept: set on their own tab
            return ChannelInput(name, niche, language, voice, writer, primary, accent, text, fmt, int(duration), kids,
                                visuals, **captions)
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


create, edit, sound, youtube = st.tabs(["New channel", "Edit or delete", "Captions and music", "YouTube"])
with create:
    data = channel_form("new-channel")
    if data:
        try:
            create_channel(wb.db, data)
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
                update_channel(wb.db, current["id"], data)
                saved("Saved.", data)
            except ChannelError as exc:
                st.error(md(exc))
        sure = st.checkbox(f"Yes, delete {md(chosen)}: its schedule goes and its YouTube access is revoked at Google",
                           key=f"delete-sure-{current['id']}")
        if st.button(f"Delete {md(chosen)}", icon=":material/delete:", key="delete-channel", disabled=not sure):
            try:
                for note in wb.delete_channel(current["id"]):
                    st.info(md(note))
                st.success(f"Deleted {md(chosen)}. Its finished videos stay in the Library.")
            except ChannelError as exc:
                st.error(md(exc))

with sound:
    current = pick("sound-channel")
    if current:
        st.subheader("Captions")
        show_captions(wb, current)
        st.subheader("Background music")
        show_music(wb, current)

with youtube:
    show_youtube(channels)

st.subheader("All channels")
table(read("channels"), "channels")

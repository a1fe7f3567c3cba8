"""The Channels page's background music: a folder per channel, its tracks, and what the mix does with them."""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline.config import ConfigError
from ui.text import md
from ui.widgets import grid


def show_music(wb, channel: dict) -> None:
    from pipeline.media.music import music_folder, tracks

    st.caption("Background music from a folder of your own tracks (mp3, wav, flac, ogg, opus, m4a). Each video gets "
               "a track not heard in the channel's last five, looped or trimmed with fades, ducked under the voice "
               "while it speaks; the mix is normalised to -14 LUFS with peaks under -1 dBTP. A licence note beside a "
               "track (`song.mp3.txt`, or `LICENSE.txt` in the folder) is recorded with every video that uses it.")
    current = music_folder(wb.db, channel["id"])
    with st.form(f"music-{channel['id']}"):
        path = st.text_input("Music folder (a path on the machine the workbench runs on; empty: no music)",
                             str(current or ""), max_chars=1000,
                             help="At most 2,000 tracks, each at most 500 MB and 2 hours; tracks under 5 s are skipped.")
        if st.form_submit_button("Save and index", icon=":material/library_music:"):
            try:
                with st.spinner("Measuring the tracks' loudness…"):
                    st.success(md(wb.set_music_folder(channel["id"], path.strip() or None)))
                current = music_folder(wb.db, channel["id"])
            except ConfigError as exc:
                st.error(md(exc))
    rows = tracks(wb.db, channel["id"]) if current else []
    if rows:
        frame = pl.DataFrame(rows)
        keep = [c for c in ("title", "duration_s", "lufs", "licence") if c in frame.columns]
        grid(frame.select(keep), labels={"title": "Track", "licence": "Licence note"})
    elif current:
        st.info("The folder has no playable tracks yet: add some and save again.")
    else:
        st.info("No music for this channel: name a folder of your tracks above and save; its videos are "
                "narration only until then.")

"""The Settings page's media library: the operator's folders of pictures and clips, indexed for scenes."""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline.config import ConfigError
from ui.text import md
from ui.widgets import count, grid


def show_media_library(wb) -> None:
    from pipeline.media.library import library_folders

    st.caption("Folders of your own pictures and clips. Each file is indexed by its name and an optional caption "
               "file beside it (`clip.mp4.txt`, or `clip.json` with `caption` and `tags`), and scenes whose "
               "narration matches use it (the `library` step of a visuals chain). Files stay where they are.")
    folders = library_folders(wb.db)
    if folders:
        grid(pl.DataFrame(folders), labels={"images": "Pictures", "indexed_at": "Last indexed"})
    else:
        st.info("No folders yet: add one below and scenes whose narration matches a file use it.")
    with st.form("media-folder"):
        path = st.text_input("Add a folder (a path on the machine the workbench runs on)", max_chars=1000,
                             help="Up to 20,000 pictures (jpg, png, webp) and clips (mp4, mov, webm, mkv); files "
                                  "outside the folder (through links) are skipped.")
        if st.form_submit_button("Add and index", icon=":material/create_new_folder:") and path.strip():
            try:
                with st.spinner("Indexing…"):
                    st.success(md(wb.add_media_folder(path.strip())))
            except ConfigError as exc:
                st.error(md(exc))
    if folders:
        c = st.columns(2)
        if c[0].button("Index all folders again", icon=":material/sync:", help="Only what changed is read again."):
            with st.spinner("Indexing…"):
                for line in wb.reindex_media():
                    st.success(md(line))
        gone = c[1].selectbox("Remove a folder from the library", [None, *[f["path"] for f in folders]],
                              format_func=lambda p: "—" if p is None else p, key="media-remove")
        if gone and c[1].button("Remove", key="media-remove-go", icon=":material/folder_off:"):
            st.success(f"Removed {count(wb.remove_media_folder(gone))} files of {md(gone)} from the library "
                       "(the files themselves are untouched).")

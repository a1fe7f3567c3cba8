"""The Studio's sources: files, URLs and pasted text the local writer takes every fact from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from pipeline.files import private_dir
from pipeline.sources import FILE_KINDS, MAX_FILE_BYTES, MAX_SOURCE_CHARS, MAX_SOURCES

EXAMPLE_TOPIC = "Octopus intelligence"
EXAMPLE_SOURCE = Path(__file__).resolve().parent.parent / "data" / "examples" / "octopus.md"


def use_example() -> None:
    """Fill the form with the example that ships with the project (a true, sourced first video)."""
    st.session_state["topic"] = EXAMPLE_TOPIC
    st.session_state["example-source"] = True


def offer_example(first_video: bool) -> None:
    """On a fresh install, offer the example: a topic and a short source written for the project."""
    if not first_video or not EXAMPLE_SOURCE.exists() or st.session_state.get("example-source"):
        return
    st.info("First video? Try the example: a 45-second video on octopus intelligence whose every fact comes from "
            f"a short source that ships with the project (`data/examples/{EXAMPLE_SOURCE.name}`).",
            icon=":material/lightbulb:")
    st.button("Use the example", on_click=use_example, icon=":material/auto_awesome:", key="use-example")


def source_inputs(data_dir: Path) -> tuple[list[str], str]:
    """The sources the operator gives: (file paths and URLs, pasted text). Uploads are kept under the data
    directory by content, so a rerun or a retry reads the same file."""
    specs: list[str] = []
    with st.expander("Sources (the facts come from here)", expanded=bool(st.session_state.get("example-source"))):
        st.caption("The local writer builds the script from these sentences, kept word for word and each credited "
                   f"in the description; an LLM writer is told to stay within them. At most {MAX_SOURCES} sources, "
                   f"each at most {MAX_SOURCE_CHARS:,} characters of text and {MAX_FILE_BYTES // 2**20} MB.")
        if st.session_state.get("example-source"):
            keep = st.checkbox(f"Example source: {EXAMPLE_SOURCE.name}", value=True, key="example-keep")
            if keep:
                specs.append(str(EXAMPLE_SOURCE))
        files = st.file_uploader("Files", type=[k.lstrip(".") for k in FILE_KINDS], accept_multiple_files=True,
                                 key="source-files", help="Text, Markdown, HTML or PDF (with a text layer).")
        for upload in files or []:
            data = upload.getvalue()
            if len(data) > MAX_FILE_BYTES:
                st.error(f"{upload.name} is {len(data) / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB.")
                continue
            folder = private_dir(data_dir / "sources")
            path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}-{Path(upload.name).name}"
            if not path.exists():
                path.write_bytes(data)
            specs.append(str(path))
        urls = st.text_area("URLs, one a line", key="source-urls", height=68, max_chars=MAX_SOURCES * 2100,
                            help="Fetched when the video is queued; the page's main text is kept (trafilatura).")
        specs += [u.strip() for u in urls.splitlines() if u.strip()]
        pasted = st.text_area("Pasted text", key="source-text", height=100, max_chars=MAX_SOURCE_CHARS)
    return specs, pasted

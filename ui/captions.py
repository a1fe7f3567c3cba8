"""The Channels page's captions: style, font, size, outline and shadow, with a live preview rendered by libass."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import streamlit as st

from pipeline.channels import CAPTION_STYLES, ChannelError, ChannelInput
from pipeline.providers.base import Brand
from pipeline.media.draw import ColorError
from ui.text import md

log = logging.getLogger(__name__)

STYLE_HELP = {"sentence": "clean subtitles, a sentence at a time",
              "karaoke": "the line shown, the word being spoken lit in the accent colour",
              "pop": "one to three large words at a time, centred (the Shorts look)"}


@st.cache_data(max_entries=64, show_spinner=False)
def preview(style: str, font: str, size: int, outline: int, shadow: int, colours: tuple[str, str, str],
            fmt: str) -> bytes:
    """One real frame of the captions over the brand's background (PNG bytes), cached per option set."""
    from pipeline.config import FORMATS
    from pipeline.media.captions import CaptionStyle, preview_png

    brand = Brand("preview", *colours)
    channel = {"caption_style": style, "caption_font": font, "caption_size": size, "caption_outline": outline,
               "caption_shadow": shadow}
    frame = FORMATS[fmt]
    small = (frame[0] // 2, frame[1] // 2)  # half size: the same layout (it scales), a quarter of the pixels
    with tempfile.TemporaryDirectory(prefix="caption-preview-") as tmp:
        out = preview_png(CaptionStyle.from_channel(channel, brand), brand, small, Path(tmp) / "preview.png")
        return out.read_bytes()


def show_captions(wb, current: dict) -> None:
    from pipeline.media.captions import EDGE_RANGE, SIZE_RANGE, available_fonts

    st.caption("How the narration's words are burned into this channel's videos. Word times come from the voice "
               "itself, so the highlight follows the speech exactly; colours come from the brand. The SRT goes to "
               "YouTube as a caption track and a WebVTT with word timing is kept beside every video.")
    cid = current["id"]
    left, right = st.columns([1, 1])
    style = left.radio("Style", CAPTION_STYLES, index=CAPTION_STYLES.index(current.get("caption_style") or "sentence"),
                       format_func=lambda s: f"{s}: {STYLE_HELP[s]}", key=f"cap-style-{cid}")
    fonts = ["", *available_fonts()]
    font = left.selectbox("Font", fonts, index=fonts.index(current.get("caption_font") or "")
                          if (current.get("caption_font") or "") in fonts else 0,
                          format_func=lambda f: f or "Default (the best font for the script)", key=f"cap-font-{cid}")
    size = left.slider("Size (%)", *SIZE_RANGE, int(current.get("caption_size") or 100), 5, key=f"cap-size-{cid}")
    outline = left.slider("Outline (px)", *EDGE_RANGE, int(current.get("caption_outline", 4)), key=f"cap-outline-{cid}")
    shadow = left.slider("Shadow (px)", *EDGE_RANGE, int(current.get("caption_shadow", 2)), key=f"cap-shadow-{cid}")
    fmt = right.radio("Preview format", ["shorts", "landscape"], horizontal=True, key=f"cap-fmt-{cid}",
                      index=0 if current.get("default_format") == "shorts" else 1)
    colours = (current["primary_color"], current["accent_color"], current["text_color"])
    try:
        right.image(preview(style, font, size, outline, shadow, colours, fmt),
                    caption="Preview: one real frame, mid-sentence (karaoke and pop light the word being "
                            "spoken); captions stay inside the platform's safe area.")
    except ColorError as exc:  # a stored colour that is not one: said, with what to do
        right.warning(f"No preview: {md(exc)} Fix the colour on the **Edit or delete** tab and save the channel.")
    except Exception:  # noqa: BLE001 - a preview that cannot render must not hide the form
        log.exception("caption preview failed")
        right.warning("No preview: this frame could not be drawn (the details are in the workbench's log). The "
                      "captions can still be saved; a video's render reports its own errors.")
    if st.button("Save captions", type="primary", key=f"cap-save-{cid}", icon=":material/save:"):
        fields = {f: current[f] for f in ChannelInput.__dataclass_fields__ if f in current}
        data = replace(ChannelInput(**fields), caption_style=style, caption_font=font, caption_size=int(size),
                       caption_outline=int(outline), caption_shadow=int(shadow))
        try:
            wb.update_channel(cid, data)
            st.success("Captions saved: the next videos use them.")
        except ChannelError as exc:
            st.error(md(exc))

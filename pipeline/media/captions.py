"""Captions: burned-in ASS in three styles, and the SRT and WebVTT tracks uploaded beside the video.

Styles: ``sentence`` (a sentence in screens of lines, the classic subtitle), ``karaoke`` (the line on
screen with the spoken word lit in the brand accent) and ``pop`` (one to three large words at a time,
centred: the Shorts look). Times come from the voice's word timings (``Cue.words``); a cue without them
(a job made before word timings) shares its sentence span among its words by characters.

Lines are wrapped by their measured width with the very fonts libass will use (per-glyph fallback,
:mod:`pipeline.media.fonts`), so no caption leaves its format's safe area (:func:`safe_area`): the
title-safe area on 16:9, and on 9:16 clear of the Shorts UI (the bottom caption/description zone, the
action rail on the right, the top bar). The subtitles filter must be given ``fontsdir=fonts.fonts_dir()``.

This module is the public face; the work is done in caption_style (options), caption_text (words as
tokens), caption_layout (wrapping, timing, placement, ASS events) and caption_files (the writers).
"""

from pipeline.media.caption_files import (ass_time, preview_png, sample_cues, srt_time, vtt_time, write_ass,
                                          write_srt, write_vtt)
from pipeline.media.caption_layout import (BOX_COLOUR, CLAUSE_END, HOLD_S, LIT_BRIDGE_S, PAUSE_S, SHADOW_COLOUR, Event, Geometry,
                                           ass_colour, ass_escape, box_padding, coverage, display, events, geometry,
                                           measure, safe_area, screens)
from pipeline.media.caption_style import (EDGE_RANGE, SIZE_RANGE, STYLES, CaptionStyle, available_fonts,
                                          validate_caption_options)

__all__ = ["BOX_COLOUR", "CLAUSE_END", "EDGE_RANGE", "HOLD_S", "LIT_BRIDGE_S", "PAUSE_S", "SHADOW_COLOUR", "SIZE_RANGE", "STYLES",
           "CaptionStyle", "Event", "Geometry", "ass_colour", "ass_escape", "ass_time", "available_fonts",
           "box_padding", "coverage", "display", "events", "geometry", "measure", "preview_png", "safe_area",
           "sample_cues", "screens", "srt_time", "validate_caption_options", "vtt_time", "write_ass", "write_srt",
           "write_vtt"]

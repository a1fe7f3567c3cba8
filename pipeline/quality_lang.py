"""Quality checks on language and lettering: the voice speaks the script's language, and every character
shown on screen has a glyph. Both are blocking: a video that fails either is held whatever its score,
because no other strength makes up for narration in the wrong language or captions made of boxes.
"""

from __future__ import annotations

from pipeline.languages import base, detect, name
from pipeline.quality import Check

MIN_CONFIDENCE = 0.8  # below this the detector is unsure (short or mixed text): no verdict


def check_language(text: str, voice_language: str | None, channel_language: str | None) -> Check:
    """The script's detected language against the voice's (and the channel's)."""
    voice = base(voice_language or channel_language)
    channel = base(channel_language)
    detected, confidence = detect(text)
    value = f"text {name(detected) if detected else 'unknown'} ({confidence:.0%}), voice {name(voice)}"
    target = f"{name(channel)} text and voice"
    if voice != channel:
        return Check("language", 0.0, 10, value, target,
                     f"the voice speaks {name(voice)} but the channel's language is {name(channel)}: choose a voice "
                     "that speaks it in the channel's voice chain", blocking=True)
    if detected and confidence >= MIN_CONFIDENCE and detected != voice:
        return Check("language", 0.0, 10, value, target,
                     f"the script reads as {name(detected)} but the voice speaks {name(voice)}: write the script in "
                     f"{name(voice)} (an outline or sources in that language, or an LLM writer), or change the "
                     "channel's language and voice", blocking=True)
    return Check("language", 1.0, 10, value, target, "the voice speaks the script's language")


def check_glyphs(texts: dict[str, str]) -> Check:
    """Every character of the text drawn on screen (title, slides, captions) has a glyph in some shipped font."""
    from pipeline.media.fonts import missing_glyphs

    missing: dict[str, set[str]] = {}
    for where, text in texts.items():
        gone = missing_glyphs(text or "")
        if gone:
            missing[where] = gone
    if not missing:
        return Check("glyphs", 1.0, 10, "all characters drawable", "no missing glyphs",
                     "every character on screen has a glyph")
    chars = sorted(set().union(*missing.values()))
    shown = " ".join(f"{c} (U+{ord(c):04X})" for c in chars[:8]) + (" …" if len(chars) > 8 else "")
    return Check("glyphs", 0.0, 10, f"{len(chars)} characters without a glyph", "no missing glyphs",
                 f"{', '.join(missing)} would show empty boxes for {shown}: remove those characters, or run "
                 "`make setup` to install the fonts", blocking=True)

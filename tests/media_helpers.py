"""Small real inputs for render tests: slides drawn by the product, a tone as narration."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from pipeline.media.slides import render_slides
from pipeline.providers.base import Brand, Cue, Slide
from pipeline.script import Block


def tone_wav(path: Path, seconds: float, rate: int = 22050, freq: float = 220.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def three_slides(tmp: Path, size=(1920, 1080)) -> tuple[list[Slide], list[Cue], float]:
    blocks = [Block("hook", "A title", ["Hello there."]), Block("section-1", "A section", ["Point one.", "Point two."]),
              Block("cta", "A title", ["Subscribe."])]
    paths = render_slides(blocks, {"section-1": ["one", "two"]}, Brand("Test"), size, tmp / "slides")
    cues = [Cue(0.3, 1.2, "Hello there.", "hook"), Cue(1.6, 2.4, "Point one.", "section-1"),
            Cue(2.6, 3.3, "Point two.", "section-1"), Cue(3.7, 4.3, "Subscribe.", "cta")]
    return [Slide(p, b.key) for p, b in zip(paths, blocks)], cues, 4.8

"""Slide visuals: one Pillow-drawn image per script block, in the channel's colours."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.costs import Usage
from pipeline.media.slides import render_slides
from pipeline.providers.base import Brand, Slide
from pipeline.script import Script

MODEL = "pillow-v1"


class SlideVisuals:
    name = "slides"
    model = MODEL

    @staticmethod
    def check(settings: object) -> str | None:
        from pipeline.media.draw import BOLD, REGULAR
        missing = [p.name for p in (BOLD, REGULAR) if not p.exists()]
        return f"fonts missing: {', '.join(missing)}" if missing else None

    def estimate(self, duration_s: float, words: int) -> list[Usage]:
        return [Usage(self.name, MODEL, "slides", float(2 + max(1, round(duration_s / 25))))]

    def render(self, script: Script, brand: Brand, size: tuple[int, int], out_dir: Path) -> tuple[list[Slide], list[Usage]]:
        started = time.perf_counter()
        blocks = script.blocks()
        bullets = {f"section-{i}": s.bullets for i, s in enumerate(script.sections, start=1)}
        paths = render_slides(blocks, bullets, brand, size, out_dir)
        slides = [Slide(p, b.key) for p, b in zip(paths, blocks)]
        return slides, [Usage(self.name, MODEL, "slides", float(len(slides)), time.perf_counter() - started)]

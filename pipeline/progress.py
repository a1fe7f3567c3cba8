"""Stage progress as fractions 0..1: shares of a whole, never going back.

A stage is given one ``progress(fraction)`` callback by the worker (``ctx.progress``). Its steps report
into slices of it (:func:`share`), and :func:`rising` keeps what reaches the worker monotonic: a voice
that falls back to the next one in its chain, or a retried chunk, waits at the mark already shown
instead of pulling the bar back. A voice reports by the characters it has spoken (:func:`spoken_share`),
so a long sentence moves the bar more than a short one.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable

Progress = Callable[[float], None]


def _quiet(fraction: float) -> None:
    return None


def rising(progress: Progress | None) -> Progress:
    """``progress`` that only ever hears a higher fraction, clamped to 0..1 (None: a callback that does nothing)."""
    if progress is None:
        return _quiet
    lock = threading.Lock()
    shown = [-1.0]

    def report(fraction: float) -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        with lock:
            if fraction <= shown[0]:
                return
            shown[0] = fraction
        progress(fraction)

    return report


def share(progress: Progress | None, start: float, span: float) -> Progress | None:
    """A callback for one step that owns ``[start, start + span]`` of the whole (None stays None)."""
    if progress is None:
        return None
    return lambda fraction: progress(start + span * min(1.0, max(0.0, fraction)))


def spoken_share(blocks: list[tuple[str, list[str]]], progress: Progress | None) -> Callable[[str], None]:
    """Call the result with each sentence once it is spoken: ``progress`` hears the share of the script's
    characters spoken so far (sentences of whitespace count for nothing)."""
    total = sum(len(s.strip()) for _, sentences in blocks for s in sentences)
    done = [0]

    def spoken(sentence: str) -> None:
        done[0] += len(sentence.strip())
        if progress is not None and total:
            progress(min(1.0, done[0] / total))

    return spoken


def takes_progress(fn: Callable) -> bool:
    """Whether ``fn`` accepts a ``progress`` keyword (providers written before progress existed do not)."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "progress" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())

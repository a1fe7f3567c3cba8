"""The provider registry: plain dicts from a name to a factory, one per capability.

Factories take the Settings, so a provider gets its configuration passed in.
Vendor SDKs are imported inside each provider module, only when it is chosen.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pipeline.config import Settings

WRITERS = {"local": "pipeline.providers.local_writer:LocalWriter"}
VOICES = {"piper": "pipeline.providers.piper_voice:PiperTTS"}
VISUALS = {"slides": "pipeline.providers.slides:SlideVisuals"}
PUBLISHERS = {"outbox": "pipeline.providers.outbox:OutboxPublisher"}

REGISTRY = {"writer": WRITERS, "voice": VOICES, "visuals": VISUALS, "publisher": PUBLISHERS}


class UnknownProvider(ValueError):
    pass


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def make(kind: str, name: str, settings: Settings) -> Any:
    """An instance of provider ``name`` for capability ``kind``, or a clear error naming the known ones."""
    table = REGISTRY.get(kind)
    if table is None:
        raise UnknownProvider(f"Unknown capability {kind!r}: use one of {', '.join(REGISTRY)}.")
    if name not in table:
        raise UnknownProvider(f"Unknown {kind} provider {name!r}: known {kind} providers are {', '.join(sorted(table))}.")
    cls = _load(table[name])
    factory = getattr(cls, "from_settings", None)
    return factory(settings) if factory else cls()


def first_in_chain(chain: str) -> str:
    """The first provider of a comma- or '>'-separated chain such as 'gpt-4.1-mini,local'."""
    names = [n.strip() for n in chain.replace(">", ",").split(",") if n.strip()]
    if not names:
        raise UnknownProvider("The provider chain is empty.")
    return names[0]


def status(settings: Settings) -> list[dict]:
    """Every registered provider: usable or not, and why not (never a secret)."""
    out = []
    for kind, table in REGISTRY.items():
        for name, target in table.items():
            try:
                cls = _load(target)
                why = cls.check(settings) if hasattr(cls, "check") else None
            except Exception as exc:  # noqa: BLE001 - a broken provider is reported, not raised
                why = f"cannot load: {exc}"
            out.append({"capability": kind, "provider": name, "usable": why is None, "why_not": why or ""})
    return out

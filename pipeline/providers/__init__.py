"""The provider registry: plain dicts from a family name to its class, one per capability,
and the parsing of provider chains such as ``gpt-4.1 > gpt-4.1-mini > local``.

A chain item names a family and, optionally, a variant: ``local``, ``piper``,
``gpt-4.1-mini`` (an OpenAI model), ``openai:llama3.1`` (any model of an OpenAI-compatible
server), ``google-neural2`` (a Google voice tier), ``elevenlabs`` or
``elevenlabs:eleven_flash_v2_5``. Classes are imported only when chosen, so a vendor
SDK is loaded only by the provider that uses it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pipeline.config import Settings

WRITERS = {"local": "pipeline.providers.local_writer:LocalWriter",
           "openai": "pipeline.providers.openai_writer:OpenAIWriter"}
VOICES = {"piper": "pipeline.providers.piper_voice:PiperTTS",
          "google": "pipeline.providers.google_tts:GoogleTTSVoice",
          "elevenlabs": "pipeline.providers.elevenlabs_voice:ElevenLabsVoice"}
VISUALS = {"slides": "pipeline.providers.slides:SlideVisuals",
           "library": "pipeline.media.library:LibrarySource",
           "pexels": "pipeline.providers.pexels:PexelsSource",
           "pixabay": "pipeline.providers.pixabay:PixabaySource",
           "openai-image": "pipeline.providers.openai_image:OpenAIImageSource"}
PUBLISHERS = {"outbox": "pipeline.providers.outbox:OutboxPublisher"}

REGISTRY = {"writer": WRITERS, "voice": VOICES, "visuals": VISUALS, "publisher": PUBLISHERS}
EXAMPLES = {"writer": "gpt-4.1-mini > local", "voice": "google-neural2 > google-standard > piper",
            "visuals": "library > pexels > pixabay > slides"}


class UnknownProvider(ValueError):
    pass


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def chain_items(chain: str) -> list[str]:
    """The items of a chain written with '>' or ',' between them."""
    items = [n.strip() for n in (chain or "").replace(">", ",").split(",") if n.strip()]
    if not items:
        raise UnknownProvider("The provider chain is empty.")
    return items


def first_in_chain(chain: str) -> str:
    return chain_items(chain)[0]


def parse_item(kind: str, item: str) -> tuple[str, str | None]:
    """(family, variant) of one chain item, or a clear error naming the known families."""
    table = REGISTRY.get(kind)
    if table is None:
        raise UnknownProvider(f"Unknown capability {kind!r}: use one of {', '.join(REGISTRY)}.")
    item = item.strip()
    if ":" in item:
        family, variant = item.split(":", 1)
    elif kind == "writer" and item.lower().startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
        family, variant = "openai", item
    elif kind == "voice" and item.startswith("google-"):
        family, variant = "google", item[len("google-"):]
    else:
        family, variant = item, None
    if kind == "voice" and family == "local":
        family = "piper"
    if family not in table:
        raise UnknownProvider(f"Unknown {kind} provider {item!r}: known {kind} providers are {', '.join(sorted(table))}"
                              + (f" (a chain looks like '{EXAMPLES[kind]}')" if kind in EXAMPLES else "") + ".")
    return family, variant or None


def provider_class(kind: str, item: str) -> type:
    family, _ = parse_item(kind, item)
    return _load(REGISTRY[kind][family])


def make(kind: str, item: str, settings: Settings) -> Any:
    """An instance of the provider a chain item names."""
    family, variant = parse_item(kind, item)
    cls = _load(REGISTRY[kind][family])
    factory = getattr(cls, "from_settings", None)
    if factory is None:
        return cls()
    return factory(settings, variant) if variant is not None else factory(settings)


def status(settings: Settings) -> list[dict]:
    """Every registered provider family: usable or not, and why not (never a secret)."""
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

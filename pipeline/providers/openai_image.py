"""Pictures generated with OpenAI's image models (``gpt-image-1``), through the openai SDK.

The last resort of a visuals chain, and the only paid one: :meth:`search` is free and offers one
candidate (the photographic prompt made from the scene's query), :meth:`fetch` makes the billed
call, priced per image by quality and size (``image_medium_1536x1024``) plus the prompt's text
tokens when the answer reports them. A prompt already generated at that model, quality and size
is found in the media cache and never paid for twice (a resumed job, a second video).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from pathlib import Path

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.media.cache import MAX_IMAGE_BYTES, download_into, store_bytes
from pipeline.providers.base import Candidate, MediaStore, ProviderError, TransientError
from pipeline.providers.http import clean_query, client, credits, orientation, redact

SIZES = {"landscape": (1536, 1024), "portrait": (1024, 1536), "square": (1024, 1024)}
QUALITIES = ("low", "medium", "high")
GENERATE_TIMEOUT_S = 300.0  # high-quality images can take over a minute; the call is tried once (see _client)
PROMPT_TOKENS = 60  # a prompt from a 1-3 word query is ~45 text tokens: what the guard allows for
REFUSED = {"moderation_blocked", "content_policy_violation"}
OUT_OF_CREDIT = {"insufficient_quota", "billing_hard_limit_reached"}
LICENCE = "AI-generated (OpenAI); no attribution required"


def image_prompt(query: str, size: tuple[int, int]) -> str:
    """A photographic description of the scene's subject. No narration: ranking reads that separately."""
    framing = {"portrait": "vertical", "landscape": "wide", "square": "square"}[orientation(size)]
    return (f"A realistic documentary photograph of {clean_query(query)}. Natural light, sharp focus, "
            f"{framing} framing with the subject clearly visible. No text, letters, logos or watermarks.")


def sniff(data: bytes) -> str | None:
    """The extension of an image's bytes (PNG, JPEG or WebP), or None when they are not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


class OpenAIImageSource:
    """SceneSource that generates one picture per scene with an OpenAI image model."""

    name = "openai-image"
    generative = True  # every scene may have its own picture of the same prompt (see visuals.Picker._ranked)

    def __init__(self, settings: Settings, model: str | None = None, quality: str | None = None):
        self.settings = settings
        self.model = model or settings.openai_image_model
        self.quality = quality or settings.openai_image_quality

    @classmethod
    def from_settings(cls, settings: Settings, variant: str | None = None) -> OpenAIImageSource:
        return cls(settings, model=variant)

    @staticmethod
    def check(settings: Settings) -> str | None:
        if settings.openai_api_key is None and not settings.openai_base_url:
            return "OPENAI_API_KEY is not set (or set OPENAI_BASE_URL to an OpenAI-compatible server)"
        if settings.openai_image_quality not in QUALITIES:
            return f"YTEMPIRE_OPENAI_IMAGE_QUALITY must be one of {', '.join(QUALITIES)}"
        return None

    @staticmethod
    def model_size(size: tuple[int, int]) -> tuple[int, int]:
        """The model's size closest in shape to a video of ``size``."""
        return SIZES[orientation(size)]

    def unit(self, size: tuple[int, int]) -> str:
        w, h = self.model_size(size)
        return f"image_{self.quality}_{w}x{h}"

    def estimate(self, images: int, size: tuple[int, int]) -> list[Usage]:
        """What generating ``images`` pictures for a video of ``size`` costs at most, for the budget guard."""
        return [Usage("openai", self.model, self.unit(size), float(images)),
                Usage("openai", self.model, "input_tokens", float(images * PROMPT_TOKENS))]

    def search(self, query: str, size: tuple[int, int], limit: int = 15) -> tuple[list[Candidate], list[Usage]]:
        """One candidate, not yet generated: its text is the prompt. Free: nothing is sent."""
        if not clean_query(query):
            return [], []
        prompt = image_prompt(query, size)
        w, h = self.model_size(size)
        digest = hashlib.sha256(f"{self.model}|{self.quality}|{w}x{h}|{prompt}".encode()).hexdigest()[:32]
        return [Candidate(provider=self.name, source_id=f"gen:{digest}", kind="image", text=prompt, width=w, height=h,
                          author=f"OpenAI {self.model}", licence=LICENCE)], []

    def _client(self):
        import openai

        key = self.settings.openai_api_key.get_secret_value() if self.settings.openai_api_key else "not-needed"
        # No retries inside the SDK: a generation that timed out may have been billed, and a resend would be
        # billed again unseen. One try, with time for a slow high-quality image; the picker decides what next.
        return openai.OpenAI(api_key=key, base_url=self.settings.openai_base_url or None,
                             timeout=self._timeout(), max_retries=0)

    def _timeout(self) -> float:
        return max(self.settings.request_timeout_s, GENERATE_TIMEOUT_S)

    def fetch(self, candidate: Candidate, cache: MediaStore) -> tuple[Path, list[Usage]]:
        """The candidate's picture: from the media cache when this prompt was made before (free),
        else generated (the paid call) into it. A failure after the image was billed carries its usage."""
        if candidate.provider != self.name:
            raise ProviderError(f"openai-image cannot fetch a {candidate.provider} candidate", provider=self.name)
        found = cache.get(self.name, candidate.source_id)
        if found is not None:
            return found, []
        started = time.perf_counter()
        unit = f"image_{self.quality}_{candidate.width}x{candidate.height}"
        try:
            response = self._generate(candidate)
        except ProviderError as exc:
            import openai
            if isinstance(exc.__cause__, openai.APITimeoutError):  # sent, maybe made and billed: counted as billed
                exc.usage = [Usage("openai", self.model, unit, 1.0, time.perf_counter() - started),  # type: ignore[attr-defined]
                             Usage("openai", self.model, "input_tokens", float(PROMPT_TOKENS))]
            raise
        usage = [Usage("openai", self.model, unit, 1.0, time.perf_counter() - started)]
        tokens = getattr(getattr(response, "usage", None), "input_tokens", None)
        if tokens:
            usage.append(Usage("openai", self.model, "input_tokens", float(tokens)))
        try:
            return self._store(response, candidate, cache), usage
        except BaseException as exc:  # the picture was billed whatever became of it
            exc.usage = list(usage)  # type: ignore[attr-defined]
            raise

    def _generate(self, candidate: Candidate):
        import openai

        try:
            return self._client().images.generate(model=self.model, prompt=candidate.text, n=1, quality=self.quality,
                                                  size=f"{candidate.width}x{candidate.height}")
        except openai.AuthenticationError as exc:
            raise self._error(ProviderError, "the API key was rejected: check OPENAI_API_KEY") from exc
        except openai.PermissionDeniedError as exc:
            raise self._error(ProviderError, f"this key may not use {self.model} (OpenAI asks organisations to "
                                             "verify before using image models)") from exc
        except openai.RateLimitError as exc:
            if exc.code in OUT_OF_CREDIT:
                raise self._error(ProviderError, f"the OpenAI account is out of credit ({exc.code})") from exc
            raise self._error(TransientError, "rate limited (429)") from exc
        except openai.APITimeoutError as exc:
            raise self._error(TransientError, f"no image within {self._timeout():.0f} s (counted as billed: "
                                              "OpenAI may have made it)") from exc
        except (openai.InternalServerError, openai.APIConnectionError) as exc:
            kind = type(exc).__name__.replace("Error", "")
            raise self._error(TransientError, f"{kind}: {self._message(exc) if hasattr(exc, 'body') else exc}") from exc
        except openai.BadRequestError as exc:
            message = self._message(exc)
            if exc.code in REFUSED or "safety" in message.lower():
                raise self._error(ProviderError, f"OpenAI refused the image prompt ({message}); change the "
                                                 "scene's query or use another source") from exc
            raise self._error(ProviderError, f"the server refused the request (400): {message}") from exc
        except openai.APIStatusError as exc:
            raise self._error(ProviderError, f"the server refused the request ({exc.status_code}): "
                                             f"{self._message(exc)}") from exc

    def _store(self, response, candidate: Candidate, cache: MediaStore) -> Path:
        item = response.data[0] if getattr(response, "data", None) else None
        meta = {**credits(candidate), "model": self.model, "quality": self.quality,
                "revised_prompt": getattr(item, "revised_prompt", None)}
        if item is not None and item.b64_json:
            try:
                data = base64.b64decode(item.b64_json, validate=True)
            except (binascii.Error, ValueError):
                raise self._error(ProviderError, f"{self.model} answered an image that is not valid base64") from None
            ext = sniff(data)
            if ext is None or len(data) > MAX_IMAGE_BYTES:
                raise self._error(ProviderError, f"{self.model} answered something that is not a usable image")
            return store_bytes(cache, self.name, candidate.source_id, data, ext, meta)
        if item is not None and item.url:  # DALL-E and some compatible servers answer a (signed) link
            with client(self.settings.request_timeout_s) as http:
                return download_into(cache, self.name, candidate.source_id, item.url, http, MAX_IMAGE_BYTES, meta,
                                     expect="image")
        raise self._error(ProviderError, f"{self.model} answered without an image")

    @staticmethod
    def _message(exc) -> str:
        body = exc.body if isinstance(getattr(exc, "body", None), dict) else {}
        return redact(body.get("message") or exc.message)

    def _error(self, kind: type[ProviderError], message: str) -> ProviderError:
        exc = kind(message, provider=self.name)
        exc.usage = []  # type: ignore[attr-defined]  # nothing billed yet; fetch adds it once an image was
        return exc

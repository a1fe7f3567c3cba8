"""Narration with ElevenLabs, sentence by sentence for exact subtitle timings.

Audio comes back as raw 16-bit PCM (``pcm_22050``), so each sentence's length is exact.
Characters are priced by model; the response's ``character-cost`` header, when present,
is what was billed and is what the ledger records.

Word timings: each sentence goes to the with-timestamps endpoint, which answers JSON with
the audio (base64) and the start and end of every character of the text sent; the
characters are grouped back into the script's words (``words.character_spans``).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.progress import spoken_share
from pipeline.providers.audio import assemble
from pipeline.providers.base import Narration, ProviderError, TransientError
from pipeline.providers.words import character_spans, estimated_spans, script_words

SAMPLE_RATE = 22050
DEFAULT_MODEL = "eleven_multilingual_v2"


class ElevenLabsVoice:
    name = "elevenlabs"
    free_retime = False

    def __init__(self, model: str, settings: Settings, voice_id: str | None = None):
        self.model, self.settings = model, settings
        self.voice_id = voice_id or settings.elevenlabs_voice_id

    @classmethod
    def from_settings(cls, settings: Settings, variant: str | None = None) -> ElevenLabsVoice:
        return cls(variant or DEFAULT_MODEL, settings)

    @staticmethod
    def check(settings: Settings) -> str | None:
        return None if settings.elevenlabs_api_key is not None else "ELEVENLABS_API_KEY is not set"

    def estimate(self, duration_s: float, words: int) -> list[Usage]:
        return [Usage(self.name, self.model, "characters", float(words * 6))]

    def _client(self):
        from elevenlabs import ElevenLabs

        key = self.settings.elevenlabs_api_key.get_secret_value() if self.settings.elevenlabs_api_key else None
        return ElevenLabs(api_key=key, base_url=self.settings.elevenlabs_base_url or None,
                          timeout=self.settings.request_timeout_s)

    def _speak(self, client, text: str, previous: str | None,
               following: str | None) -> tuple[np.ndarray, float, list, bool]:
        """One sentence, retried by our own loop with backoff on 429, 5xx and timeouts."""
        delay = 0.25
        for attempt in range(self.settings.provider_retries + 1):
            try:
                return self._speak_once(client, text, previous, following)
            except TransientError:
                if attempt == self.settings.provider_retries:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
        raise AssertionError("unreachable")

    def _speak_once(self, client, text: str, previous: str | None,
                    following: str | None) -> tuple[np.ndarray, float, list, bool]:
        """One sentence: its samples, the characters billed, its words' (start, end, word) in samples, and whether
        those came from the service's alignment."""
        import httpx
        from elevenlabs.core.api_error import ApiError

        try:
            response = client.text_to_speech.with_raw_response.convert_with_timestamps(
                self.voice_id, text=text, model_id=self.model, output_format=f"pcm_{SAMPLE_RATE}",
                previous_text=previous, next_text=following,
                request_options={"max_retries": 0},  # retried above, where the backoff is ours
            )
            cost = response.headers.get("character-cost")
            try:
                audio = base64.b64decode(response.data.audio_base_64)
            except (binascii.Error, TypeError, ValueError) as exc:
                raise ProviderError(f"ElevenLabs sent audio that is not base64: {exc}", provider=self.name) from exc
            alignment = response.data.alignment
        except ApiError as exc:
            status = exc.status_code or 0
            if status in (401, 403):
                raise ProviderError("ElevenLabs rejected the API key: check ELEVENLABS_API_KEY", provider=self.name) from exc
            if status == 429 or status >= 500:
                raise TransientError(f"ElevenLabs answered {status} after {self.settings.provider_retries} retries",
                                     provider=self.name) from exc
            raise ProviderError(f"ElevenLabs refused the text ({status}): {exc.body}", provider=self.name) from exc
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise TransientError(f"ElevenLabs did not answer: {exc}", provider=self.name) from exc
        if len(audio) % 2:
            audio = audio[:-1]
        samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0
        billed = float(cost) if cost and cost.replace(".", "", 1).isdigit() else float(len(text))
        words = script_words(text)
        aligned = alignment is not None and bool(alignment.characters)
        if aligned:
            spans = character_spans(text, list(alignment.characters), list(alignment.character_start_times_seconds),
                                    list(alignment.character_end_times_seconds), SAMPLE_RATE, len(samples))
        else:  # no alignment in the answer: estimate, and say so rather than pretend
            spans = estimated_spans(words, samples, SAMPLE_RATE)
        return samples, billed, [(a, b, w) for (a, b), w in zip(spans, words)], aligned

    def synthesize(self, blocks: list[tuple[str, list[str]]], out_wav: Path, *, device: str = "cpu",
                   length_scale: float = 1.0, progress: Callable[[float], None] | None = None) -> Narration:
        """Speak every sentence into ``out_wav``. ``progress`` (optional) hears the share of the script's
        characters spoken so far, after each sentence's answer."""
        started = time.perf_counter()
        client = self._client()
        flat = [(block, s) for block, sentences in blocks for s in sentences]
        pieces, billed = [], 0.0
        timed = True  # every sentence came back with its character alignment
        report = spoken_share(blocks, progress)
        try:
            for i, (block, sentence) in enumerate(flat):
                previous = flat[i - 1][1] if i else None
                following = flat[i + 1][1] if i + 1 < len(flat) else None
                samples, cost, spans, aligned = self._speak(client, sentence, previous, following)
                billed += cost
                timed = timed and aligned
                pieces.append((block, sentence, samples, spans))
                report(sentence)
            if not pieces:
                raise ProviderError("The script has no speakable text.", provider=self.name)
            cues, duration = assemble(pieces, SAMPLE_RATE, out_wav)
        except BaseException as exc:  # whatever went wrong, what was already spoken was billed
            if billed:
                exc.usage = [Usage(self.name, self.model, "characters", billed, time.perf_counter() - started)]  # type: ignore[attr-defined]
            raise
        usage = [Usage(self.name, self.model, "characters", billed, time.perf_counter() - started)]
        return Narration(out_wav, duration, SAMPLE_RATE, cues, usage,
                         word_timing="character-alignment" if timed else "estimated")

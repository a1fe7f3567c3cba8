"""Narration with Google Cloud Text-to-Speech, sentence by sentence for exact subtitle timings.

Each sentence is one request (a sentence over the 5,000-byte request limit is split at
word boundaries), so every cue's start and end come from the audio itself. The voice
tier (Standard, WaveNet, Neural2, Studio, Chirp 3 HD) sets the price per character.
"""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.providers.audio import assemble
from pipeline.providers.base import Narration, ProviderError, TransientError

MAX_BYTES = 5000
SAMPLE_RATE = 24000
TIERS = {  # tier -> (voice name pattern, billed model name in the price table)
    "standard": ("{lang}-Standard-D", "standard"),
    "wavenet": ("{lang}-Wavenet-D", "wavenet"),
    "neural2": ("{lang}-Neural2-D", "neural2"),
    "studio": ("{lang}-Studio-O", "studio"),
    "chirp3-hd": ("{lang}-Chirp3-HD-Charon", "chirp3-hd"),
}


def split_bytes(text: str, limit: int = MAX_BYTES) -> list[str]:
    """Pieces of text at word boundaries, each at most limit bytes of UTF-8."""
    if len(text.encode("utf-8")) <= limit:
        return [text]
    pieces, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and len(trial.encode("utf-8")) > limit:
            pieces.append(current)
            current = word
        else:
            current = trial
        while len(current.encode("utf-8")) > limit:  # one "word" longer than the limit
            cut = current.encode("utf-8")[:limit].decode("utf-8", "ignore")
            pieces.append(cut)
            current = current[len(cut):]
    if current:
        pieces.append(current)
    return pieces


def wav_samples(data: bytes) -> tuple[np.ndarray, int]:
    """LINEAR16 audio (Google returns it with a WAV header) as float samples and its rate."""
    if data[:4] == b"RIFF":
        with wave.open(io.BytesIO(data)) as w:
            rate, frames = w.getframerate(), w.readframes(w.getnframes())
    else:
        rate, frames = SAMPLE_RATE, data
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, rate


class GoogleTTSVoice:
    name = "google"
    free_retime = False

    def __init__(self, tier: str, settings: Settings, language: str = "en-US"):
        if tier not in TIERS:
            raise ProviderError(f"Unknown Google voice tier {tier!r}: use one of {', '.join(TIERS)}.", provider=self.name)
        self.tier, self.settings, self.language = tier, settings, language
        self.model = TIERS[tier][1]

    @classmethod
    def from_settings(cls, settings: Settings, variant: str | None = None) -> GoogleTTSVoice:
        return cls(variant or "neural2", settings)

    @staticmethod
    def check(settings: Settings) -> str | None:
        if settings.google_tts_api_key is None and settings.google_credentials_file is None:
            return "set GOOGLE_TTS_API_KEY, or GOOGLE_APPLICATION_CREDENTIALS to a service-account file"
        if settings.google_credentials_file is not None and not Path(settings.google_credentials_file).exists():
            return f"the credentials file {settings.google_credentials_file} does not exist"
        return None

    def estimate(self, duration_s: float, words: int) -> list[Usage]:
        return [Usage(self.name, self.model, "characters", float(words * 6))]

    def _client(self):
        from google.api_core.client_options import ClientOptions
        from google.cloud import texttospeech

        options = {}
        if self.settings.google_tts_api_key is not None:
            options["api_key"] = self.settings.google_tts_api_key.get_secret_value()
        credentials = None
        if self.settings.google_credentials_file is not None and "api_key" not in options:
            from google.oauth2 import service_account
            credentials = service_account.Credentials.from_service_account_file(
                str(self.settings.google_credentials_file), scopes=["https://www.googleapis.com/auth/cloud-platform"])
        endpoint = self.settings.google_tts_endpoint
        if endpoint:  # a configured API root (a regional endpoint, or a test server on loopback)
            parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
            from google.cloud.texttospeech_v1.services.text_to_speech.transports.rest import TextToSpeechRestTransport
            if credentials is None:
                from google.auth.credentials import AnonymousCredentials
                credentials = AnonymousCredentials()
            transport = TextToSpeechRestTransport(host=parsed.netloc, url_scheme=parsed.scheme, credentials=credentials)
            client = texttospeech.TextToSpeechClient(transport=transport)
            if "api_key" in options:  # the transport is built by hand: add the key header ourselves
                client._ytempire_key = options["api_key"]  # noqa: SLF001
            return client
        return texttospeech.TextToSpeechClient(transport="rest", credentials=credentials,
                                               client_options=ClientOptions(**options) if options else None)

    def _speak(self, client, text: str) -> np.ndarray:
        from google.api_core import exceptions as gx
        from google.api_core import retry as gretry
        from google.cloud import texttospeech

        retry = gretry.Retry(predicate=gretry.if_exception_type(gx.TooManyRequests, gx.ServiceUnavailable,
                                                                gx.InternalServerError),
                             initial=0.2, maximum=4.0, multiplier=2.0, timeout=self.settings.request_timeout_s * 2)
        key = getattr(client, "_ytempire_key", None)
        metadata = [("x-goog-api-key", key)] if key else []
        try:
            response = client.synthesize_speech(
                input=texttospeech.SynthesisInput(text=text),
                voice=texttospeech.VoiceSelectionParams(language_code=self.language,
                                                        name=TIERS[self.tier][0].format(lang=self.language)),
                audio_config=texttospeech.AudioConfig(audio_encoding=texttospeech.AudioEncoding.LINEAR16,
                                                      sample_rate_hertz=SAMPLE_RATE),
                retry=retry, timeout=self.settings.request_timeout_s, metadata=metadata)
        except (gx.Unauthenticated, gx.PermissionDenied, gx.Unauthorized, gx.Forbidden) as exc:
            raise ProviderError(f"Google rejected the credentials: check GOOGLE_TTS_API_KEY ({exc.message})",
                                provider=self.name) from exc
        except (gx.TooManyRequests, gx.ServiceUnavailable, gx.InternalServerError, gx.DeadlineExceeded,
                gx.RetryError) as exc:
            raise TransientError(f"Google Text-to-Speech is unavailable after retries: {exc}", provider=self.name) from exc
        except gx.GoogleAPICallError as exc:
            raise ProviderError(f"Google Text-to-Speech refused the text: {exc.message}", provider=self.name) from exc
        except Exception as exc:  # noqa: BLE001 - connection errors from the transport
            if "timed out" in str(exc).lower() or "connection" in type(exc).__name__.lower():
                raise TransientError(f"Google Text-to-Speech did not answer: {exc}", provider=self.name) from exc
            raise
        samples, _ = wav_samples(response.audio_content)
        return samples

    def synthesize(self, blocks: list[tuple[str, list[str]]], out_wav: Path, *, device: str = "cpu",
                   length_scale: float = 1.0) -> Narration:
        started = time.perf_counter()
        client = self._client()
        pieces, characters = [], 0
        billed: list[Usage] = []
        try:
            for block, sentences in blocks:
                for sentence in sentences:
                    audio = [self._speak(client, part) for part in split_bytes(sentence)]
                    characters += len(sentence)
                    pieces.append((block, sentence, np.concatenate(audio)))
            if not pieces:
                raise ProviderError("The script has no speakable text.", provider=self.name)
            cues, duration = assemble(pieces, SAMPLE_RATE, out_wav)
        except BaseException as exc:  # whatever went wrong, what was already spoken was billed
            if characters:
                billed = [Usage(self.name, self.model, "characters", float(characters), time.perf_counter() - started)]
                exc.usage = billed  # type: ignore[attr-defined]
            raise
        usage = [Usage(self.name, self.model, "characters", float(characters), time.perf_counter() - started)]
        return Narration(out_wav, duration, SAMPLE_RATE, cues, usage)

"""Narration with Google Cloud Text-to-Speech, sentence by sentence for exact subtitle timings.

Each sentence is one request (a sentence over the 5,000-byte request limit is split at
word boundaries), so every cue's start and end come from the audio itself. The voice
tier (Standard, WaveNet, Neural2, Studio, Chirp 3 HD) sets the price per character.

Word timings: requests go through the v1beta1 API, the one with ``enable_time_pointing``.
The sentence is sent as SSML with a ``<mark name="wN"/>`` before each word, and the
response's timepoints say when each mark was reached: a word starts at its mark and ends
at the next one, the pause between them trimmed by an energy threshold
(``words.mark_spans``). The 5,000-byte limit then applies to the SSML, marks and escapes
included. Chirp 3 HD voices do not support SSML marks, so that tier is sent plain text and
its words are estimated by character share over the speech (``word_timing="estimated"``).
"""

from __future__ import annotations

import io
import re
import time
import wave
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.progress import spoken_share
from pipeline.providers.audio import assemble
from pipeline.providers.base import Narration, ProviderError, TransientError
from pipeline.providers.words import estimated_spans, mark_spans, script_words, ssml, ssml_parts

MAX_BYTES = 5000
SAMPLE_RATE = 24000
NO_MARKS = {"chirp3-hd"}  # tiers whose voices ignore <mark> (and SSML): their words are estimated
TIERS = {  # tier -> (voice name pattern, billed model name in the price table)
    "standard": ("{lang}-Standard-D", "standard"),
    "wavenet": ("{lang}-Wavenet-D", "wavenet"),
    "neural2": ("{lang}-Neural2-D", "neural2"),
    "studio": ("{lang}-Studio-O", "studio"),
    "chirp3-hd": ("{lang}-Chirp3-HD-Charon", "chirp3-hd"),
}
_MARK = re.compile(r"<mark\s[^>]*/>")
TIER_TOKENS = {"standard": "Standard", "wavenet": "Wavenet", "neural2": "Neural2", "studio": "Studio",
               "chirp3-hd": "Chirp3-HD"}


def split_bytes(text: str, limit: int = MAX_BYTES) -> list[str]:
    """Pieces of plain text at word boundaries, each at most limit bytes of UTF-8 (for voices that take no
    SSML; the marked requests are cut by ``words.ssml_parts``, which counts the SSML's bytes)."""
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
        self.marks = tier not in NO_MARKS

    @classmethod
    def from_settings(cls, settings: Settings, variant: str | None = None) -> GoogleTTSVoice:
        return cls(variant or "neural2", settings)

    def for_language(self, language: str) -> GoogleTTSVoice:
        """This tier speaking a channel's language (its Google locale: "zh" -> "cmn-CN", "en-GB" stays)."""
        from pipeline.languages import google_locale

        locale = google_locale(language)
        return self if locale == self.language else GoogleTTSVoice(self.tier, self.settings, locale)

    _names: dict[tuple[str, str], str] = {}  # (tier, locale) -> the voice Google listed for it

    def _voice_name(self, client) -> str:
        """The tier's voice for the locale. en-US has fixed names; other locales ask ``voices.list`` once (free)
        for the tier's voices there, because Google's voice letters differ from language to language."""
        if self.language == "en-US":
            return TIERS[self.tier][0].format(lang=self.language)
        key = (self.tier, self.language)
        if key not in self._names:
            from google.api_core import exceptions as gx

            token = TIER_TOKENS[self.tier]
            wanted = getattr(client, "_ytempire_key", None)
            try:
                listed = client.list_voices(language_code=self.language, timeout=self.settings.request_timeout_s,
                                            metadata=[("x-goog-api-key", wanted)] if wanted else [])
            except (gx.Unauthenticated, gx.PermissionDenied, gx.Unauthorized, gx.Forbidden) as exc:
                raise ProviderError(f"Google rejected the credentials: check GOOGLE_TTS_API_KEY ({exc.message})",
                                    provider=self.name) from exc
            except gx.GoogleAPICallError as exc:
                raise TransientError(f"Google Text-to-Speech did not list its voices: {exc}", provider=self.name) from exc
            names = sorted(v.name for v in listed.voices if f"-{token}-" in v.name and self.language in v.language_codes)
            if not names:
                raise ProviderError(f"Google has no {token} voice for {self.language}: put another tier first in the "
                                    "voice chain (google-wavenet or google-standard speak most languages).",
                                    provider=self.name)
            self._names[key] = names[0]
        return self._names[key]

    @staticmethod
    def check(settings: Settings) -> str | None:
        if settings.google_tts_api_key is None and settings.google_credentials_file is None:
            return "set GOOGLE_TTS_API_KEY, or GOOGLE_APPLICATION_CREDENTIALS to a service-account file"
        if settings.google_credentials_file is not None and not Path(settings.google_credentials_file).exists():
            return f"the credentials file {settings.google_credentials_file} does not exist"
        return None

    def estimate(self, duration_s: float, words: int) -> list[Usage]:
        # ~6 characters a word with its space; with marks, the billed <speak></speak> of each sentence too
        # (15 characters for a sentence of about 10 words).
        return [Usage(self.name, self.model, "characters", float(words * (7.5 if self.marks else 6)))]

    def _client(self):
        from google.api_core.client_options import ClientOptions
        from google.cloud import texttospeech_v1beta1 as texttospeech  # v1beta1: the API with timepoints

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
            from google.cloud.texttospeech_v1beta1.services.text_to_speech.transports.rest import TextToSpeechRestTransport
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

    def _speak(self, client, text: str | None = None, marked: str | None = None) -> tuple[np.ndarray, dict[str, float]]:
        """One request, plain text or marked SSML: its samples and its timepoints (mark name -> seconds)."""
        from google.api_core import exceptions as gx
        from google.api_core import retry as gretry
        from google.cloud import texttospeech_v1beta1 as texttospeech

        retry = gretry.Retry(predicate=gretry.if_exception_type(gx.TooManyRequests, gx.ServiceUnavailable,
                                                                gx.InternalServerError),
                             initial=0.2, maximum=4.0, multiplier=2.0, timeout=self.settings.request_timeout_s * 2)
        key = getattr(client, "_ytempire_key", None)
        metadata = [("x-goog-api-key", key)] if key else []
        try:
            kinds = [texttospeech.SynthesizeSpeechRequest.TimepointType.SSML_MARK] if marked is not None else []
            response = client.synthesize_speech(
                request=texttospeech.SynthesizeSpeechRequest(
                    input=texttospeech.SynthesisInput(ssml=marked) if marked is not None
                    else texttospeech.SynthesisInput(text=text),
                    voice=texttospeech.VoiceSelectionParams(language_code=self.language, name=self._voice_name(client)),
                    audio_config=texttospeech.AudioConfig(audio_encoding=texttospeech.AudioEncoding.LINEAR16,
                                                          sample_rate_hertz=SAMPLE_RATE),
                    enable_time_pointing=kinds),
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
        return samples, {t.mark_name: float(t.time_seconds) for t in response.timepoints}

    def _sentence(self, client, sentence: str) -> tuple[np.ndarray, list[tuple[int, int, str]], int]:
        """A sentence's samples, its words' spans (samples, relative to the sentence) and the characters billed,
        in as many requests as the byte limit needs; a word's span comes from the request that said it.

        Google bills SSML markup as characters except ``<mark>`` tags: the <speak> wrapper and the escapes
        count, the marks do not."""
        words = script_words(sentence)
        if not self.marks:
            audio = np.concatenate([self._speak(client, text=part)[0] for part in split_bytes(sentence)])
            spans = [(a, b, w) for (a, b), w in zip(estimated_spans(words, audio, SAMPLE_RATE), words)]
            return audio, spans, len(sentence)
        chunks, spans, offset, billed = [], {}, 0, 0
        for part in ssml_parts(words, MAX_BYTES):
            marked = ssml(part)
            billed += len(_MARK.sub("", marked))
            samples, times = self._speak(client, marked=marked)
            for index, (a, b) in mark_spans(part, times, samples, SAMPLE_RATE).items():
                a, b = a + offset, b + offset
                spans[index] = (min(a, spans[index][0]), max(b, spans[index][1])) if index in spans else (a, b)
            chunks.append(samples)
            offset += len(samples)
        return np.concatenate(chunks), [(*spans[i], w) for i, w in enumerate(words)], billed

    def synthesize(self, blocks: list[tuple[str, list[str]]], out_wav: Path, *, device: str = "cpu",
                   length_scale: float = 1.0, progress: Callable[[float], None] | None = None) -> Narration:
        """Speak every sentence into ``out_wav``. ``progress`` (optional) hears the share of the script's
        characters spoken so far, after each sentence's answer."""
        started = time.perf_counter()
        client = self._client()
        pieces, characters = [], 0
        billed: list[Usage] = []
        report = spoken_share(blocks, progress)
        try:
            for block, sentences in blocks:
                for sentence in sentences:
                    if not sentence.split():
                        continue  # nothing to say (and no word to mark)
                    audio, spans, billed_here = self._sentence(client, sentence)
                    characters += billed_here
                    pieces.append((block, sentence, audio, spans))
                    report(sentence)
            if not pieces:
                raise ProviderError("The script has no speakable text.", provider=self.name)
            cues, duration = assemble(pieces, SAMPLE_RATE, out_wav)
        except BaseException as exc:  # whatever went wrong, what was already spoken was billed
            if characters:
                billed = [Usage(self.name, self.model, "characters", float(characters), time.perf_counter() - started)]
                exc.usage = billed  # type: ignore[attr-defined]
            raise
        usage = [Usage(self.name, self.model, "characters", float(characters), time.perf_counter() - started)]
        return Narration(out_wav, duration, SAMPLE_RATE, cues, usage,
                         word_timing="ssml-marks" if self.marks else "estimated")

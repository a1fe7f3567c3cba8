"""Assemble per-sentence speech into one WAV with exact sentence spans (and word spans, when given)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from pipeline.providers.base import Cue, Word

LEAD_S = 0.4
SENTENCE_PAUSE_S = 0.3
BLOCK_PAUSE_S = 0.6
TAIL_S = 0.8


def assemble(pieces: list[tuple], sample_rate: int, out_wav: Path) -> tuple[list[Cue], float]:
    """Join (block, sentence, float samples in [-1, 1][, word spans]) with pauses; write 16-bit mono WAV.

    Word spans, when a piece has them, are (start, end, text) in samples relative to that piece's own
    samples; they become the cue's ``Word`` list in absolute seconds, by the same sample arithmetic as
    the cue, so a word can never drift from its sentence. Returns the cue of every sentence (start and
    end in seconds, from sample counts, so subtitles match the audio exactly) and the total duration.
    """
    cues: list[Cue] = []
    chunks: list[np.ndarray] = [np.zeros(int(LEAD_S * sample_rate), dtype=np.float32)]
    position = len(chunks[0])
    previous_block = None
    for block, text, samples, *rest in pieces:
        if previous_block is not None:
            gap = BLOCK_PAUSE_S if block != previous_block else SENTENCE_PAUSE_S
            chunks.append(np.zeros(int(gap * sample_rate), dtype=np.float32))
            position += len(chunks[-1])
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        n = len(samples)
        words = [Word((position + _clip(a, n)) / sample_rate, (position + _clip(b, n)) / sample_rate, w)
                 for a, b, w in (rest[0] if rest and rest[0] else [])]
        cues.append(Cue(position / sample_rate, (position + len(samples)) / sample_rate, text, block, words))
        chunks.append(samples)
        position += len(samples)
        previous_block = block
    chunks.append(np.zeros(int(TAIL_S * sample_rate), dtype=np.float32))
    audio = np.concatenate(chunks)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out_wav), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return cues, len(audio) / sample_rate


def _clip(offset: int, length: int) -> int:
    """A word offset kept inside its piece: a voice's report can overshoot its audio by a frame."""
    return min(max(int(offset), 0), length)

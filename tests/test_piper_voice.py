import json
import wave

import pytest

from pipeline.config import Settings
from pipeline.providers.audio import BLOCK_PAUSE_S, LEAD_S, SENTENCE_PAUSE_S, TAIL_S
from pipeline.providers.base import Brief
from pipeline.providers.local_writer import LocalWriter
from pipeline.providers.piper_voice import PiperTTS
from pipeline.stages import RETIME_TOLERANCE, StageContext, speak

BLOCKS = [("hook", ["Octopuses are clever.", "Let us see why."]), ("section-1", ["Each arm can taste."])]


def test_sentence_by_sentence_cues_match_the_audio(tmp_path):
    narration = PiperTTS().synthesize(BLOCKS, tmp_path / "n.wav")
    cues = narration.cues
    assert [c.text for c in cues] == ["Octopuses are clever.", "Let us see why.", "Each arm can taste."]
    assert [c.block for c in cues] == ["hook", "hook", "section-1"]
    assert cues[0].start == pytest.approx(LEAD_S, abs=1e-3)
    assert cues[1].start - cues[0].end == pytest.approx(SENTENCE_PAUSE_S, abs=1e-3)
    assert cues[2].start - cues[1].end == pytest.approx(BLOCK_PAUSE_S, abs=1e-3)
    assert narration.duration_s == pytest.approx(cues[-1].end + TAIL_S, abs=1e-3)
    with wave.open(str(tmp_path / "n.wav")) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        assert w.getnframes() / w.getframerate() == pytest.approx(narration.duration_s, abs=1e-3)
    assert narration.usage[0].unit == "characters" and narration.usage[0].quantity == sum(len(s) for _, b in BLOCKS for s in b)


def test_a_slower_pace_makes_longer_speech(tmp_path):
    fast = PiperTTS().synthesize(BLOCKS, tmp_path / "a.wav", length_scale=1.0)
    slow = PiperTTS().synthesize(BLOCKS, tmp_path / "b.wav", length_scale=1.5)
    speech = lambda n: sum(c.end - c.start for c in n.cues)  # noqa: E731
    assert speech(slow) > 1.3 * speech(fast)


@pytest.mark.parametrize("duration", [20, 45])
def test_the_voice_stage_retimes_free_voices_to_the_target(tmp_path, duration):
    settings = Settings(data_dir=tmp_path)
    script, _ = LocalWriter().write(Brief("Why octopuses are so smart", duration, words_per_minute=settings.speaking_rate_wpm))
    path = script.save(tmp_path / "script.json")
    ctx = StageContext({"id": 1, "topic": "t", "duration_s": duration, "format": "landscape", "brief": {}},
                       {"name": "C", "voice": "piper"}, settings, tmp_path, {"script": path})
    out = speak(ctx)
    timings = json.loads(out.artifacts["timings"].read_text())
    assert abs(timings["duration_s"] - duration) / duration <= RETIME_TOLERANCE + 0.02
    assert len(timings["cues"]) == len([s for b in script.blocks() for s in b.sentences])

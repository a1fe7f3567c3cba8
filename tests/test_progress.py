"""Honest progress: every stage reports how far it really is (voice per sentence, visuals per scene, render from
ffmpeg's out_time, upload by bytes YouTube acknowledged), rising to 1 and never going back."""

from __future__ import annotations

from collections import defaultdict

import pytest
from PIL import Image

from conftest import EXAMPLE_SOURCE
from fakes import FakeElevenLabs, FakeGoogleTTS
from media_helpers import three_slides, tone_wav
from pipeline import stages
from pipeline.config import Settings
from pipeline.media import ffmpeg
from pipeline.media.draw import FONTS_DIR
from pipeline.media.render import EncodeOptions
from pipeline.media.scene_render import SceneVisual, render_scenes
from pipeline.progress import rising, share, spoken_share, takes_progress
from pipeline.providers import VOICES
from pipeline.providers.audio import assemble
from pipeline.providers.base import Narration
from pipeline.providers.elevenlabs_voice import ElevenLabsVoice
from pipeline.providers.google_tts import GoogleTTSVoice
from pipeline.providers.piper_voice import PiperTTS
from pipeline.stage_types import StageContext
from pipeline.workbench import VideoRequest, Workbench

BLOCKS = [("hook", ["A short one.", "Then a much longer sentence with many more words in it."]),
          ("cta", ["Subscribe."])]


def rises_to_one(seen: list[float]) -> bool:
    return bool(seen) and seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and all(0 <= f <= 1 for f in seen)


# -- the helpers --------------------------------------------------------------------------------------------

def test_rising_never_goes_back_and_clamps():
    seen = []
    report = rising(seen.append)
    for f in (0.1, 0.3, 0.2, 0.3, 1.4, 0.5):
        report(f)
    assert seen == [0.1, 0.3, 1.0]
    rising(None)(0.5)  # nothing to call: nothing happens


def test_a_share_owns_its_slice_of_the_whole():
    seen = []
    step = share(seen.append, 0.5, 0.25)
    for f in (0.0, 0.5, 1.0, 2.0):
        step(f)
    assert seen == [0.5, 0.625, 0.75, 0.75]
    assert share(None, 0, 1) is None


def test_spoken_share_counts_characters_not_sentences():
    seen = []
    spoken = spoken_share(BLOCKS, seen.append)
    for _, sentences in BLOCKS:
        for sentence in sentences:
            spoken(sentence)
    total = sum(len(s) for _, ss in BLOCKS for s in ss)
    assert seen == pytest.approx([12 / total, (12 + 55) / total, 1.0])


def test_takes_progress_tells_old_providers_from_new():
    def old(blocks, out, *, device="cpu", length_scale=1.0): ...

    def new(blocks, out, *, device="cpu", length_scale=1.0, progress=None): ...

    def loose(blocks, out, **kw): ...

    assert not takes_progress(old) and takes_progress(new) and takes_progress(loose)


@pytest.mark.parametrize("line, seconds", [
    ("out_time_us=1500000", 1.5), ("out_time=00:01:02.500000", 62.5), ("out_time=01:00:00.000000", 3600.0),
    ("out_time_us=N/A", None), ("out_time=N/A", None), ("out_time=-577014:32:22.775808", 0.0), ("total_size=10", None),
])
def test_ffmpeg_output_time_is_read_from_either_key(line, seconds):
    key, _, value = line.partition("=")
    assert ffmpeg.out_seconds(key, value) == seconds


def test_the_progress_watch_rises_against_the_duration_and_ends_at_end():
    watch = ffmpeg._ProgressWatch(total_s=10.0)
    for line in ("out_time_us=N/A", "out_time=00:00:02.000000", "out_time_us=5000000", "out_time_us=4000000"):
        watch.feed(line)
    assert watch.fraction == 0.5  # an earlier time from the other stream does not pull it back
    watch.feed("progress=end")
    assert watch.fraction == 1.0


# -- voices, sentence by sentence ------------------------------------------------------------------------------

def test_piper_reports_each_sentence(tmp_path):
    seen = []
    PiperTTS().synthesize(BLOCKS, tmp_path / "n.wav", progress=seen.append)
    assert len(seen) == 3 and rises_to_one(seen)


@pytest.fixture
def google_fake():
    with FakeGoogleTTS() as fake:
        yield fake


@pytest.fixture
def eleven_fake():
    with FakeElevenLabs() as fake:
        yield fake


def test_cloud_voices_report_each_answered_sentence(tmp_path, google_fake, eleven_fake):
    settings = Settings(data_dir=tmp_path / "data", request_timeout_s=2.0, provider_retries=1,
                        google_tts_api_key=google_fake.key, google_tts_endpoint=google_fake.url,
                        elevenlabs_api_key=eleven_fake.key, elevenlabs_base_url=eleven_fake.url)
    for voice in (GoogleTTSVoice("neural2", settings), ElevenLabsVoice("eleven_flash_v2_5", settings)):
        seen = []
        narration = voice.synthesize(BLOCKS, tmp_path / f"{voice.name}.wav", progress=seen.append)
        assert len(seen) == len(narration.cues) == 3 and rises_to_one(seen)
        voice.synthesize(BLOCKS, tmp_path / f"{voice.name}-plain.wav")  # callers without progress still work


class OldVoice:
    """A voice written before progress existed: no ``progress`` keyword."""

    name = "oldvoice"

    @classmethod
    def from_settings(cls, settings, variant=None):
        return cls()

    @staticmethod
    def check(settings):
        return None

    def estimate(self, duration_s, words):
        return []

    def synthesize(self, blocks, out_wav, *, device="cpu", length_scale=1.0):
        import numpy as np
        pieces = [(b, s, np.zeros(2205, dtype=np.float32)) for b, ss in blocks for s in ss]
        cues, duration = assemble(pieces, 22050, out_wav)
        return Narration(out_wav, duration, 22050, cues, [])


def test_the_voice_stage_takes_voices_with_and_without_progress(tmp_path, monkeypatch):
    from pipeline.providers.local_writer import LocalWriter
    from pipeline.providers.base import Brief

    monkeypatch.setitem(VOICES, "oldvoice", f"{__name__}:OldVoice")
    script, _ = LocalWriter().write(Brief("Octopus minds", 20, outline="- Eight arms\n- Three hearts\n"))
    folder = tmp_path / "job"
    folder.mkdir()
    artifacts = {"script": script.save(folder / "script.json")}
    for chain in ("oldvoice", "piper"):
        seen = []
        ctx = StageContext({"id": 1, "duration_s": 20, "topic": "Octopus minds", "brief": {"voice": chain}},
                           {"name": "C", "language": "en"}, Settings(data_dir=tmp_path / "data"), folder,
                           dict(artifacts), progress=seen.append)
        out = stages.speak(ctx)
        assert out.artifacts["narration"].exists() and rises_to_one(seen)
        if chain == "piper":
            assert len([f for f in seen if 0 < f < 1]) >= 3  # sentence by sentence, not one jump


# -- render: ffmpeg's out_time against the duration, chunks combined ---------------------------------------------

@pytest.mark.timeout(300)
def test_a_chunked_render_rises_through_every_chunk_to_one(tmp_path):
    size = (640, 360)
    slides, cues, duration = three_slides(tmp_path, size)
    wav = tone_wav(tmp_path / "n.wav", duration)
    photo = tmp_path / "photo.jpg"
    Image.radial_gradient("L").resize((800, 600)).convert("RGB").save(photo)
    visuals = [SceneVisual(photo, "image", 0.0, 1.6, "hook"), SceneVisual(slides[1].path, "slide", 1.6, 3.3, "section-1"),
               SceneVisual(photo, "image", 3.3, duration, "cta")]
    seen = []
    out = render_scenes(visuals, wav, None, size, tmp_path / "v.mp4", EncodeOptions(preset="ultrafast"),
                        duration_s=duration, fonts_dir=FONTS_DIR, chunk_bytes=1, progress=seen.append)
    assert ffmpeg.probe(out).duration_s == pytest.approx(duration, abs=0.1)
    assert rises_to_one(seen)
    assert len({round(f, 2) for f in seen if 0 < f < 1}) >= 3  # each of the three chunks' shares, then the join


# -- a real short job: every stage rises to 1 ------------------------------------------------------------------

@pytest.mark.timeout(600)
def test_every_stage_of_a_real_short_job_rises_monotonically_to_one(tmp_path):
    seen: dict[str, list[float]] = defaultdict(list)
    with Workbench(Settings(data_dir=tmp_path / "data"), start_worker=False) as wb:
        job = wb.enqueue(VideoRequest("Why octopuses are so smart", duration_s=10, sources=[EXAMPLE_SOURCE]))
        assert wb.worker.run_job(job, on_progress=lambda stage, f: seen[stage].append(f)) == "done"
        stored = dict(wb.db.query("SELECT stage, progress FROM job_stages WHERE job_id = ?", [job]))
    assert set(seen) == {"script", "voice", "scenes", "visuals", "render", "thumbnail", "quality", "publish"}
    for stage, fractions in seen.items():
        assert rises_to_one(fractions), (stage, fractions)
    for stage in ("voice", "visuals"):  # sentence by sentence, scene by scene
        assert len([f for f in seen[stage] if 0 < f < 1]) >= 2, (stage, seen[stage])
    assert [f for f in seen["render"] if 0 < f < 1], seen["render"]  # the sound measured, then the encode's share
    assert stored == dict.fromkeys(seen, 1.0)


# -- upload: bytes acknowledged ------------------------------------------------------------------------------------

def test_upload_progress_follows_the_bytes_youtube_acknowledged(tmp_path, yt):
    from test_youtube import BODY, connect, settings_for, video_file

    wb = Workbench(settings_for(tmp_path, yt), start_worker=False)
    try:
        cid = connect(wb, "Acked", "proj-k")
        video, thumb = video_file(tmp_path, 900 * 1024)  # four chunks of 256 KiB
        yt.fault("chunk", None, "503", None)  # the second chunk is lost once: resumed from what YouTube has
        wb.youtube.publisher.sleep = lambda s: None
        seen = []
        result = wb.youtube.publisher.publish(11, {"id": cid}, video, thumb, BODY, progress=seen.append)
        assert yt.videos[result.ref]["bytes"] == video.read_bytes()
    finally:
        wb.close()
    assert rises_to_one(seen)
    from pipeline.youtube.upload import UPLOAD_SHARE
    acked = [round(f / UPLOAD_SHARE * 900 * 1024) for f in seen if f < UPLOAD_SHARE]
    assert acked[:3] == [256 * 1024, 512 * 1024, 768 * 1024]  # chunk by chunk, as the server counted them
    assert UPLOAD_SHARE in seen  # the whole video, before the thumbnail


# -- visuals: scene by scene ------------------------------------------------------------------------------------

def test_visuals_report_each_scene_searched_and_fetched(tmp_path, pexels):
    from test_scene_stages import scenes_of, staged_job, with_pexels

    wb = with_pexels(tmp_path, pexels)
    try:
        job = staged_job(wb, visuals="pexels > slides")
        seen: dict[str, list[float]] = defaultdict(list)
        assert wb.worker.run_job(job, on_progress=lambda stage, f: seen[stage].append(f)) == "done"
        scenes = scenes_of(wb, job)
    finally:
        wb.close()
    visuals = seen["visuals"]
    assert rises_to_one(visuals)
    assert any(r["provider"] == "pexels" for r in scenes)
    # after the slides (0.1): half a scene per search, half per fetched clip, to 0.85; then a still per scene
    searching = [f for f in visuals if 0.1 < f <= 0.85]
    assert len(searching) >= len(scenes)
    assert len([f for f in visuals if 0.85 < f < 1]) == len(scenes) - 1

import re
import threading

import pytest

from media_helpers import three_slides, tone_wav
from pipeline.gpu import GpuUnavailable
from pipeline.media import ffmpeg
from pipeline.media.draw import FONTS_DIR
from pipeline.media.render import EncodeOptions, Segment, build_filtergraph, encoder_args, plan_segments, render_video
from pipeline.media.subtitles import write_ass
from pipeline.providers.base import Cue, Slide


def test_segments_follow_the_narration_in_whole_frames(tmp_path):
    slides = [Slide(tmp_path / f"{k}.png", k) for k in ("hook", "section-1", "section-2", "cta")]
    cues = [Cue(0.4, 2.0, "a", "hook"), Cue(2.6, 5.01, "b", "section-1"), Cue(5.5, 9.0, "c", "section-2"),
            Cue(9.6, 11.0, "d", "cta")]
    segs = plan_segments(slides, cues, 11.8, 30)
    assert [s.frames for s in segs] == [78, 87, 123, 66]  # starts at 0, 2.6, 5.5, 9.6 s; ends at 11.8 s
    assert sum(s.frames for s in segs) == round(11.8 * 30)
    assert segs[0].motion == "zoom-in" and segs[-1].motion == "zoom-in"
    assert segs[1].motion != segs[2].motion  # sections alternate their pan


def test_a_block_without_speech_gets_no_time(tmp_path):
    slides = [Slide(tmp_path / "h.png", "hook"), Slide(tmp_path / "x.png", "section-1"), Slide(tmp_path / "c.png", "cta")]
    cues = [Cue(0.4, 2.0, "a", "hook"), Cue(2.5, 4.0, "d", "cta")]
    segs = plan_segments(slides, cues, 5.0, 30)
    assert sum(s.frames for s in segs) == 150
    assert len(segs) == 2


def _segments(tmp_path, n=3):
    return [Segment(tmp_path / f"s{i}.png", 90, m) for i, m in enumerate(["zoom-in", "pan-right", "pan-up"][:n])]


def test_filtergraph_one_frame_per_slide_then_motion_fades_subtitles_and_loudness(tmp_path):
    graph = build_filtergraph(_segments(tmp_path), (1920, 1080), EncodeOptions(), "subtitles.ass", FONTS_DIR, 3)
    chains = graph.split(";")
    assert chains[0].startswith("[0:v]format=yuv420p,zoompan=") and ":d=90:" in chains[0]
    assert chains[1].startswith("[1:v]format=yuv420p,loop=loop=89:size=1:start=0")  # one decoded frame, repeated
    assert "crop=w=1920:h=1080:x='(iw-ow)*n/89'" in chains[1]
    assert "fade=t=in:s=0:n=8" in chains[1] and "fade=t=out:s=82:n=8" in chains[1]
    assert "[v0][v1][v2]concat=n=3:v=1:a=0[vcat]" in graph
    assert "[vcat]subtitles=filename='subtitles.ass':fontsdir=" in graph
    assert "[3:a]loudnorm=I=-14.0:TP=-1.5" in graph
    assert "format=yuv420p" in chains[1].split("loop")[0]  # converted once, before the repeat


def test_crossfade_offsets_keep_the_total_length(tmp_path):
    segs = _segments(tmp_path)
    graph = build_filtergraph(segs, (1920, 1080), EncodeOptions(transition="crossfade"), None, None, 3)
    offsets = [float(x) for x in re.findall(r"offset=([\d.]+)", graph)]
    assert offsets == pytest.approx([3.0, 6.0])  # each transition starts where the next slide is due
    assert "loop=loop=104" in graph  # the first two slides are extended by the 0.5 s overlap


def test_paths_with_special_characters_are_quoted(tmp_path):
    graph = build_filtergraph(_segments(tmp_path, 1), (1920, 1080), EncodeOptions(), "it's: subs.ass", FONTS_DIR, 1)
    assert r"filename='it'\''s\: subs.ass'" in graph


def test_encoder_arguments_cap_the_bitrate():
    cpu = encoder_args(EncodeOptions(max_mbps=8), "cpu")
    assert cpu[cpu.index("-c:v") + 1] == "libx264" and cpu[cpu.index("-maxrate") + 1] == "8M"
    assert encoder_args(EncodeOptions(), "cuda")[1] == "h264_nvenc"


@pytest.mark.parametrize("size, transition", [((1920, 1080), "dip"), ((1080, 1920), "crossfade")])
def test_real_render_has_the_streams_codecs_duration_and_size(tmp_path, size, transition):
    slides, cues, duration = three_slides(tmp_path, size)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    ass = write_ass(cues, size, tmp_path / "subtitles.ass")
    segs = plan_segments(slides, cues, duration, 30)
    seen = []
    out = render_video(segs, wav, ass, size, tmp_path / "video.mp4", EncodeOptions(transition=transition),
                       fonts_dir=FONTS_DIR, progress=seen.append)
    info = ffmpeg.probe(out)
    assert (info.width, info.height) == size
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.fps == 30 and info.pix_fmt == "yuv420p"
    assert info.duration_s == pytest.approx(duration, abs=0.1)
    assert info.faststart
    assert seen and seen[-1] > 0.9
    assert not list(tmp_path.glob("video.partial*"))
    stats = ffmpeg.audio_stats(out)
    assert stats.max_db > -20  # loud enough after normalisation


def test_the_picture_moves_and_carries_subtitles(tmp_path):
    slides, cues, duration = three_slides(tmp_path)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    segs = plan_segments(slides, cues, duration, 30)
    plain = render_video(segs, wav, None, (1920, 1080), tmp_path / "plain.mp4", EncodeOptions())
    ass = write_ass(cues, (1920, 1080), tmp_path / "subtitles.ass")
    subbed = render_video(segs, wav, ass, (1920, 1080), tmp_path / "subbed.mp4", EncodeOptions(), fonts_dir=FONTS_DIR)

    def frame(path, t):
        import subprocess
        import numpy as np
        raw = subprocess.run([ffmpeg.ffmpeg_exe(), "-v", "error", "-ss", str(t), "-i", str(path), "-frames:v", "1",
                              "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
        return np.frombuffer(raw, dtype=np.uint8).reshape(1080, 1920).astype(int)

    a, b = frame(plain, 1.8), frame(plain, 2.9)  # same slide, a second apart: the pan moved it
    assert abs(a - b).mean() > 1.0
    bottom = slice(int(1080 * 0.75), 1080)
    with_subs, without = frame(subbed, 2.0), frame(plain, 2.0)  # "Point one." is on screen at 2.0 s
    assert abs(with_subs[bottom] - without[bottom]).mean() > 1.0


def test_cancel_stops_ffmpeg_and_leaves_no_partial_file(tmp_path):
    slides, cues, duration = three_slides(tmp_path)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    segs = plan_segments(slides, cues, duration, 30)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ffmpeg.Cancelled):
        render_video(segs, wav, None, (1920, 1080), tmp_path / "video.mp4", EncodeOptions(), cancel=cancel)
    assert not (tmp_path / "video.mp4").exists() and not list(tmp_path.glob("video.partial*"))


def test_gpu_encode_failure_says_use_the_cpu(tmp_path):
    slides, cues, duration = three_slides(tmp_path)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    segs = plan_segments(slides, cues, duration, 30)
    with pytest.raises(GpuUnavailable):  # no NVIDIA device here: NVENC cannot open
        render_video(segs, wav, None, (1920, 1080), tmp_path / "video.mp4", EncodeOptions(), device="cuda")


def test_probe_rejects_a_file_that_is_not_media(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ffmpeg.FFmpegError):
        ffmpeg.probe(bad)


def test_relative_paths_are_resolved_against_the_caller(tmp_path, monkeypatch):
    slides, cues, duration = three_slides(tmp_path)
    tone_wav(tmp_path / "narration.wav", duration)
    write_ass(cues, (1920, 1080), tmp_path / "subtitles.ass")
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    from pathlib import Path
    segs = [Segment(Path("slides") / s.image.name, s.frames, s.motion) for s in plan_segments(slides, cues, duration, 30)]
    out = render_video(segs, Path("narration.wav"), Path("subtitles.ass"), (1920, 1080), Path("out/video.mp4"),
                       EncodeOptions(), fonts_dir=FONTS_DIR)
    assert ffmpeg.probe(out).duration_s == pytest.approx(duration, abs=0.1)


@pytest.mark.timeout(60)
def test_a_hung_render_is_stopped_and_leaves_no_partial_file(tmp_path, monkeypatch):
    # A fake ffmpeg that starts writing its output (the last argument), then hangs printing nothing.
    fake = tmp_path / "fake-ffmpeg"
    fake.write_text('#!/bin/sh\nfor last; do :; done\necho partial > "$last"\nexec sleep 300\n')
    fake.chmod(0o755)
    monkeypatch.setattr(ffmpeg, "ffmpeg_exe", lambda: str(fake))
    monkeypatch.setattr(ffmpeg, "STALL_S", 1.0)  # render_video passes no limits: the module defaults apply
    segs = [Segment(tmp_path / "s.png", 30, "pan-right")]
    with pytest.raises(ffmpeg.FFmpegTimeout, match="made no progress"):
        render_video(segs, tmp_path / "narration.wav", None, (1920, 1080), tmp_path / "video.mp4", EncodeOptions())
    assert not (tmp_path / "video.mp4").exists() and not list(tmp_path.glob("video.partial*"))

import re
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media_helpers import three_slides, tone_wav
from pipeline.gpu import GpuUnavailable
from pipeline.media import ffmpeg
from pipeline.media.draw import FONTS_DIR
from pipeline.media.render import EncodeOptions, Segment, build_filtergraph, plan_segments
from pipeline.media.scene_render import (
    SceneVisual, Shot, build_scene_graph, clip_info, clip_plan, extract_frame, has_footage, mp4_info, plan_chunks,
    plan_shots, render_scenes, shot_bytes, thumbnail_background,
)
from pipeline.media.subtitles import write_ass
from pipeline.media.thumbnail import SIZE as THUMB_SIZE
from pipeline.media.thumbnail import make_thumbnail
from pipeline.providers.base import Brand, Cue

LAND, SHORTS = (1920, 1080), (1080, 1920)
FPS = 30


def make_clip(path: Path, size: tuple[int, int], seconds: float, rate: int = 30, sound: bool = False) -> Path:
    """A moving test pattern (testsrc2) as H.264, optionally with a tone the render must drop."""
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size[0]}x{size[1]}:r={rate}:d={seconds}"]
    if sound:
        args += ["-f", "lavfi", "-i", f"sine=d={seconds}", "-c:a", "aac"]
    ffmpeg.run([*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], total_s=seconds)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Clips (landscape with sound, portrait), a photo: made once for the module."""
    d = tmp_path_factory.mktemp("media")
    photo = d / "photo.jpg"
    Image.radial_gradient("L").resize((1600, 1200)).convert("RGB").save(photo, quality=90)
    return {"land": make_clip(d / "land.mp4", (1280, 720), 2.0, rate=25, sound=True),
            "port": make_clip(d / "port.mp4", (720, 1280), 3.0), "photo": photo}


def mix(media, slide: Path) -> list[SceneVisual]:
    """A clip, a photo, a slide and a portrait clip over the 4.8 s of three_slides' narration."""
    return [SceneVisual(media["land"], "video", 0.0, 1.6, "hook"), SceneVisual(media["photo"], "image", 1.6, 2.6, "section-1"),
            SceneVisual(slide, "slide", 2.6, 3.7, "section-1"), SceneVisual(media["port"], "video", 3.7, 4.8, "cta")]


def gray_frame(path: Path, t: float, size: tuple[int, int]) -> np.ndarray:
    raw = subprocess.run([ffmpeg.ffmpeg_exe(), "-v", "error", "-ss", str(t), "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(size[1], size[0]).astype(int)


# -- planning ---------------------------------------------------------------------------------------------------

def test_shots_follow_the_scenes_in_whole_frames_and_merge_repeats(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    visuals = [SceneVisual(a, "slide", 0.4, 2.0, "hook"), SceneVisual(a, "slide", 2.0, 3.1, "hook"),
               SceneVisual(b, "image", 3.1, 5.0, "section-1"), SceneVisual(b, "image", 5.0, 6.0, "section-1"),
               SceneVisual(a, "slide", 6.0, 7.0, "cta")]
    shots = plan_shots(visuals, 7.5, FPS)
    assert [(s.path, s.frames) for s in shots] == [(a, 93), (b, 87), (a, 45)]  # 0-3.1, 3.1-6.0, 6.0-7.5 s
    assert sum(s.frames for s in shots) == round(7.5 * FPS)
    assert [s.motion for s in shots] == ["zoom-in", "pan-right", "zoom-in"]


def test_a_bad_kind_or_no_scenes_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="kind 'gif'"):
        plan_shots([SceneVisual(tmp_path / "x.gif", "gif", 0, 1)], 1.0, FPS)
    with pytest.raises(ValueError, match="No scenes"):
        plan_shots([], 1.0, FPS)


def test_slides_only_plan_is_todays_segments_and_graph(tmp_path):
    slides, cues, duration = three_slides(tmp_path)
    first = {}
    for cue in cues:
        first.setdefault(cue.block, cue.start)
    # The scene planner gives each sentence its own scene: consecutive scenes share their block's slide.
    slide_of = {s.block: s.path for s in slides}
    starts = [0.0] + [c.start for c in cues[1:]]
    visuals = [SceneVisual(slide_of[c.block], "slide", s, e, c.block)
               for c, s, e in zip(cues, starts, starts[1:] + [duration])]
    shots = plan_shots(visuals, duration, FPS)
    segments = [Segment(s.path, s.frames, s.motion) for s in shots]
    assert segments == plan_segments(slides, cues, duration, FPS)
    assert build_filtergraph(segments, LAND, EncodeOptions(), "s.ass", FONTS_DIR, 3) == \
        build_filtergraph(plan_segments(slides, cues, duration, FPS), LAND, EncodeOptions(), "s.ass", FONTS_DIR, 3)
    assert not has_footage(visuals) and has_footage([*visuals, SceneVisual(tmp_path / "p.jpg", "image", 0, 1)])


@pytest.mark.parametrize("needed, length, slow, loop", [(4.0, 5.0, 1.0, False), (6.0, 5.0, 1.2, False),
                                                        (7.5, 5.0, 1.5, False), (9.0, 5.0, 1.5, True)])
def test_short_clips_slow_down_up_to_one_and_a_half_then_loop(needed, length, slow, loop):
    assert clip_plan(needed, length) == (pytest.approx(slow), loop)


def _shots(tmp_path):
    return [Shot(tmp_path / "a.mp4", "video", 90, "clip", 5.0, (1920, 1080)),
            Shot(tmp_path / "p.jpg", "image", 60, "pan-right"),
            Shot(tmp_path / "b.mp4", "video", 150, "clip", 2.0, (3840, 2160)),
            Shot(tmp_path / "p.jpg", "image", 45, "pan-down")]


def test_graph_fills_the_frame_groups_stills_and_crossfades_to_the_exact_length(tmp_path):
    inputs, graph = build_scene_graph(_shots(tmp_path), LAND, EncodeOptions(), "s.ass", FONTS_DIR, narration="n.wav")
    assert inputs.count("-i") == 4 and inputs.count(str(tmp_path / "p.jpg")) == 1  # one input for the photo
    assert "split=2[p1][p3]" in graph
    assert graph.count("scale=1920:1080:force_original_aspect_ratio=increase") == 2 and "crop=1920:1080" in graph
    b = inputs.index(str(tmp_path / "b.mp4"))
    assert inputs[b - 8:b - 4] == ["-stream_loop", "-1", "-skip_loop_filter", "all"]  # 2 s clip for a 5.3 s shot;
    assert "-stream_loop" not in inputs[:b - 8] and inputs.count("-skip_loop_filter") == 1  # 4K halved: no deblock
    assert inputs.count("-an") == 2  # clips' sound is never decoded
    assert "(PTS-STARTPTS)*1.500000" in graph
    offsets = [float(x) for x in re.findall(r"offset=([\d.]+)", graph)]
    assert offsets == pytest.approx([3.0, 5.0, 10.0])  # each crossfade starts where its scene is due
    assert re.findall(r"clone,trim=end_frame=(\d+)", graph) == ["99", "159"]  # clips extended by the 0.3 s overlap
    assert "loop=loop=68:" in graph and "loop=loop=44:" in graph  # the photo's uses; the last is not extended
    assert "[x3]subtitles=filename='s.ass'" in graph and "[3:a]loudnorm=I=-14.0" in graph  # narration last


def test_windows_join_frame_exactly(tmp_path):
    shots = _shots(tmp_path)
    inputs, graph = build_scene_graph(shots, LAND, EncodeOptions(), "s.ass", FONTS_DIR, first=2, stop=4)
    assert "trim=start_frame=60,setpts=N[v1]" in graph  # only the previous shot's crossfade tail
    assert "offset=0.000000" in graph and "loudnorm" not in graph and "NARRATION" not in inputs
    assert "setpts=PTS+5.000000/TB,subtitles=" in graph  # libass sees the window's real times
    _, head = build_scene_graph(shots, LAND, EncodeOptions(), None, None, first=0, stop=2)
    assert "trim=end_frame=60[v1]" in head  # the next window crossfades out of it


def test_chunks_keep_each_run_within_its_memory_budget(tmp_path):
    shots = [Shot(tmp_path / f"{i}.mp4", "video", 90, "clip", 5.0, LAND) for i in range(100)]
    assert plan_chunks(shots[:10], LAND) == [(0, 10)]
    chunks = plan_chunks(shots, LAND)
    assert chunks[0][0] == 0 and chunks[-1][1] == 100 and len(chunks) > 2
    assert all(a < b and b == c for (a, b), (c, _) in zip(chunks, chunks[1:]))
    assert all(sum(shot_bytes(s, LAND) for s in shots[max(0, a - 1):b]) <= 1.3e9 for a, b in chunks)
    uhd = Shot(tmp_path / "u.mp4", "video", 90, "clip", 5.0, (3840, 2160))
    assert shot_bytes(uhd, LAND) > 2 * shot_bytes(shots[0], LAND)


def test_mp4_header_gives_length_and_size(media, tmp_path):
    assert mp4_info(media["land"]) == (pytest.approx(2.0, abs=0.05), 1280, 720)
    assert clip_info(media["port"])[1:] == (720, 1280)
    (tmp_path / "x.mp4").write_bytes(b"not a video at all")
    assert mp4_info(tmp_path / "x.mp4") is None


def test_boxed_subtitles_keep_the_placement_and_add_a_box(tmp_path):
    cues = [Cue(0.2, 1.0, "Hello.", "hook")]
    for size in (LAND, SHORTS):
        plain = write_ass(cues, size, tmp_path / "p.ass").read_text().splitlines()
        boxed = write_ass(cues, size, tmp_path / "b.ass", boxed=True).read_text().splitlines()
        style = next(line for line in boxed if line.startswith("Style:")).split(",")
        before = next(line for line in plain if line.startswith("Style:")).split(",")
        assert style[15] == "3" and style[5] != before[5] and before[15] == "1"  # BorderStyle 3, box colour
        assert style[18:] == before[18:]  # alignment and margins unchanged
        assert [x for x in plain if not x.startswith("Style:")] == [x for x in boxed if not x.startswith("Style:")]


# -- thumbnails -------------------------------------------------------------------------------------------------

def test_thumbnail_over_a_frame_darkens_where_the_title_goes(media, tmp_path):
    still = thumbnail_background(SceneVisual(media["land"], "video", 0.0, 1.6), tmp_path / "still.jpg")
    assert Image.open(still).size == (1280, 720)
    out = make_thumbnail("Why octopuses are so smart", Brand("Test"), tmp_path / "t.jpg", background=still)
    assert Image.open(out).size == THUMB_SIZE and out.stat().st_size < 2 * 1024 * 1024
    source = np.asarray(Image.open(still).convert("L").resize(THUMB_SIZE), dtype=float)
    thumb = np.asarray(Image.open(out).convert("L"), dtype=float)
    edge = (slice(0, 60), slice(0, 40))  # left edge above the title: no text, only the grade
    assert thumb[edge].mean() < 0.5 * source[edge].mean()
    plain = make_thumbnail("Why octopuses are so smart", Brand("Test"), tmp_path / "p.jpg")
    assert Image.open(plain).size == THUMB_SIZE
    assert thumbnail_background(SceneVisual(tmp_path / "s.png", "slide", 0, 1), tmp_path / "x.jpg") is None
    with pytest.raises(ValueError, match="not a readable image"):
        make_thumbnail("T", Brand("Test"), tmp_path / "bad.jpg", background=media["land"])


def test_extract_frame_clamps_to_the_clip(media, tmp_path):
    out = extract_frame(media["port"], 99.0, tmp_path / "f.png")
    assert Image.open(out).size == (720, 1280) and not list(tmp_path.glob("*partial*"))


# -- real renders -----------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("size", [LAND, SHORTS])
def test_a_mix_of_clip_photo_and_slide_renders_to_spec(media, tmp_path, size):
    slides, cues, duration = three_slides(tmp_path, size)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    ass = write_ass(cues, size, tmp_path / "subtitles.ass", boxed=True)
    seen = []
    out = render_scenes(mix(media, slides[1].path), wav, ass, size, tmp_path / "video.mp4", EncodeOptions(),
                        duration_s=duration, fonts_dir=FONTS_DIR, progress=seen.append)
    info = ffmpeg.probe(out)
    assert (info.width, info.height) == size and info.fps == 30 and info.pix_fmt == "yuv420p"
    assert info.video_codec == "h264" and info.audio_codec == "aac" and info.faststart
    assert info.raw.count("Audio:") == 1  # the narration only: the clip's own sound is dropped
    assert info.duration_s == pytest.approx(duration, abs=2 / 30)
    assert seen and seen[-1] > 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["narration.wav", "slides", "subtitles.ass", "video.mp4"]
    assert ffmpeg.audio_stats(out).max_db > -20


@pytest.mark.slow
def test_a_clip_shorter_than_its_scene_is_slowed_then_looped(media, tmp_path):
    wav = tone_wav(tmp_path / "narration.wav", 8.0)
    visuals = [SceneVisual(media["land"], "video", 0.0, 2.8),  # 2 s clip, 3.1 s with the crossfade: 1.5x slower
               SceneVisual(media["port"], "video", 2.8, 8.0)]  # 3 s clip, 5.2 s: slowed 1.5x and looped
    out = render_scenes(visuals, wav, None, LAND, tmp_path / "video.mp4", EncodeOptions(), duration_s=8.0)
    assert ffmpeg.probe(out).duration_s == pytest.approx(8.0, abs=2 / 30)
    late = [gray_frame(out, t, LAND) for t in (7.2, 7.7)]  # past the clip's 4.5 s slowed length: the loop moves
    assert abs(late[0] - late[1]).mean() > 1.0


@pytest.mark.slow
def test_slides_only_renders_exactly_like_render_video(tmp_path):
    from pipeline.media.render import render_video

    slides, cues, duration = three_slides(tmp_path)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    first = {}
    for cue in cues:
        first.setdefault(cue.block, cue.start)
    starts = [0.0] + [first[s.block] for s in slides[1:]]
    visuals = [SceneVisual(s.path, "slide", a, b, s.block) for s, a, b in zip(slides, starts, starts[1:] + [duration])]
    ours = render_scenes(visuals, wav, None, LAND, tmp_path / "scenes.mp4", EncodeOptions(), duration_s=duration)
    before = render_video(plan_segments(slides, cues, duration, FPS), wav, None, LAND, tmp_path / "slides.mp4",
                          EncodeOptions())

    def video_md5(path):
        return subprocess.run([ffmpeg.ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
                               "-f", "md5", "-"], capture_output=True, text=True, check=True).stdout

    assert video_md5(ours) == video_md5(before)


@pytest.mark.slow
def test_the_subtitle_box_darkens_the_subtitle_area(media, tmp_path):
    slides, cues, duration = three_slides(tmp_path)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    bright = tmp_path / "snow.jpg"  # white text's worst case: a near-white picture
    Image.effect_noise((1600, 900), 10).point(lambda v: 200 + v // 8).convert("RGB").save(bright)
    visuals = [SceneVisual(bright, "image", 0.0, duration)]
    rendered = {}
    for boxed in (False, True):
        ass = write_ass(cues, LAND, tmp_path / f"s{boxed}.ass", boxed=boxed)
        rendered[boxed] = render_scenes(visuals, wav, ass, LAND, tmp_path / f"v{boxed}.mp4", EncodeOptions(),
                                        duration_s=duration, fonts_dir=FONTS_DIR)
    line = (slice(955, 1020), slice(830, 1090))  # "Point one." on its line, 64 px above the bottom, at 2.0 s
    plain, boxed = (gray_frame(rendered[b], 2.0, LAND)[line] for b in (False, True))
    assert boxed.mean() < plain.mean() - 40
    assert boxed.max() > 240  # the text itself is still white


@pytest.mark.slow
def test_chunked_render_matches_a_single_run(media, tmp_path):
    slides, cues, duration = three_slides(tmp_path)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    ass = write_ass(cues, LAND, tmp_path / "subtitles.ass", boxed=True)
    opts = EncodeOptions(crf=16)
    one = render_scenes(mix(media, slides[1].path), wav, ass, LAND, tmp_path / "one.mp4", opts,
                        duration_s=duration, fonts_dir=FONTS_DIR)
    seen = []
    chunked = render_scenes(mix(media, slides[1].path), wav, ass, LAND, tmp_path / "chunked.mp4", opts,
                            duration_s=duration, fonts_dir=FONTS_DIR, chunk_bytes=1, progress=seen.append)
    a, b = ffmpeg.probe(one), ffmpeg.probe(chunked)
    assert b.duration_s == pytest.approx(a.duration_s, abs=1 / 30) and b.faststart and b.audio_codec == "aac"
    assert seen == sorted(seen) and seen[-1] > 0.95
    for t in (1.7, 2.7, 3.8):  # inside the crossfades at the chunk joins
        assert abs(gray_frame(one, t, LAND) - gray_frame(chunked, t, LAND)).mean() < 3
    assert not [p for p in tmp_path.iterdir() if "chunks-" in p.name or "graph-" in p.name]


@pytest.mark.slow
def test_cancel_mid_render_stops_and_leaves_no_partial_file(media, tmp_path):
    wav = tone_wav(tmp_path / "narration.wav", 20.0)
    visuals = [SceneVisual(media["land"], "video", 0.0, 10.0), SceneVisual(media["port"], "video", 10.0, 20.0)]
    cancel = threading.Event()

    def progress(fraction):
        if fraction > 0.05:
            cancel.set()

    with pytest.raises(ffmpeg.Cancelled):
        render_scenes(visuals, wav, None, LAND, tmp_path / "video.mp4", EncodeOptions(preset="medium"),
                      duration_s=20.0, progress=progress, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["narration.wav"]


@pytest.mark.slow
def test_gpu_encode_failure_says_use_the_cpu(media, tmp_path):
    wav = tone_wav(tmp_path / "narration.wav", 2.0)
    with pytest.raises(GpuUnavailable):  # no NVIDIA encoder here: NVENC cannot open
        render_scenes([SceneVisual(media["land"], "video", 0, 2)], wav, None, LAND, tmp_path / "v.mp4",
                      EncodeOptions(), duration_s=2.0, device="cuda")
    assert not list(tmp_path.glob("v.*"))


def test_a_missing_visual_is_named(tmp_path):
    wav = tone_wav(tmp_path / "narration.wav", 1.0)
    with pytest.raises(FileNotFoundError, match="gone.mp4"):
        render_scenes([SceneVisual(tmp_path / "gone.mp4", "video", 0, 1)], wav, None, LAND, tmp_path / "v.mp4",
                      EncodeOptions(), duration_s=1.0)


def test_footage_renders_use_their_own_x264_settings_and_bad_ones_are_refused(tmp_path):
    from pipeline.config import Settings
    from pipeline.media.render import encoder_args

    settings = Settings(data_dir=tmp_path)
    slides, footage = EncodeOptions.from_settings(settings), EncodeOptions.from_settings(settings, footage=True)
    assert encoder_args(slides, "cpu")[:4] == ["-c:v", "libx264", "-preset", "superfast"]
    assert "-x264-params" not in encoder_args(slides, "cpu")
    args = encoder_args(footage, "cpu")
    assert args[args.index("-preset") + 1] == "ultrafast" and args[args.index("-x264-params") + 1] == "cabac=1:deblock=1"
    assert "-x264-params" not in encoder_args(footage, "cuda")  # NVENC takes none of them
    for bad in ({"x264_footage_preset": "turbo"}, {"x264_preset": "ludicrous"},
                {"x264_footage_params": "cabac=1;rm -rf /"}, {"x264_footage_params": "x" * 201}):
        with pytest.raises(ValueError):
            Settings(data_dir=tmp_path, **bad)


@pytest.mark.slow
def test_music_is_mixed_the_same_in_one_run_and_in_chunks(media, tmp_path):
    from pipeline.media.music import Track, measure_loudness, plan_sound

    slides, cues, duration = three_slides(tmp_path)
    wav = tone_wav(tmp_path / "narration.wav", duration)
    bed = tmp_path / "bed.m4a"
    ffmpeg.run(["-f", "lavfi", "-i", "sine=f=330:d=8", "-f", "lavfi", "-i", "anoisesrc=d=8:a=0.1",
                "-filter_complex", "[0][1]amix=inputs=2,volume=3", "-c:a", "aac", str(bed)])
    loud = measure_loudness(bed)
    sound = plan_sound(wav, Track(bed, "bed", 8.0, loud.integrated_lufs, loud.true_peak_db), duration)
    ass = write_ass(cues, LAND, tmp_path / "subtitles.ass", boxed=True)
    outs = {}
    for name, chunk in (("one", 1.2e9), ("chunked", 1)):
        outs[name] = render_scenes(mix(media, slides[1].path), wav, ass, LAND, tmp_path / f"{name}.mp4",
                                   EncodeOptions(), duration_s=duration, fonts_dir=FONTS_DIR, chunk_bytes=chunk,
                                   sound=sound)
    levels = {name: measure_loudness(path) for name, path in outs.items()}
    for level in levels.values():  # the target, through the AAC encoder, either way
        assert abs(level.integrated_lufs + 14) <= 1.0 and level.true_peak_db <= -1.0, level
    assert abs(levels["one"].integrated_lufs - levels["chunked"].integrated_lufs) <= 0.3

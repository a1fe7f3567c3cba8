"""Render benchmark: the project's one-pass ffmpeg renderer against a moviepy baseline.

Usage (from the project root)::

    .venv/bin/pip install --no-deps -r bench/requirements.txt   # moviepy, for the baseline only
    .venv/bin/python bench/render.py [--seconds 60] [--out bench/out/render] [--skip-baseline] [--keep]
    .venv/bin/python bench/render.py --scenes stock [--seconds 60] ...

What is measured
    The same slideshow -- 8 slides (a title card, 6 sections, a closing card),
    slide motion, burned-in subtitles and a Piper narration, 1920x1080 at 30 fps --
    is rendered twice in one run, from the same inputs:

    * ours: ``pipeline.media.render.render_video`` with the default
      ``EncodeOptions`` (libx264 superfast, CRF 23, capped bitrate, dip
      transitions, ASS subtitles burned in by libass, loudness-normalised AAC);
    * baseline: moviepy 2.x written the way popular "faceless video" projects
      do it: one ImageClip per slide zoomed every frame with
      ``resized(lambda t: 1 + 0.04 * t)`` and centred in a 1920x1080 composite,
      fades, one TextClip per subtitle screen laid over the concatenated slides,
      the narration as the audio track, and ``write_videofile`` with libx264
      ``veryfast``, 2 threads, AAC.

      ``--baseline peers`` (the default) keeps moviepy's defaults as those
      projects use them: transparent composites and ``method="compose"``, so
      moviepy builds and blends an alpha mask for every frame.
      ``--baseline opaque`` gives the baseline every benefit of the doubt: opaque
      composites (a black background per slide, chained concatenation, the
      slideshow as the subtitle layer's background), so no mask is built and
      ffmpeg gets RGB frames. It is about 3x faster than ``peers``, so the
      speedup it prints is the conservative figure.

    ``--scenes stock`` renders footage instead: 8 stock-like clips made by
    ffmpeg before the timers start (1920x1080 H.264, 5-8 s each, with sensor-like
    grain: moving objects, camera pans over detail, zooms into busy detail, a
    grainy sky and one clip of confetti-like motion, the worst case for an
    encoder; 0.7-13 Mbps, about 8 on average, like stock sites' HD files), one
    per block of the same narration, so some are shorter than their scene:

    * ours: ``pipeline.media.scene_render.render_scenes`` (clips slowed or
      looped to fit, scaled and cropped to fill, 0.3 s ``xfade`` crossfades,
      boxed ASS subtitles, the encoder settings footage renders use:
      ``--footage-preset`` / ``--footage-params`` compare others);
    * baseline: moviepy the way the peers do footage: ``VideoFileClip``,
      ``resized`` and ``cropped`` to fill, ``Loop`` when short, ``CrossFadeIn``
      into ``concatenate_videoclips(method="compose", padding=-0.3)``, TextClip
      subtitles, ``write_videofile`` libx264 veryfast, 2 threads.

    Only the render itself is timed (wall clock). Building the shared inputs
    (narration, slides, subtitles, segment plan) happens once, before either
    timer starts. Both renderers run the same ffmpeg binary (imageio-ffmpeg) on
    this machine, one after the other, never concurrently.

Why
    Rendering is the slowest local stage of a video job. This bench shows what
    the single ffmpeg filtergraph buys over the usual per-frame Python
    compositing, and checks that the speed does not come from a worse file:
    both outputs are probed (1920x1080, H.264, with audio, same duration) and
    their size and video bitrate are printed side by side. The load average
    before and after is printed too: on a shared machine it explains a slow run.

Output
    A small table, then as the LAST line::

        render: ours S s, baseline S s, speedup X.Xx, ours X.Xx real time, B.B Mbps

    "ours X.Xx real time" is our output's duration divided by our render time;
    B.B is our output's video bitrate in Mbps. With ``--skip-baseline`` the
    baseline time and the speedup read ``n/a``. The exit status is 1 when an
    output fails a check (the line is still printed).

Narration length
    The narration is spoken by Piper at its natural pace (~160 words a minute),
    with sentences picked to fill ``--seconds``; if it lands more than 5% off,
    it is re-spoken once at an adjusted pace (as the pipeline's speak stage
    does). Every slide needs at least one sentence and the voice pauses between
    blocks, so very short targets (about 15 s and under) come out longer than
    asked: the actual length is printed and used for every figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.config import Settings  # noqa: E402
from pipeline.media import ffmpeg  # noqa: E402
from pipeline.media.draw import BOLD, FONTS_DIR  # noqa: E402
from pipeline.media.render import FADE_S, EncodeOptions, Segment, plan_segments, render_video  # noqa: E402
from pipeline.media.scene_render import SCENE_XFADE_S, SceneVisual, Shot, plan_shots, render_scenes  # noqa: E402
from pipeline.media.slides import render_slides  # noqa: E402
from pipeline.media.subtitles import display_cues, layout_for, write_ass  # noqa: E402
from pipeline.providers import audio as audio_mod  # noqa: E402
from pipeline.providers.base import Brand, Narration, Slide  # noqa: E402
from pipeline.script import Block, word_count  # noqa: E402

SIZE = (1920, 1080)
FPS = 30
WPM = 160.0  # Piper's joe voice at its natural pace
RETIME_TOLERANCE = 0.05
DURATION_TOLERANCE_S = 0.5  # ours vs baseline vs narration
INSTALL_HINT = "pip install -r bench/requirements.txt"
# --scenes stock: one clip per block, lavfi sources with motion (scaled up, grain added), and seconds.
# Some are shorter than their block, so the slow-down and the loop are part of what is measured.
STOCK_CLIPS = [
    ("testsrc2=s=1920x1080:r=30", 5.0),  # objects moving over a still background
    ("mandelbrot=s=2880x1620:r=30:maxiter=200,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB,"
     "crop=1920:1080:x='t*55':y='t*25'", 6.0),  # a slow camera pan over a detailed still
    ("mandelbrot=s=960x540:r=30:maxiter=256:end_scale=0.1:end_pts=300", 7.0),  # a zoom into busy detail
    ("cellauto=s=960x540:r=30:rule=110:random_fill_ratio=0.5,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB,"
     "scale=3840:2160:flags=bicubic,crop=1920:1080:x='40+t*70':y='t*40'", 8.0),  # a pan across texture
    ("gradients=s=1920x1080:r=30:speed=0.03:n=5", 5.5),  # a sky: smooth colour drifting, all grain
    ("testsrc2=s=1920x1080:r=30,hue=H=t", 6.5),
    ("mandelbrot=s=960x540:r=30:maxiter=256:start_x=-0.743643887:start_y=0.131825904:end_scale=0.01:end_pts=300", 7.5),
    ("life=s=480x270:r=30:mold=10:ratio=0.2:life_color=#33cc66:death_color=#1a2a55", 8.0),  # confetti: the worst case
]
CPU_S: dict[str, float] = {}  # CPU seconds of each render (ours: ffmpeg; baseline: Python and its ffmpeg)
BENCH_LOAD: list[str] = []  # the load average when the bench started (the machine may be shared)

# -- the script: a title card, six sections, a closing card -------------------------------------------------
# The first sentence of every block is short, so short runs still give each slide some speech.

TITLE = "Sleep Better Tonight: Six Habits That Actually Work"
HOOK = [
    "Sleep better tonight.",
    "Most of us sleep worse than we think.",
    "The fix is rarely a pill or a gadget.",
    "It is a handful of small habits, repeated every single day.",
    "Here are six that the research keeps coming back to.",
]
SECTIONS = [
    ("Keep one wake-up time", ["Same time, every day", "Weekends included", "Let bedtime follow"], [
        "Wake up consistently.",
        "Wake up at the same time, every day.",
        "Your body clock runs on a schedule, and it learns from the time you get up.",
        "Keep that time on weekends too, even after a late night.",
        "A long lie-in on Sunday feels good, but it shifts your clock like a small jet lag.",
        "Bedtime then takes care of itself, because you get sleepy at a steady hour.",
        "If you must change the time, move it by fifteen minutes a day.",
        "After two weeks most people fall asleep faster without trying.",
        "It is the cheapest habit on this list, and the one that matters most.",
    ]),
    ("Get light in the morning", ["Ten minutes outside", "Before noon", "Dim lights at night"], [
        "Seek morning light.",
        "Morning light tells your brain that the day has started.",
        "Ten minutes outside is enough, even when the sky is grey.",
        "Indoor lamps are far dimmer than daylight, so a window seat is not the same.",
        "In the evening, do the opposite and keep the lights low and warm.",
        "Bright screens late at night push your sleepiness later.",
        "Turn the brightness down an hour before bed, or put the phone away.",
        "Light is the strongest signal your body clock has, so use it on purpose.",
    ]),
    ("Watch the caffeine", ["Half-life of five hours", "Stop after lunch", "Count tea and cola"], [
        "Cut afternoon caffeine.",
        "Stop drinking caffeine after lunch.",
        "Caffeine stays in your blood for many hours after the cup is empty.",
        "Half of an afternoon coffee is still there when you go to bed.",
        "You may fall asleep anyway, but your deep sleep gets shorter.",
        "Remember that tea, cola and chocolate count too.",
        "If you need a lift in the afternoon, try a short walk instead.",
        "Most people notice the difference within a week.",
        "Keep your morning coffee, and simply move the last cup earlier.",
    ]),
    ("Make the room cool and dark", ["Around eighteen degrees", "Blackout curtains", "Quiet, or steady noise"], [
        "Cool the bedroom.",
        "Your body temperature drops as you fall asleep, and a cool room helps it along.",
        "Around eighteen degrees suits most adults.",
        "Block street light with thick curtains or a simple eye mask.",
        "Small standby lights are worth covering with a bit of tape.",
        "If the street is noisy, a fan or steady background noise can mask it.",
        "Keep the bed for sleep, so your brain links it with rest.",
        "None of this costs much, and it works every single night.",
    ]),
    ("Wind down on purpose", ["Thirty quiet minutes", "Write tomorrow's list", "Same routine nightly"], [
        "Wind down slowly.",
        "Give yourself time to land.",
        "Sleep is not a switch, so plan thirty quiet minutes before bed.",
        "Write down tomorrow's tasks, so your mind can let them go.",
        "Read something calm on paper, or take a warm shower.",
        "Do the same few steps in the same order every night.",
        "Over time the routine itself becomes the signal to sleep.",
        "Avoid work email and heated arguments in this window.",
        "If you cannot sleep after twenty minutes, get up and read until you feel drowsy.",
    ]),
    ("Move during the day", ["Daily activity", "Finish hard workouts early", "Short naps only"], [
        "Move every day.",
        "People who are active during the day fall asleep faster at night.",
        "A brisk walk counts, you do not need a gym.",
        "Try to finish hard workouts a few hours before bed.",
        "If you nap, keep it under twenty minutes and before three in the afternoon.",
        "Longer naps steal the sleep pressure you need at night.",
        "Morning exercise outdoors gives you light and movement at once.",
        "Small and regular beats big and rare.",
    ]),
]
CTA = [
    "Thanks for watching.",
    "Pick one habit this week.",
    "Then add another when it sticks.",
    "Subscribe for more plain guides like this one.",
]


def estimate_seconds(chosen: dict[str, list[str]]) -> float:
    """Narration length for these sentences at WPM, with the voice's fixed pauses."""
    blocks = [s for s in chosen.values() if s]
    sentences = sum(len(s) for s in blocks)
    words = sum(word_count(x) for s in blocks for x in s)
    pauses = (audio_mod.LEAD_S + audio_mod.TAIL_S + (len(blocks) - 1) * audio_mod.BLOCK_PAUSE_S
              + (sentences - len(blocks)) * audio_mod.SENTENCE_PAUSE_S)
    return words / WPM * 60 + pauses


def build_blocks(seconds: float) -> tuple[list[Block], dict[str, list[str]]]:
    """8 blocks whose narration should last about ``seconds``, and the section bullets."""
    pools = {"hook": HOOK, **{f"section-{i}": s for i, (_, _, s) in enumerate(SECTIONS, start=1)}, "cta": CTA}
    chosen = {key: [pool[0]] for key, pool in pools.items()}
    # Add sentences round-robin (sections first) while that brings the estimate closer to the target;
    # past the end of a section's pool its sentences repeat, so any length can be reached.
    order = [f"section-{i}" for i in range(1, len(SECTIONS) + 1)] + ["hook", "cta"]
    for key in itertools.cycle(order):
        pool = pools[key]
        n = len(chosen[key])
        if not key.startswith("section-") and n >= len(pool):
            continue
        before = estimate_seconds(chosen)
        trial = {**chosen, key: chosen[key] + [pool[n % len(pool)]]}
        if abs(estimate_seconds(trial) - seconds) >= abs(before - seconds):
            break
        chosen = trial
    blocks = [Block("hook", TITLE, chosen["hook"])]
    blocks += [Block(f"section-{i}", heading, chosen[f"section-{i}"]) for i, (heading, _, _) in enumerate(SECTIONS, start=1)]
    blocks.append(Block("cta", "Thanks for watching", chosen["cta"]))
    bullets = {f"section-{i}": b for i, (_, b, _) in enumerate(SECTIONS, start=1)}
    return blocks, bullets


def speak(blocks: list[Block], wav: Path, seconds: float) -> Narration:
    """Narrate with Piper at its natural pace; re-speak once at another pace if >5% off the target."""
    from pipeline.providers.piper_voice import PiperTTS

    voice = PiperTTS()
    pairs = [(b.key, b.sentences) for b in blocks]
    pace = voice.natural_pace
    narration = voice.synthesize(pairs, wav, length_scale=pace)
    if abs(narration.duration_s - seconds) / seconds > RETIME_TOLERANCE:
        speech = sum(c.end - c.start for c in narration.cues)
        fixed = narration.duration_s - speech  # pauses do not stretch
        wanted = max(seconds - fixed, speech * 0.5)
        low, high = voice.pace_range
        scale = min(max(pace * wanted / speech, low), high)
        if abs(scale - pace) > 0.01:
            print(f"  narration {narration.duration_s:.1f} s at pace {pace:g}: re-speaking at {scale:.2f}", flush=True)
            narration = voice.synthesize(pairs, wav, length_scale=scale)
    return narration


def render_baseline(segments: list[Segment], narration: Path, display: list[tuple[float, float, list[str]]],
                    size: tuple[int, int], fps: int, out: Path, style: str = "peers") -> Path:
    """The moviepy way: per-frame zoom, composited TextClip subtitles, write_videofile.

    ``peers`` keeps moviepy's defaults as faceless-video projects use them (transparent
    composites, ``method="compose"``); ``opaque`` gives the baseline every benefit of the doubt.
    """
    opaque = style == "opaque"
    from moviepy import CompositeVideoClip, ImageClip, concatenate_videoclips, vfx

    total = sum(s.frames for s in segments) / fps
    scenes = []
    for seg in segments:
        duration = seg.frames / fps
        image = ImageClip(str(seg.image)).with_duration(duration)
        zoomed = image.resized(lambda t: 1 + 0.04 * t)  # Ken Burns: rescale the whole slide every frame
        scene = (CompositeVideoClip([zoomed.with_position("center")], size=size, bg_color=(0, 0, 0)) if opaque
                 else CompositeVideoClip([zoomed.with_position("center")], size=size))
        scene = scene.with_duration(duration)
        scenes.append(scene.with_effects([vfx.FadeIn(FADE_S), vfx.FadeOut(FADE_S)]))
    video = concatenate_videoclips(scenes) if opaque else concatenate_videoclips(scenes, method="compose")
    subtitles = subtitle_clips(display, size, total)
    final = (CompositeVideoClip([video, *subtitles], use_bgclip=True) if opaque  # no mask to build per frame
             else CompositeVideoClip([video, *subtitles])).with_duration(total)
    return write_with_voice(final, narration, total, fps, out)


def write_with_voice(final, narration: Path, total: float, fps: int, out: Path, sources: list | None = None) -> Path:
    """Add the narration and write the file the way the peers do (libx264 veryfast, 2 threads); close everything."""
    from moviepy import AudioFileClip

    voice = AudioFileClip(str(narration))
    final = final.with_audio(voice.with_duration(min(voice.duration, total)))
    try:
        final.write_videofile(str(out), fps=fps, codec="libx264", preset="veryfast", threads=2, audio_codec="aac",
                              temp_audiofile_path=str(out.parent), logger=None)
    finally:
        final.close()
        voice.close()
        for source in sources or []:
            source.close()
    return out


def subtitle_clips(display: list[tuple[float, float, list[str]]], size: tuple[int, int], total: float) -> list:
    """One TextClip per subtitle screen, placed where our ASS puts it (the peers' way of burning subtitles)."""
    from moviepy import TextClip

    layout = layout_for(size)
    clips = []
    for start, end, lines in display:
        if start >= total:
            continue
        text = TextClip(font=str(BOLD), text="\n".join(lines), font_size=layout.font_size, color="white",
                        stroke_color="black", stroke_width=4, method="label", text_align="center",
                        margin=(8, 12))  # without a margin moviepy clips descenders under a stroke
        clips.append(text.with_start(start).with_duration(min(end, total) - start)
                     .with_position(("center", size[1] - layout.margin_v - text.h)))
    return clips


def make_stock_clips(folder: Path) -> list[Path]:
    """Eight stock-like 1080p30 H.264 clips: moving pictures with grain, 0.7-13 Mbps like real footage."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (source, seconds) in enumerate(STOCK_CLIPS):
        path = folder / f"stock-{i}.mp4"
        # Grain is added after the upscale, at full resolution, so the encoder cannot smooth it away.
        ffmpeg.run(["-f", "lavfi", "-i", f"{source},scale=1920:1080:flags=bicubic,format=yuv420p,noise=alls=4:allf=t+u",
                    "-t", f"{seconds}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-maxrate", "12M",
                    "-bufsize", "24M", "-g", "60", "-pix_fmt", "yuv420p", str(path)], total_s=seconds)
        paths.append(path)
    return paths


def render_stock_baseline(shots: list[Shot], narration: Path, display: list[tuple[float, float, list[str]]],
                          size: tuple[int, int], fps: int, out: Path) -> Path:
    """The moviepy way with footage: VideoFileClip, resized and cropped to fill, looped when short,
    CrossFadeIn into a composed concatenation, TextClip subtitles, write_videofile."""
    from moviepy import CompositeVideoClip, VideoFileClip, concatenate_videoclips, vfx

    w, h = size
    total = sum(s.frames for s in shots) / fps
    sources, scenes = [], []
    for i, shot in enumerate(shots):
        seconds = shot.frames / fps + (SCENE_XFADE_S if i < len(shots) - 1 else 0.0)  # overlap the crossfade
        source = VideoFileClip(str(shot.path), audio=False)
        sources.append(source)
        scale = max(w / source.w, h / source.h)  # cover the frame, then cut the middle out
        clip = source.resized(scale).cropped(x_center=source.w * scale / 2, y_center=source.h * scale / 2,
                                             width=w, height=h)
        clip = clip.with_effects([vfx.Loop(duration=seconds)]) if source.duration < seconds else clip.subclipped(0, seconds)
        scenes.append(clip.with_effects([vfx.CrossFadeIn(SCENE_XFADE_S)]) if i else clip)
    video = concatenate_videoclips(scenes, method="compose", padding=-SCENE_XFADE_S)
    final = CompositeVideoClip([video, *subtitle_clips(display, size, total)]).with_duration(total)
    return write_with_voice(final, narration, total, fps, out, sources)


def cpu_seconds() -> float:
    """User and system CPU time of this process and its finished children (ffmpeg runs as a child)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def mbps(info: ffmpeg.StreamInfo, path: Path) -> float:
    """Video bitrate in Mbps from the stream report, else the whole file's rate."""
    if info.video_bitrate_kbps:
        return info.video_bitrate_kbps / 1000
    return path.stat().st_size * 8 / info.duration_s / 1e6 if info.duration_s else 0.0


def check(name: str, info: ffmpeg.StreamInfo, expected_s: float) -> list[str]:
    problems = []
    if (info.width, info.height) != SIZE:
        problems.append(f"{name} is {info.width}x{info.height}, not {SIZE[0]}x{SIZE[1]}")
    if info.video_codec != "h264":
        problems.append(f"{name} video is {info.video_codec}, not h264")
    if not info.audio_codec:
        problems.append(f"{name} has no audio")
    if abs(info.duration_s - expected_s) > DURATION_TOLERANCE_S:
        problems.append(f"{name} lasts {info.duration_s:.2f} s, expected {expected_s:.2f} s")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="target narration length (default 60)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "render",
                        help="work folder for inputs and both videos (default bench/out/render)")
    parser.add_argument("--skip-baseline", action="store_true", help="render ours only; baseline and speedup print n/a")
    parser.add_argument("--baseline", choices=["peers", "opaque"], default="peers",
                        help="peers: moviepy defaults as popular projects use them; opaque: the fastest honest "
                             "moviepy variant (no alpha per frame)")
    parser.add_argument("--keep", action="store_true", help="keep the inputs and both videos in the work folder")
    parser.add_argument("--scenes", choices=["slides", "stock"], default="slides",
                        help="slides: the slideshow (default); stock: 8 stock-like 1080p clips, crossfaded")
    footage = Settings.model_fields
    parser.add_argument("--footage-preset", default=footage["x264_footage_preset"].default,
                        help="--scenes stock: the libx264 preset (default: what footage renders use)")
    parser.add_argument("--footage-params", default=footage["x264_footage_params"].default,
                        help="--scenes stock: extra libx264 options (default: what footage renders use)")
    parser.add_argument("--captions", choices=["sentence", "karaoke", "pop"], default=None,
                        help="render ours with this caption style and compare it with ours with plain subtitles "
                             "(instead of moviepy)")
    parser.add_argument("--music", action="store_true",
                        help="render ours with a ducked music bed (a generated 40 s track, looped) and compare it "
                             "with ours with the narration alone (instead of moviepy)")
    args = parser.parse_args(argv)
    if args.captions or args.music:
        args.skip_baseline = True  # the baseline is our own plain render, in the same run
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if not args.skip_baseline and importlib.util.find_spec("moviepy") is None:
        print(f"moviepy is not installed; the baseline needs it: {INSTALL_HINT} (add --no-deps to keep the "
              "project's Pillow, see that file), or run with --skip-baseline.", file=sys.stderr)
        return 2

    BENCH_LOAD.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    work = args.out.resolve()  # render_video runs ffmpeg inside out.parent: keep every path absolute
    work_existed = work.exists()
    work.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    try:
        return run(args, work, created)
    finally:
        if not args.keep:
            for path in created:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            for temp in work.glob("*TEMP_MPY*"):  # moviepy's temporary audio, if a run was interrupted
                temp.unlink(missing_ok=True)
            if not work_existed and not any(work.iterdir()):
                work.rmdir()


def run(args: argparse.Namespace, work: Path, created: list[Path]) -> int:
    # 1. Shared inputs, built once.
    print(f"Building inputs in {work} ...", flush=True)
    started = time.perf_counter()
    blocks, bullets = build_blocks(args.seconds)
    wav = work / "narration.wav"
    created.append(wav)
    narration = speak(blocks, wav, args.seconds)
    words = sum(word_count(s) for b in blocks for s in b.sentences)
    display = display_cues(narration.cues, layout_for(SIZE))
    print(f"  narration {narration.duration_s:.2f} s (target {args.seconds:g} s), {words} words, "
          f"{len(narration.cues)} sentences, {len(display)} subtitle screens", flush=True)
    ass = work / "subtitles.ass"
    created.append(ass)
    if args.scenes == "stock":
        job = stock_job(args, work, created, blocks, narration, ass, display)
    else:
        job = slides_job(args, work, created, blocks, bullets, narration, ass, display)
    print(f"  inputs ready in {time.perf_counter() - started:.1f} s", flush=True)

    if args.captions or args.music:
        return compare_extras(args, work, created, job, narration)

    # 2. Ours, then 3. the baseline, one after the other.
    ours = work / "ours.mp4"
    created.append(ours)
    print(f"Rendering ours ({job['ours_name']}) ...", flush=True)
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    job["ours"](ours)
    ours_s = time.perf_counter() - t0
    CPU_S["ours"] = cpu_seconds() - cpu0
    print(f"  {ours_s:.1f} s", flush=True)
    base_s = None
    baseline = work / "baseline.mp4"
    if not args.skip_baseline:
        created.append(baseline)
        print("Rendering baseline (moviepy, libx264 veryfast, 2 threads) ...", flush=True)
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        job["baseline"](baseline)
        base_s = time.perf_counter() - t0
        CPU_S["baseline"] = cpu_seconds() - cpu0
        print(f"  {base_s:.1f} s", flush=True)
    return report(args, work, job["video_s"], [("ours", ours, ours_s)]
                  + ([("baseline", baseline, base_s)] if base_s is not None else []))


def make_music(work: Path) -> Path:
    """A 40 s music-like bed (two detuned chords over soft noise, a slow tremolo), louder than a bed should be."""
    path = work / "bed.m4a"
    ffmpeg.run(["-f", "lavfi", "-i", "sine=f=220:d=40", "-f", "lavfi", "-i", "sine=f=277:d=40", "-f", "lavfi",
                "-i", "anoisesrc=d=40:a=0.05", "-filter_complex", "[0][1][2]amix=inputs=3,volume=4,tremolo=f=2:d=0.5",
                "-c:a", "aac", "-b:a", "128k", str(path)])
    return path


def compare_extras(args, work: Path, created: list[Path], job: dict, narration: Narration) -> int:
    """Ours with the chosen caption style and/or music against ours with plain subtitles and the narration
    alone: the same scenes, encoder and machine, one after the other."""
    from pipeline.media import captions
    from pipeline.media.music import Track, measure_loudness, plan_sound

    wav = work / "narration.wav"
    styled = work / "styled.ass"
    created.append(styled)
    style = captions.CaptionStyle(args.captions or "sentence", boxed=args.scenes == "stock")
    captions.write_ass(narration.cues, SIZE, style, styled)
    track = None
    if args.music:
        bed = make_music(work)
        created.append(bed)
        loud = measure_loudness(bed)
        track = Track(bed, "bed", 40.0, loud.integrated_lufs, loud.true_peak_db)
    plain, extra = work / "plain.mp4", work / "extra.mp4"
    created += [plain, extra]
    name = " + ".join(x for x in [f"{args.captions} captions" if args.captions else "", "music" if args.music else ""] if x)
    print("Rendering plain (sentence subtitles, narration only) ...", flush=True)
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    job["ours"](plain)
    plain_s, CPU_S["plain"] = time.perf_counter() - t0, cpu_seconds() - cpu0
    print(f"  {plain_s:.1f} s", flush=True)
    print(f"Rendering with {name} (the sound measured first, as the render stage does) ...", flush=True)
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    sound = plan_sound(wav, track, narration.duration_s) if args.music else None
    job["extra"](extra, styled, sound)
    extra_s, CPU_S["extra"] = time.perf_counter() - t0, cpu_seconds() - cpu0
    print(f"  {extra_s:.1f} s", flush=True)
    problems = [p for label, path in (("plain", plain), ("extra", extra)) for p in check(label, ffmpeg.probe(path),
                                                                                        job["video_s"])]
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    for label in ("plain", "extra"):
        print(f"{label} used {CPU_S[label]:.1f} CPU-s")
    print(f"load average before/after: {BENCH_LOAD[0]} / {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nrender: plain {plain_s:.1f} s, with {name} {extra_s:.1f} s, cost {extra_s / plain_s:.2f}x "
          f"({(extra_s / plain_s - 1) * 100:+.0f}%) wall, {CPU_S['extra'] / CPU_S['plain']:.2f}x CPU", flush=True)
    return 1 if problems else 0


def slides_job(args, work: Path, created: list[Path], blocks: list[Block], bullets: dict[str, list[str]],
               narration: Narration, ass: Path, display) -> dict:
    """The slideshow: 8 slides with motion (today's default look)."""
    slides_dir = work / "slides"
    created.append(slides_dir)
    paths = render_slides(blocks, bullets, Brand(), SIZE, slides_dir)
    slides = [Slide(p, b.key) for p, b in zip(paths, blocks)]
    write_ass(narration.cues, SIZE, ass)
    segments = plan_segments(slides, narration.cues, narration.duration_s, FPS)
    if len(segments) != len(slides):
        raise SystemExit(f"plan_segments made {len(segments)} segments for {len(slides)} slides: every block needs speech.")
    print(f"  {len(slides)} slides {SIZE[0]}x{SIZE[1]} at {FPS} fps, segments "
          + " ".join(f"{s.frames / FPS:.1f}s:{s.motion}" for s in segments), flush=True)
    wav = work / "narration.wav"
    return {"ours_name": "render_video, libx264 superfast", "video_s": sum(s.frames for s in segments) / FPS,
            "ours": lambda out: render_video(segments, wav, ass, SIZE, out, EncodeOptions(), device="cpu",
                                             fonts_dir=FONTS_DIR),
            "extra": lambda out, subs, sound: render_video(segments, wav, subs, SIZE, out, EncodeOptions(),
                                                           device="cpu", fonts_dir=FONTS_DIR, sound=sound),
            "baseline": lambda out: render_baseline(segments, wav, display, SIZE, FPS, out, args.baseline)}


def stock_job(args, work: Path, created: list[Path], blocks: list[Block], narration: Narration, ass: Path,
              display) -> dict:
    """Stock footage: one clip per block, crossfaded, boxed subtitles."""
    clips_dir = work / "stock"
    created.append(clips_dir)
    t0 = time.perf_counter()
    clips = make_stock_clips(clips_dir)
    print(f"  {len(clips)} stock clips made in {time.perf_counter() - t0:.1f} s: "
          + " ".join(f"{ffmpeg.probe(c).bitrate_kbps / 1000:.1f}Mbps" for c in clips), flush=True)
    first_cue = {}
    for cue in narration.cues:
        first_cue.setdefault(cue.block, cue.start)
    starts = [0.0] + [first_cue[b.key] for b in blocks[1:]]
    ends = starts[1:] + [narration.duration_s]
    visuals = [SceneVisual(c, "video", s, e, b.key) for c, s, e, b in zip(clips, starts, ends, blocks)]
    write_ass(narration.cues, SIZE, ass, boxed=True)
    shots = plan_shots(visuals, narration.duration_s, FPS)
    print(f"  {len(shots)} scenes {SIZE[0]}x{SIZE[1]} at {FPS} fps: "
          + " ".join(f"{s.frames / FPS:.1f}s/{s.clip_s:.1f}s" for s in shots) + " (scene/clip)", flush=True)
    wav = work / "narration.wav"
    opts = EncodeOptions(preset=args.footage_preset, x264_params=args.footage_params)  # what footage renders use
    return {"video_s": sum(s.frames for s in shots) / FPS,
            "ours_name": f"render_scenes, libx264 {opts.preset}" + (f" {opts.x264_params}" if opts.x264_params else ""),
            "ours": lambda out: render_scenes(visuals, wav, ass, SIZE, out, opts,
                                              duration_s=narration.duration_s, device="cpu", fonts_dir=FONTS_DIR),
            "extra": lambda out, subs, sound: render_scenes(visuals, wav, subs, SIZE, out, opts,
                                                            duration_s=narration.duration_s, device="cpu",
                                                            fonts_dir=FONTS_DIR, sound=sound),
            "baseline": lambda out: render_stock_baseline(shots, wav, display, SIZE, FPS, out)}


def report(args, work: Path, video_s: float, rows: list[tuple[str, Path, float]]) -> int:
    """Probe and check both outputs, print the table and, last, the one-line summary."""
    infos = {name: ffmpeg.probe(path) for name, path, _ in rows}
    problems = [p for name, _, _ in rows for p in check(name, infos[name], video_s)]
    if "baseline" in infos and abs(infos["ours"].duration_s - infos["baseline"].duration_s) > DURATION_TOLERANCE_S:
        problems.append(f"durations differ: ours {infos['ours'].duration_s:.2f} s, "
                        f"baseline {infos['baseline'].duration_s:.2f} s")
    print()
    print(f"{'output':<10}{'duration s':>12}{'size MB':>10}{'video Mbps':>12}{'render s':>10}{'x real time':>13}  format")
    for name, path, secs in rows:
        info = infos[name]
        print(f"{name:<10}{info.duration_s:>12.2f}{path.stat().st_size / 1e6:>10.2f}{mbps(info, path):>12.2f}"
              f"{secs:>10.1f}{info.duration_s / secs:>12.2f}x  {info.width}x{info.height} {info.video_codec} "
              f"{info.pix_fmt} {info.fps:g}fps + {info.audio_codec}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if args.keep:
        print(f"Kept inputs and videos in {work}")
    print(f"load average before/after: {BENCH_LOAD[0]} / {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # CPU time does not depend on what else the machine runs: it says what two idle cores would do.
    cores = os.cpu_count() or 1
    for name, _, _ in rows:
        used = CPU_S[name]
        print(f"{name} used {used:.1f} CPU-s ({used / infos[name].duration_s:.2f} per video second): at most "
              f"{cores * infos[name].duration_s / used:.1f}x real time on {cores} idle cores")
    print()
    ours_s = rows[0][2]
    realtime = infos["ours"].duration_s / ours_s
    bitrate = mbps(infos["ours"], rows[0][1])
    if len(rows) == 1:
        baseline_part, speedup_part = "baseline n/a", "speedup n/a"
    else:
        base_s = rows[1][2]
        baseline_part, speedup_part = f"baseline {base_s:.1f} s", f"speedup {base_s / ours_s:.1f}x"
    print(f"render: ours {ours_s:.1f} s, {baseline_part}, {speedup_part}, ours {realtime:.1f}x real time, "
          f"{bitrate:.1f} Mbps", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

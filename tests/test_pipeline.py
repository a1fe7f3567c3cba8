"""End to end with the real local providers: a topic in, a checked video, ledger and outbox out."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import jobs
from pipeline.media import ffmpeg
from pipeline.workbench import VideoRequest, Workbench
from conftest import EXAMPLE_SOURCE

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

OUTLINE = """- Octopuses have three hearts
  - Two pump blood through the gills and one through the body.
- Their blood is blue
  - It carries oxygen with copper instead of iron.
"""


def test_a_topic_becomes_a_checked_published_video(settings):
    with Workbench(settings, start_worker=False) as wb:
        job = wb.enqueue(VideoRequest("Why octopuses are so smart", duration_s=20, outline=OUTLINE))
        assert wb.worker.run_job(job) == "done"
        video = wb.db.query_dicts("SELECT * FROM videos WHERE job_id = ?", [job])[0]
        info = ffmpeg.probe(Path(video["video_path"]))
        assert (info.width, info.height, info.video_codec, info.audio_codec) == (1920, 1080, "h264", "aac")
        assert 18 <= info.duration_s <= 22
        assert video["quality_score"] >= 70 and video["publish_state"] == "outbox"
        detail = json.loads(video["quality_detail"])
        assert {c["name"] for c in detail["checks"]} == {"duration", "audio", "subtitles", "format", "script", "thumbnail",
                                                         "substance", "repetition", "traceable", "language", "glyphs"}
        script = json.loads((settings.jobs_dir / str(job) / "script.json").read_text())
        assert "Two pump blood through the gills and one through the body." in " ".join(
            s for sec in script["sections"] for s in sec["sentences"])
        ledger = wb.db.query("SELECT DISTINCT stage FROM cost_ledger WHERE job_id = ?", [job])
        assert {r[0] for r in ledger} == set(jobs.STAGES)  # every stage ledgered, local ones at $0
        assert wb.db.query_one("SELECT sum(usd), sum(compute_s) FROM cost_ledger WHERE job_id = ?", [job])[1] > 0
        outbox = Path(video["publish_ref"])
        body = json.loads((outbox / "metadata.json").read_text())
        assert body["status"]["containsSyntheticMedia"] is True and body["status"]["selfDeclaredMadeForKids"] is False
        assert set(jobs.artifacts(wb.db, job)) >= {"script", "narration", "timings", "slides", "video", "subtitles",
                                                   "captions", "webvtt", "thumbnail", "quality", "publish"}


def test_shorts_are_vertical(settings):
    with Workbench(settings, start_worker=False) as wb:
        job = wb.enqueue(VideoRequest("Octopus arms", duration_s=15, format="shorts", sources=[EXAMPLE_SOURCE]))
        assert wb.worker.run_job(job) == "done"
        path = wb.db.query_one("SELECT video_path FROM videos WHERE job_id = ?", [job])[0]
        info = ffmpeg.probe(Path(path))
        assert (info.width, info.height) == (1080, 1920)


def test_below_the_threshold_the_video_is_held_not_published(settings):
    settings.quality_threshold = 100.5  # nothing can pass
    with Workbench(settings, start_worker=False) as wb:
        job = wb.enqueue(VideoRequest("Why octopuses are so smart", duration_s=12, sources=[EXAMPLE_SOURCE]))
        assert wb.worker.run_job(job) == "held"
        stages = {s["stage"]: s["status"] for s in jobs.job_stages(wb.db, job)}
        assert stages["quality"] == "done" and stages["publish"] == "skipped"
        assert wb.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job])[0] == "held"
        assert not settings.outbox_dir.exists() or not any(settings.outbox_dir.rglob("metadata.json"))
        held = wb.db.query_one("SELECT message FROM job_events WHERE job_id = ? AND status = 'held'", [job])[0]
        assert held.startswith("quality ") and "< 100" in held


def test_the_background_worker_makes_queued_videos(settings):
    with Workbench(settings, start_worker=True) as wb:
        ids, errors = wb.enqueue_batch(["Octopus hearts", "", "   ", "Octopus blood"], duration_s=12,
                                       sources=[EXAMPLE_SOURCE])
        assert errors == [] and len(ids) == 2
        assert wb.worker.wait_idle(timeout=240)
        assert [jobs.get_job(wb.db, j)["status"] for j in ids] == ["done", "done"]


def _ffmpeg_writing_into(folder: Path, wait_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + wait_s
    while True:
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "ffmpeg" in cmdline and str(folder) in cmdline:
                pids.append(int(entry.name))
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def _cli(*args, data_dir, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args, "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_a_killed_worker_resumes_the_same_job_without_redoing_finished_stages(tmp_path):
    data = tmp_path / "data"
    proc = _cli("make", "Why octopuses are so smart", "--duration", "40", "--source", EXAMPLE_SOURCE, data_dir=data)
    job_dir = data / "jobs" / "1"
    partials = lambda: list(job_dir.glob("video.partial-*.mp4"))  # noqa: E731
    deadline = time.monotonic() + 120
    while not partials() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert partials(), proc.stderr.read() if proc.poll() is not None else "render never started"
    time.sleep(1.0)  # well into the render
    os.kill(proc.pid, signal.SIGKILL)  # a crash mid-render: no cleanup runs
    proc.wait()
    assert _ffmpeg_writing_into(job_dir) == []  # its ffmpeg died with it: no orphan still writing
    script_mtime = (data / "jobs" / "1" / "script.json").stat().st_mtime_ns
    wav_mtime = (data / "jobs" / "1" / "narration.wav").stat().st_mtime_ns

    from pipeline.db import open_database
    db = open_database(data / "ytempire.duckdb")
    before = dict(db.query("SELECT stage, count(*) FROM cost_ledger GROUP BY stage"))
    assert jobs.get_job(db, 1)["status"] == "running"  # what the crash left behind
    db.close()
    assert set(before) == {"script", "voice", "scenes", "visuals"}

    resume = _cli("work", "--until-empty", data_dir=data)
    out, err = resume.communicate(timeout=300)
    assert resume.returncode == 0, err

    db = open_database(data / "ytempire.duckdb")
    try:
        assert jobs.get_job(db, 1)["status"] == "done", jobs.get_job(db, 1)["error_message"]
        attempts = dict(db.query("SELECT stage, attempts FROM job_stages WHERE job_id = 1"))
        assert attempts["script"] == attempts["voice"] == attempts["scenes"] == attempts["visuals"] == 1
        assert attempts["render"] == 2
        after = dict(db.query("SELECT stage, count(*) FROM cost_ledger GROUP BY stage"))
        assert {k: after[k] for k in before} == before  # nothing finished was charged again
        assert db.query_one("SELECT count(*) FROM jobs")[0] == 1  # the same job, not a second one
    finally:
        db.close()
    assert (data / "jobs" / "1" / "script.json").stat().st_mtime_ns == script_mtime
    assert (data / "jobs" / "1" / "narration.wav").stat().st_mtime_ns == wav_mtime
    assert partials() == []  # the crashed run's partial file was cleared


def _music_folder(folder: Path) -> Path:
    """A folder with one generated 30 s music-like track (chords over soft noise) and its licence note."""
    folder.mkdir(parents=True, exist_ok=True)
    track = folder / "bed.m4a"
    ffmpeg.run(["-f", "lavfi", "-i", "sine=f=220:d=30", "-f", "lavfi", "-i", "sine=f=277:d=30", "-f", "lavfi",
                "-i", "anoisesrc=d=30:a=0.05", "-filter_complex", "[0][1][2]amix=inputs=3,volume=4,tremolo=f=2:d=0.5",
                "-c:a", "aac", "-b:a", "128k", str(track)])
    (folder / "bed.m4a.txt").write_text("CC0, made for the test", encoding="utf-8")
    return track


def test_a_sourced_short_lights_its_words_over_ducked_music_and_a_bare_one_is_held(settings, tmp_path):
    """The issue's done-when: a Short from a source with pop captions and the channel's music; the same topic
    with nothing to say is held by the substance check."""
    from pipeline.media.music import measure_loudness
    from pipeline.sources import load_sources

    track = _music_folder(tmp_path / "music")
    with Workbench(settings, start_worker=False) as wb:
        wb.set_music_folder(1, tmp_path / "music")
        job = wb.enqueue(VideoRequest("Octopus intelligence", duration_s=45, format="shorts",
                                      sources=[EXAMPLE_SOURCE], captions="pop"))
        assert wb.worker.run_job(job) == "done"
        folder = settings.jobs_dir / str(job)
        video = wb.db.query_dicts("SELECT * FROM videos WHERE job_id = ?", [job])[0]
        assert video["music_path"] == str(track.resolve()) and video["music_licence"] == "CC0, made for the test"
        # every sentence that is not framing comes from the source, verbatim
        source = " ".join(load_sources([EXAMPLE_SOURCE])[0].text.split())
        script = json.loads((folder / "script.json").read_text())
        cited = [(s, c) for sec in script["sections"] for s, c in zip(sec["sentences"], sec["cites"]) if c]
        assert len(cited) >= 4 and all(c == "S1" and s in source for s, c in cited)
        assert "Sources:" in video["description"] and "octopus" in video["description"].lower()
        # the words light up as they are spoken: one lit event per spoken word, at the voice's own word times
        timings = json.loads((folder / "timings.json").read_text())
        words = [w for c in timings["cues"] for w in c["words"]]
        assert timings["word_timing"] == "alignments" and len(words) >= 60
        accent = "\\c&H32B6F2&"  # the demo channel's accent #F2B632 in ASS's BGR order
        lit = [line for line in (folder / "subtitles.ass").read_text().splitlines()
               if line.startswith("Dialogue:") and accent in line]
        assert len(lit) >= len(words) * 0.95
        assert "<00:00:" in (folder / "captions.vtt").read_text()
        outbox = Path(video["publish_ref"])  # both tracks ship beside the video
        assert (outbox / "captions.srt").is_file() and (outbox / "captions.vtt").read_text().startswith("WEBVTT")
        # the sound: -14 LUFS integrated and true peaks at or under -1 dBTP in the final AAC
        loud = measure_loudness(Path(video["video_path"]))
        assert abs(loud.integrated_lufs + 14) <= 1.0 and loud.true_peak_db <= -1.0, loud

        bare = wb.enqueue(VideoRequest("Octopus intelligence", duration_s=45, format="shorts"))
        assert wb.worker.run_job(bare) == "held"
        said = wb.db.query_one("SELECT message FROM job_events WHERE job_id = ? AND status = 'held'", [bare])[0]
        assert "substance" in said and "add an outline or sources" in said

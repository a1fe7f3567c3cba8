"""The command line: real exit codes and messages for good and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from conftest import EXAMPLE_SOURCE

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path):
    return str(tmp_path / "data")


@pytest.mark.slow
def test_make_prints_one_json_object(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "make", "Why octopuses are so smart", "--duration", "12",
                           "--source", EXAMPLE_SOURCE, "--json", "--data-dir", str(tmp_path / "d")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"job_id", "status", "video", "thumbnail", "duration_s", "quality_score", "cost_usd",
                           "cost_breakdown", "fallbacks", "scenes"}
    assert [b["stage"] for b in result["cost_breakdown"]][:4] == ["script", "voice", "scenes", "visuals"]
    assert result["fallbacks"] == []
    assert result["status"] == "done" and Path(result["video"]).exists() and Path(result["thumbnail"]).exists()
    assert 10 <= result["duration_s"] <= 14 and result["cost_usd"] == 0.0
    assert "render done" in proc.stderr  # progress goes to stderr, never into the JSON


@pytest.mark.parametrize("args, message", [
    (["make", ""], "topic is empty"),
    (["make", "   "], "topic is empty"),
    (["make", "x", "--duration", "5"], "out of range"),
    (["make", "x", "--duration", "5000"], "out of range"),
    (["make", "x", "--format", "shorts", "--duration", "600"], "Shorts are at most"),
    (["make", "x", "--channel", "Nope"], "There is no channel 'Nope'"),
    (["make", "x", "--writer", "gpt-99"], "No price for openai/gpt-99"),
    (["make", "x", "--writer", "typewriter"], "known writer providers are local, openai"),
    (["make", "x", "--voice", "elevenlabs"], "ELEVENLABS_API_KEY is not set"),
    (["make", "x", "--cap", "-1"], "--cap: -1 is out of range"),
    (["make", "x", "--duration", "nan"], "--duration: nan is out of range"),
    (["make", "x", "--duration", "inf"], "--duration: inf is out of range"),
    (["make", "x", "--duration", "-5"], "--duration: -5 is out of range"),
    (["make", "x", "--duration", "1e9"], "--duration: 1e9 is out of range"),
    (["make", "x", "--cap", "nan"], "--cap: nan is out of range"),
    (["jobs", "--limit", "0"], "--limit: 0 is out of range"),
    (["make", "x", "--outline", "/no/such/outline.txt"], "cannot read the outline"),
    (["cancel", "42"], "There is no job 42"),
])
def test_bad_input_exits_2_with_what_to_fix(capsys, data, args, message):
    code, out, err = run(capsys, *args, "--data-dir", data)
    assert code == 2
    assert message in err and out == ""


def test_bad_input_loses_nothing(capsys, data):
    run(capsys, "init", "--data-dir", data)
    from pipeline.db import open_database
    db = open_database(Path(data) / "ytempire.duckdb")
    from pipeline import jobs
    jobs.create_job(db, 1, "kept", 60, "landscape", {})
    db.close()
    run(capsys, "make", "x", "--duration", "1", "--data-dir", data)
    code, out, _ = run(capsys, "jobs", "--json", "--data-dir", data)
    assert code == 0 and [j["topic"] for j in json.loads(out)] == ["kept"]


def test_an_unwritable_data_dir_is_refused(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, _, err = run(capsys, "make", "x", "--data-dir", str(blocker / "data"))
    assert code == 2 and "is not writable" in err and "--data-dir" in err


def test_the_database_held_by_the_app_is_refused_clearly(capsys, data):
    run(capsys, "init", "--data-dir", data)
    path = Path(data) / "ytempire.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); "
                               "print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, out, err = run(capsys, "make", "Why octopuses are so smart", "--data-dir", data)
        assert code == 3
        assert f"in use by process {holder.pid}" in err and "Studio page" in err
    finally:
        holder.kill()
        holder.wait()
    code, out, _ = run(capsys, "jobs", "--json", "--data-dir", data)
    assert code == 0 and json.loads(out) == []  # the refused run queued nothing


def test_jobs_cancel_and_retry(capsys, data):
    run(capsys, "init", "--data-dir", data)
    code, out, _ = run(capsys, "jobs", "--data-dir", data)
    assert "no jobs yet" in out
    from pipeline.db import open_database
    from pipeline import jobs
    db = open_database(Path(data) / "ytempire.duckdb")
    job = jobs.create_job(db, 1, "queued one", 60, "landscape", {})
    db.close()
    code, out, _ = run(capsys, "cancel", str(job), "--data-dir", data)
    assert code == 0 and "cancelled" in out
    code, out, _ = run(capsys, "retry", str(job), "--data-dir", data)
    assert code == 0 and "queued again" in out
    code, out, _ = run(capsys, "jobs", "--json", "--data-dir", data)
    assert json.loads(out)[0]["status"] == "queued"
    code, _, err = run(capsys, "retry", str(job), "--data-dir", data)
    assert code == 2 and "already queued" in err


def _pipeline(*args, env_extra=None, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    for key in [k for k, v in env.items() if v is None]:
        del env[key]
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "1e9"])
def test_a_bad_duration_exits_2_from_the_shell(tmp_path, value):
    proc = _pipeline("make", "x", "--duration", value, "--data-dir", str(tmp_path / "d"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "--duration" in err and "out of range" in err and out == ""


@pytest.mark.slow
def test_work_until_empty_drains_the_queue_and_exits_0_with_the_trend_bootstrap_on(tmp_path):
    """The trend bootstrap used to load MiniLM in a thread while `work` exited: SIGABRT, exit 134."""
    from pipeline.config import Settings
    from pipeline.workbench import VideoRequest, Workbench
    data = tmp_path / "data"
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:  # trending data without topics yet
        wb.trends.import_csv(ROOT / "data" / "trends" / "youtube_trending_US_2017-11-14_to_11-28.csv", "US")
        ids = [wb.enqueue(VideoRequest(t, duration_s=10, sources=[EXAMPLE_SOURCE])) for t in ("Octopus arms", "Octopus hearts")]
    proc = _pipeline("work", "--until-empty", "--data-dir", str(data), env_extra={"YTEMPIRE_BOOTSTRAP_TRENDS": None})
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "terminate called" not in err
    listing = json.loads(_pipeline("jobs", "--json", "--data-dir", str(data)).communicate(timeout=120)[0])
    assert sorted(r["id"] for r in listing if r["status"] == "done") == sorted(ids)


@pytest.mark.slow
def test_sigterm_stops_a_running_work_cleanly_and_the_job_resumes(tmp_path):
    import signal
    import time

    import psutil

    from pipeline.config import Settings
    from pipeline.workbench import VideoRequest, Workbench
    data = tmp_path / "data"
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        job = wb.enqueue(VideoRequest("Why octopuses are so smart", duration_s=60, sources=[EXAMPLE_SOURCE]))
    proc = _pipeline("work", "--data-dir", str(data))
    folder = data / "jobs" / str(job)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(folder.glob("video.partial-*.mp4")):
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.2)
    assert list(folder.glob("video.partial-*.mp4")), "the render never started"
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopping (SIGTERM)" in err and "terminate called" not in err
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive  # ffmpeg stopped with it
    assert not list(folder.glob("video.partial-*.mp4"))  # nothing half-written left to look finished
    listing = json.loads(_pipeline("jobs", "--json", "--data-dir", str(data)).communicate(timeout=120)[0])
    assert [r["status"] for r in listing] == ["queued"]  # checkpointed, resumable
    proc = _pipeline("work", "--until-empty", "--data-dir", str(data))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    listing = json.loads(_pipeline("jobs", "--json", "--data-dir", str(data)).communicate(timeout=120)[0])
    assert [r["status"] for r in listing] == ["done"]


def test_media_folders_from_the_terminal(capsys, data, tmp_path):
    from PIL import Image

    folder = tmp_path / "my media"
    folder.mkdir()
    Image.new("RGB", (640, 360), (20, 90, 140)).save(folder / "octopus-on-a-rock.jpg")
    (folder / "octopus-on-a-rock.jpg.txt").write_text("An octopus resting on a rock")
    code, out, err = run(capsys, "media", "add", "/no/such/folder", "--data-dir", str(data))
    assert code == 2 and "is not a folder" in err
    code, out, _ = run(capsys, "media", "add", str(folder), "--data-dir", str(data))
    assert code == 0 and "1" in out
    code, out, _ = run(capsys, "media", "list", "--json", "--data-dir", str(data))
    [row] = json.loads(out)
    assert code == 0 and row["path"] == str(folder.resolve()) and row["images"] == 1 and row["clips"] == 0
    code, out, _ = run(capsys, "media", "remove", str(folder.resolve()), "--data-dir", str(data))
    assert code == 0 and "removed 1 files" in out and (folder / "octopus-on-a-rock.jpg").exists()
    code, out, _ = run(capsys, "media", "list", "--data-dir", str(data))
    assert "no media folders yet" in out

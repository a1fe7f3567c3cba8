"""The command line: real exit codes and messages for good and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main

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
                           "--json", "--data-dir", str(tmp_path / "d")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"job_id", "status", "video", "thumbnail", "duration_s", "quality_score", "cost_usd",
                           "cost_breakdown", "fallbacks"}
    assert [b["stage"] for b in result["cost_breakdown"]][:3] == ["script", "voice", "visuals"]
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

"""Review gates, script versions and publishing from the Library, on real jobs (local writer, Piper, ffmpeg)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import EXAMPLE_SOURCE
from pipeline import jobs
from pipeline.channels import ChannelInput, create_channel, get_channel, update_channel
from pipeline.review import PublishRequest, ReviewError, ScriptEdit, apply_edit, earliest_change
from pipeline.script import Script, Section
from pipeline.workbench import VideoRequest, Workbench
from test_youtube import client_secret, settings_for, token


def attempts(wb, job: int) -> dict[str, int]:
    return {s["stage"]: s["attempts"] for s in jobs.job_stages(wb.db, job)}


def statuses(wb, job: int) -> dict[str, str]:
    return {s["stage"]: s["status"] for s in jobs.job_stages(wb.db, job)}


def ledger_stages(wb, job: int, run: int | None = None) -> set[str]:
    sql = "SELECT DISTINCT stage FROM cost_ledger WHERE job_id = ?" + (" AND run = ?" if run else "")
    return {r[0] for r in wb.db.query(sql, [job, run] if run else [job])}


def channel(wb, name: str, review: str, connect: bool = False) -> int:
    cid = create_channel(wb.db, ChannelInput(name, review=review))
    if connect:
        wb.youtube.add_account(cid, client_secret("proj-r"), token(name.lower()))
    return cid


@pytest.fixture
def wb(tmp_path, yt):
    bench = Workbench(settings_for(tmp_path, yt), start_worker=False)
    yield bench
    bench.close()


@pytest.mark.slow
def test_review_script_waits_before_any_voice_then_an_edit_is_voiced_once(wb):
    channel(wb, "Careful", "script")
    job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Careful", duration_s=15, sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(job) == "review"
    row = jobs.get_job(wb.db, job)
    assert (row["status"], row["awaiting"]) == ("review", "script")
    assert statuses(wb, job)["voice"] == "pending" and ledger_stages(wb, job) == {"script"}  # no voice paid for
    with pytest.raises(jobs.InvalidTransition, match="waiting for your review"):
        wb.retry(job)

    script = wb.review.script(job)
    edit = ScriptEdit.of(script)
    edit.sections[0].sentences[0] = "Every octopus arm can taste what it touches."
    said = wb.review.edit_script(job, edit)
    assert said == {"version": 2, "rerun_from": None, "status": "review"}  # saved, still waiting
    assert [(v["version"], v["author"]) for v in wb.review.versions(job)] == [(1, "writer"), (2, "operator")]
    assert jobs.get_job(wb.db, job)["status"] == "review"
    assert wb.review.script(job).sections[0].sentences[0] == "Every octopus arm can taste what it touches."
    assert wb.review.script(job).sections[0].cites[0] == "outline"  # the operator's own words

    wb.review.approve_script(job)
    assert jobs.get_job(wb.db, job)["status"] == "queued"
    assert wb.worker.run_job(job) == "done"
    assert attempts(wb, job)["script"] == 1 and attempts(wb, job)["voice"] == 1  # approved script voiced once
    srt = (wb.settings.jobs_dir / str(job) / "captions.srt").read_text(encoding="utf-8")
    assert "taste what it touches" in " ".join(srt.split())
    assert wb.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job])[0] == "outbox"


@pytest.mark.slow
def test_review_before_publish_then_publish_with_a_new_title_to_youtube(wb, yt):
    channel(wb, "Gated", "publish", connect=True)
    job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Gated", duration_s=12, sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(job) == "review"
    assert jobs.get_job(wb.db, job)["awaiting"] == "publish"
    assert statuses(wb, job)["quality"] == "done" and statuses(wb, job)["publish"] == "pending"
    assert yt.uploads_of("gated") == []  # nothing went out
    assert wb.review.can_publish(job)[0]

    with pytest.raises(ReviewError, match="YouTube allows 100"):
        wb.review.publish(job, PublishRequest(title="x" * 101))
    with pytest.raises(ReviewError, match="has passed"):
        wb.review.publish(job, PublishRequest(publish_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    assert jobs.get_job(wb.db, job)["status"] == "review"  # a refusal changes nothing

    options = wb.review.thumbnail_options(job)
    assert options and options[-1]["key"] == "card" and all(Path(o["path"]).exists() for o in options)
    said = wb.review.publish(job, PublishRequest(target="youtube", privacy="unlisted", title="Eight arms, one mind",
                                                 tags=["octopus", "biology"], thumbnail="card"))
    assert said["rerun_from"] in ("visuals", "thumbnail") and said["version"] == 2
    assert wb.worker.run_job(job) == "done"
    uploads = yt.uploads_of("gated")
    assert len(uploads) == 1 and uploads[0]["body"]["snippet"]["title"] == "Eight arms, one mind"
    assert uploads[0]["status"]["privacyStatus"] == "unlisted" and uploads[0]["body"]["snippet"]["tags"] == ["octopus", "biology"]
    counts = attempts(wb, job)
    assert counts["script"] == 1 and counts["voice"] == 1 and counts["thumbnail"] == 2 and counts["publish"] == 1
    video = wb.db.query_dicts("SELECT * FROM videos WHERE job_id = ?", [job])[0]
    assert video["publish_state"] == "published" and video["publish_ref"] == uploads[0]["id"]
    assert video["title"] == "Eight arms, one mind"
    result = wb.review.publish_result(job)
    charged = wb.db.query_one("SELECT sum(units) FROM quota_ledger WHERE job_id = ? AND method = 'videos.insert'", [job])
    assert result["url"].endswith(uploads[0]["id"]) and result["quota_units"] > charged[0] > 0  # insert + follow-ups
    runs = wb.review.runs(job)
    assert [r["run"] for r in runs] == [1, 2] and runs[1]["from_stage"] == said["rerun_from"]
    assert "publish" in ledger_stages(wb, job, run=2) and "voice" not in ledger_stages(wb, job, run=2)
    assert not wb.review.can_publish(job)[0]  # on YouTube now
    edit = ScriptEdit.of(wb.review.script(job))
    edit.hook = "A new hook."
    with pytest.raises(ReviewError, match="gone to YouTube"):
        wb.review.edit_script(job, edit)


@pytest.mark.slow
def test_an_outbox_video_is_edited_then_published_to_youtube_from_the_library(wb, yt):
    cid = channel(wb, "Later", "auto")
    job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Later", duration_s=12, sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(job) == "done"
    with pytest.raises(ReviewError, match="not connected to YouTube"):
        wb.review.publish(job, PublishRequest(target="youtube"))

    edit = ScriptEdit.of(wb.review.script(job))
    edit.sections[-1].sentences.append("Some octopuses even use coconut shells as shelters.")
    said = wb.review.edit_script(job, edit)
    assert said["rerun_from"] == "voice" and said["status"] == "queued"
    assert statuses(wb, job)["script"] == "done"  # earlier stages are kept
    assert wb.worker.run_job(job) == "done"
    assert attempts(wb, job)["script"] == 1 and attempts(wb, job)["voice"] == 2

    edit = ScriptEdit.of(wb.review.script(job))
    edit.description = "Updated description."
    assert wb.review.edit_script(job, edit)["rerun_from"] == "publish"  # nothing but publishing reads it
    assert wb.worker.run_job(job) == "done"
    assert attempts(wb, job)["render"] == 2 and attempts(wb, job)["publish"] == 3

    wb.youtube.add_account(cid, client_secret("proj-r"), token("later"))
    wb.review.publish(job, PublishRequest(target="youtube", privacy="private"))
    assert wb.worker.run_job(job) == "done"
    assert len(yt.uploads_of("later")) == 1
    assert yt.uploads_of("later")[0]["body"]["snippet"]["description"].startswith("Updated description.")
    assert [r["run"] for r in wb.review.runs(job)] == [1, 2, 3, 4]


def test_regenerate_writes_a_new_version_and_waits_again(wb):
    channel(wb, "Again", "script")
    job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Again", duration_s=12, sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(job) == "review"
    with pytest.raises(ValueError, match="nosuch"):
        wb.review.regenerate_script(job, "nosuch")
    wb.review.regenerate_script(job, "local")
    assert wb.worker.run_job(job) == "review"  # the new script waits for review too
    assert attempts(wb, job)["script"] == 2 and statuses(wb, job)["voice"] == "pending"
    assert [(v["version"], v["author"]) for v in wb.review.versions(job)] == [(1, "writer"), (2, "writer")]


def test_a_video_may_choose_its_own_gate_and_bulk_actions_report_each_job(wb):
    get = get_channel(wb.db, "Demo Channel")
    update_channel(wb.db, get["id"], ChannelInput(get["name"], review="auto"))
    with pytest.raises(Exception, match="Review must be one of"):
        wb.enqueue(VideoRequest("Octopus intelligence", review="sometimes", sources=[EXAMPLE_SOURCE]))
    a = wb.enqueue(VideoRequest("Octopus arms", duration_s=12, review="script", sources=[EXAMPLE_SOURCE]))
    b = wb.enqueue(VideoRequest("Octopus hearts", duration_s=12, review="script", sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(a) == "review"
    results = wb.bulk("approve", [a, b])
    assert results[0][:2] == (a, True) and results[1][0] == b and not results[1][1]  # b is queued, not waiting
    assert "not waiting" in results[1][2] or "queued" in results[1][2]
    assert wb.bulk("cancel", [b])[0][1] and jobs.get_job(wb.db, b)["status"] == "cancelled"
    with pytest.raises(Exception, match="Unknown bulk action"):
        wb.bulk("explode", [a])


def test_edit_rules_and_what_reruns():
    base = Script("Title", "A hook.", [Section("Arms", ["One.", "Two."], cites=["S1", "S1"])], "Subscribe.", "D",
                  ["a"], 30, 150, references=[{"id": "S1"}])
    same = ScriptEdit.of(base)
    assert earliest_change(base, apply_edit(base, same)) is None
    e = ScriptEdit.of(base)
    e.description = "New"
    assert earliest_change(base, apply_edit(base, e)) is None
    e = ScriptEdit.of(base)
    e.title = "New title"
    assert earliest_change(base, apply_edit(base, e)) == "visuals"
    assert earliest_change(base, apply_edit(base, e), hook_slides=False) == "thumbnail"
    e = ScriptEdit.of(base)
    e.sections[0].heading = "Legs"
    assert earliest_change(base, apply_edit(base, e)) == "scenes"
    e = ScriptEdit.of(base)
    e.sections[0].sentences = ["One.", "Three."]
    edited = apply_edit(base, e)
    assert earliest_change(base, edited) == "voice" and edited.sections[0].cites == ["S1", "outline"]
    for bad, message in [({"title": ""}, "title is empty"), ({"title": "a<b"}, "< and >"),
                         ({"description": "é" * 2501}, "5,000"), ({"tags": ["t" * 501]}, "500"),
                         ({"hook": "", "call_to_action": "", "sections": []}, "says nothing")]:
        e = ScriptEdit.of(base)
        for k, v in bad.items():
            setattr(e, k, v)
        with pytest.raises(ReviewError, match=message):
            apply_edit(base, e)
    e = ScriptEdit.of(base)
    e.sections[0].sentences = ["word " * 200]
    with pytest.raises(ReviewError, match="split it"):
        apply_edit(base, e)


def test_cancel_a_job_waiting_for_review(db):
    cid = create_channel(db, ChannelInput("Waiting", review="script"))
    job = jobs.create_job(db, cid, "t", 12, "landscape", {})
    jobs.claim_next(db)
    jobs.await_review(db, job, "script", "waiting")
    assert jobs.request_cancel(db, job) == "cancelled"
    assert jobs.get_job(db, job)["awaiting"] is None
    with pytest.raises(jobs.InvalidTransition):
        jobs.resume(db, job, "approve", approve="script")  # cancelled, not waiting
    events = [e["status"] for e in db.query_dicts("SELECT status FROM job_events WHERE job_id = ? ORDER BY id", [job])]
    assert events[-2:] == ["review", "cancelled"]
    assert json.loads(json.dumps(jobs.get_job(db, job)["brief"])) == {}


@pytest.mark.slow
def test_the_cli_reviews_edits_approves_and_publishes(tmp_path, capsys):
    from pipeline.cli import main

    data = str(tmp_path / "data")

    def cli(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--data-dir", data])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = cli("make", "Octopus intelligence", "--duration", "12", "--source", EXAMPLE_SOURCE,
                         "--review", "both", "--json")
    result = json.loads(out)
    job = str(result["job_id"])
    assert code == 6 and result["status"] == "review" and result["awaiting"] == "script"
    assert cli("review", "list")[1].startswith(f"#{job}")
    code, out, _ = cli("review", "show", job, "--json")
    edit = json.loads(out)
    edit["hook"] = "Here is a hook the operator wrote."
    (tmp_path / "edit.json").write_text(json.dumps(edit))
    (tmp_path / "bad.json").write_text('{"title": 1}')
    code, _, err = cli("review", "edit", job, str(tmp_path / "bad.json"))
    assert code == 2 and "review show JOB --json" in err
    code, out, _ = cli("review", "edit", job, str(tmp_path / "edit.json"), "--approve")
    assert code == 0 and "version 2" in out and "approved" in out
    assert cli("work", "--until-empty")[0] == 0
    assert "publishing" in cli("review", "list")[1]  # the second gate
    code, _, err = cli("review", "publish", job, "--to", "youtube")
    assert code == 2 and "not connected" in err
    code, out, _ = cli("review", "publish", job, "--to", "outbox", "--title", "Eight arms")
    assert code == 0
    assert cli("work", "--until-empty")[0] == 0
    code, out, _ = cli("jobs", "--json")
    row = next(j for j in json.loads(out) if str(j["id"]) == job)
    assert row["status"] == "done"
    metadata = next(Path(data, "outbox").rglob("metadata.json"))
    assert json.loads(metadata.read_text())["snippet"]["title"] == "Eight arms"


@pytest.mark.slow
def test_edits_never_change_where_a_video_goes_and_a_changed_video_is_approved_anew(wb, yt):
    cid = channel(wb, "Plain", "auto")
    job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Plain", duration_s=12, privacy="public",
                                  sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(job) == "done"  # exported: the channel was not connected
    wb.youtube.add_account(cid, client_secret("proj-r"), token("plain"))
    edit = ScriptEdit.of(wb.review.script(job))
    edit.description = "Only the description changed."
    assert wb.review.edit_script(job, edit)["rerun_from"] == "publish"
    assert wb.worker.run_job(job) == "done"
    assert yt.uploads_of("plain") == []  # an edit re-exports; only publish() sends it to YouTube
    assert wb.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job])[0] == "outbox"

    gated = channel(wb, "Watched", "publish")
    job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Watched", duration_s=12, sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(job) == "review"
    said = wb.review.publish(job, PublishRequest(target="outbox"))
    assert said["rerun_from"] == "publish"  # nothing changed: no thumbnail redrawn, no second quality check
    assert wb.worker.run_job(job) == "done"
    edit = ScriptEdit.of(wb.review.script(job))
    edit.hook = "A different opening line."
    assert wb.review.edit_script(job, edit)["rerun_from"] == "voice"
    assert wb.worker.run_job(job) == "review"  # the changed video waits to be approved again
    assert jobs.get_job(wb.db, job)["awaiting"] == "publish" and gated


@pytest.mark.slow
def test_versions_keep_their_own_files_and_a_failed_publish_can_go_to_the_outbox(wb):
    cid = channel(wb, "Flaky", "script")
    job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Flaky", duration_s=12, sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(job) == "review"
    first = wb.review.versions(job)[0]
    wb.review.regenerate_script(job)
    assert wb.worker.run_job(job) == "review"
    paths = [Path(v["path"]) for v in wb.review.versions(job)]
    assert len(set(paths)) == 2 and all(p.exists() and p.name != "script.json" for p in paths)
    assert Path(first["path"]) == paths[0]

    brief = jobs.get_job(wb.db, job)["brief"]
    with wb.db.write() as cur:  # as if the channel had been connected when it was queued, then disconnected
        cur.execute("UPDATE jobs SET brief = ? WHERE id = ?", [json.dumps({**brief, "publish_target": "youtube"}), job])
    wb.review.approve_script(job)
    assert wb.worker.run_job(job) == "failed"
    assert jobs.get_job(wb.db, job)["error_stage"] == "publish"
    ok, why = wb.review.can_publish(job)
    assert ok, why
    wb.review.publish(job, PublishRequest(target="outbox"))
    assert wb.worker.run_job(job) == "done"
    assert wb.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job])[0] == "outbox" and cid


@pytest.mark.slow
def test_a_held_video_that_passes_on_retry_is_no_longer_held(wb):
    wb.settings.quality_threshold = 100.5  # nothing can pass
    job = wb.enqueue(VideoRequest("Octopus intelligence", duration_s=12, review="publish", sources=[EXAMPLE_SOURCE]))
    assert wb.worker.run_job(job) == "held"
    assert wb.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job])[0] == "held"
    wb.settings.quality_threshold = 70
    wb.retry(job)
    assert wb.worker.run_job(job) == "review"
    assert wb.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job])[0] == "unpublished"

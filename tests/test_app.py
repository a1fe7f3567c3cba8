"""Every page through Streamlit's AppTest: renders, validates, and makes a video end to end."""

from __future__ import annotations

import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from pipeline.config import Settings
from pipeline.workbench import VideoRequest, Workbench

PAGES = ["overview", "costs", "studio", "library", "channels", "settings"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A data directory holding one real finished video (made once for the module)."""
    data = tmp_path_factory.mktemp("made") / "data"
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        job = wb.enqueue(VideoRequest("Why octopuses are so smart", duration_s=12))
        assert wb.worker.run_job(job) == "done"
    return data


def open_app(data, monkeypatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(data))
    monkeypatch.setenv("YTEMPIRE_POLL_S", "0.1")
    monkeypatch.chdir(ROOT)
    from ui.state import get_workbench
    get_workbench.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    return at


@pytest.fixture(autouse=True)
def release_workbench():
    yield
    from ui.state import get_workbench
    get_workbench.clear()  # closes the workbench (on_release) so the next test opens its own


def problems(at: AppTest) -> list[str]:
    errors = [e.value for e in at.error if "Something went wrong" in e.value]
    return [str(x.value) for x in at.exception] + errors


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_new_install_with_next_steps(tmp_path, monkeypatch, page):
    at = open_app(tmp_path / "data", monkeypatch, page)
    assert problems(at) == []
    if page in ("overview", "library", "costs"):
        assert at.info, "an empty page must tell the operator what to do next"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_a_video(tmp_path, monkeypatch, made, page):
    data = tmp_path / "data"
    shutil.copytree(made, data)
    at = open_app(data, monkeypatch, page)
    assert problems(at) == []


def test_overview_kpis(tmp_path, monkeypatch, made):
    data = tmp_path / "data"
    shutil.copytree(made, data)
    at = open_app(data, monkeypatch, "overview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Videos made"] == "1" and metrics["Published"] == "1" and metrics["Failed jobs"] == "0"
    assert metrics["Success rate"] == "100%"
    assert metrics["Median cost / video"] == "$0.0000"


def test_library_shows_the_video_with_player_script_quality_and_downloads(tmp_path, monkeypatch, made):
    data = tmp_path / "data"
    shutil.copytree(made, data)
    at = open_app(data, monkeypatch, "library")
    assert at.dataframe[0].value["title"][0] == "Why Octopuses Are So Smart"
    assert at.subheader[0].value == "Why Octopuses Are So Smart"
    assert len(at.get("video")) == 1 and len(at.get("image")) == 1
    labels = [d.proto.label for d in at.get("download_button")]
    for label in ("Video", "Thumbnail", "Captions", "Script", "CSV", "Parquet"):
        assert label in labels
    assert any("Score" == m.label for m in at.metric)
    at.text_input(key="lib-search").input("nothing like this").run()
    assert any("No videos match" in i.value for i in at.info)


def test_studio_validation_errors(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    at.button[0].click().run()  # Make video with no topic
    assert any("topic is empty" in e.value for e in at.error)
    at.text_input(key="topic").input("x" * 250).run()
    at.button[0].click().run()
    assert any("keep it under 200" in e.value for e in at.error)


def test_studio_shows_the_chain_and_estimate_before_the_click(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    estimate = at.dataframe[0].value
    assert list(estimate["stage"]) == ["script", "voice", "visuals", "render", "thumbnail", "quality", "publish"]
    assert any("estimated cost" in c.value and "$0.0000" in c.value for c in at.caption)


@pytest.mark.slow
def test_a_video_started_in_studio_runs_to_done_and_appears_in_the_library(tmp_path, monkeypatch):
    data = tmp_path / "data"
    at = open_app(data, monkeypatch, "studio")
    at.text_input(key="topic").input("Octopus arms").run()
    at.number_input(key="duration").set_value(12).run()
    at.button[0].click().run()
    assert any("Queued job #1" in s.value for s in at.success)
    from ui.state import get_workbench
    wb = get_workbench()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = wb.db.query_one("SELECT status FROM jobs WHERE id = 1")[0]
        if status not in ("queued", "running"):
            break
        time.sleep(0.5)
    assert status == "done"
    at.switch_page("pages/library.py").run()
    assert problems(at) == []
    assert at.dataframe[0].value["title"][0] == "Octopus Arms"


def test_studio_batch_reports_bad_lines(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    at.text_area[1].input("First topic\n\n" + "y" * 300 + "\nSecond topic")  # submitted with the form
    form_button = [b for b in at.button if b.proto.label == "Queue batch"][0]
    form_button.click().run()
    assert any("Queued 2 jobs" in s.value for s in at.success)
    assert any(e.value.startswith("line 3:") for e in at.error)


def test_queue_cancel_and_retry(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    from ui.state import get_workbench
    wb = get_workbench()
    wb.worker.stop()  # keep the job queued so the buttons can be exercised
    job = wb.enqueue(VideoRequest("Stay queued"))
    at.run()
    [b for b in at.button if b.key == f"cancel-{job}"][0].click().run()
    assert wb.db.query_one("SELECT status FROM jobs WHERE id = ?", [job])[0] == "cancelled"
    [b for b in at.button if b.key == f"retry-{job}"][0].click().run()
    assert wb.db.query_one("SELECT status FROM jobs WHERE id = ?", [job])[0] == "queued"


def test_channels_create_validate_edit_delete(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "channels")

    def save(name: str, duration: int) -> None:  # form values are sent with the submit
        at.text_input[0].input(name)
        at.number_input[0].set_value(duration)
        [b for b in at.button if b.proto.label == "Save channel"][0].click().run()

    save("", 60)
    assert any("Name is required" in e.value for e in at.error)
    save("Space Daily", 5)
    assert any("out of range" in e.value for e in at.error)
    save("Space Daily", 90)
    assert any("created" in s.value for s in at.success)
    assert "Space Daily" in list(at.dataframe[-1].value["name"])
    save("space daily", 90)
    assert any("already exists" in e.value for e in at.error)
    at.selectbox(key="edit-channel").select("Space Daily").run()
    at.button(key="delete-channel").click().run()
    assert any("Deleted Space Daily" in s.value for s in at.success)


def test_settings_save_and_restart_note(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "settings")
    providers = at.dataframe[0].value.set_index("provider")
    assert all(providers.loc[p, "usable"] for p in ("local", "piper", "slides", "outbox"))
    assert not providers.loc["openai", "usable"] and "OPENAI_API_KEY" in providers.loc["openai", "why_not"]
    assert not providers.loc["elevenlabs", "usable"] and "ELEVENLABS_API_KEY" in providers.loc["elevenlabs", "why_not"]
    at.number_input[1].set_value(80.0)  # quality threshold
    at.number_input[2].set_value(3)  # workers
    [b for b in at.button if b.proto.label == "Save"][0].click().run()
    assert any("Saved" in s.value for s in at.success)
    assert any("restart" in i.value for i in at.info)
    from ui.state import get_workbench
    assert get_workbench().settings.quality_threshold == 80.0


def test_settings_backup_round_trip_and_a_bad_file(tmp_path, monkeypatch, made):
    data = tmp_path / "data"
    shutil.copytree(made, data)
    at = open_app(data, monkeypatch, "settings")
    [b for b in at.button if b.proto.label == "Prepare a backup"][0].click().run()
    assert any(d.proto.label == "Download backup" for d in at.get("download_button"))
    from ui.state import get_workbench
    wb = get_workbench()
    backup = sorted((data / "backups").glob("*.zip"))[-1]
    wb.db.query("DELETE FROM videos")  # lose something, then restore it
    manifest = wb.import_backup(backup)
    assert manifest["rows"]["videos"] == 1
    assert wb.db.query_one("SELECT count(*) FROM videos")[0] == 1
    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    from pipeline.backup import BackupError
    with pytest.raises(BackupError, match="not a YTEmpire backup"):
        wb.import_backup(bad)
    assert wb.db.query_one("SELECT count(*) FROM videos")[0] == 1


@pytest.fixture(scope="module")
def trending(tmp_path_factory):
    """A data directory with the bundled 15-day US trending file and TF-IDF topics."""
    data = tmp_path_factory.mktemp("trending") / "data"
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        wb.trends.import_csv(ROOT / "data" / "trends" / "youtube_trending_US_2017-11-14_to_11-28.csv", "US")
        assert wb.trends.compute_topics("US", "tfidf").state == "ready"
    return data


def test_trends_page_shows_rising_topics_evaluation_and_backlog(tmp_path, monkeypatch, trending):
    data = tmp_path / "data"
    shutil.copytree(trending, data)
    at = open_app(data, monkeypatch, "trends")
    assert problems(at) == []
    rising = at.dataframe[0].value
    assert rising.shape[0] == 25 and (rising["growth_pct_day"] > 0).all()
    from ui.state import get_workbench
    topics = get_workbench().db.query_one("SELECT count(*) FROM trend_topics WHERE country = 'US'")[0]
    assert len([b for b in at.button if b.proto.label == "Make video"]) == min(15, topics) > 5
    [b for b in at.button if b.proto.label == "Evaluate"][0].click().run()
    assert problems(at) == [] and not at.error
    evaluation = [d.value for d in at.dataframe if "mae_log10" in d.value.columns][0]
    assert set(evaluation["who"]) == {"model", "persistence", "log_linear"}
    [b for b in at.button if b.proto.label == "Make video"][0].click().run()
    wb = get_workbench()
    topic, brief = wb.db.query_one("SELECT topic, brief FROM jobs ORDER BY id DESC LIMIT 1")
    import json
    assert topic.startswith("What's trending:") and len(json.loads(brief)["related_titles"]) >= 1


def test_trends_import_reports_rejects(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "trends")
    assert any("No trending data yet" in i.value for i in at.info)
    from ui.state import get_workbench
    wb = get_workbench()
    bad = tmp_path / "trending_CA.csv"
    bad.write_text("video_id,trending_date,title,category_id,views\n#NOME?,17.14.11,X,1,5\nabcdefghijk,17.14.11,Ok,1,5\n")
    report = wb.trends.import_csv(bad, None)
    assert report.country == "CA" and report.inserted == 1 and report.rejected
    at.run()
    assert problems(at) == [] and at.dataframe

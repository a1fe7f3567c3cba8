"""Every page through Streamlit's AppTest: renders, validates, and makes a video end to end."""

from __future__ import annotations

import json
import random
import re
import shutil
import string
import time

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from conftest import EXAMPLE_SOURCE, ROOT, app_test
from pipeline.config import Settings
from pipeline.providers.base import BriefError
from pipeline.workbench import VideoRequest, Workbench
from ui.text import WORD_JOINER, md

PAGES = ["overview", "costs", "studio", "library", "channels", "settings"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A data directory holding one real finished video (made once for the module)."""
    data = tmp_path_factory.mktemp("made") / "data"
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        job = wb.enqueue(VideoRequest("Why octopuses are so smart", duration_s=12, sources=[EXAMPLE_SOURCE]))
        assert wb.worker.run_job(job) == "done"
    return data


def open_app(data, monkeypatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(data))
    monkeypatch.setenv("YTEMPIRE_POLL_S", "0.1")
    monkeypatch.chdir(ROOT)
    from ui.state import get_workbench
    get_workbench.clear()
    at = app_test(60)
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
    # the video went to the outbox: exported, not published to YouTube
    assert metrics["Videos made"] == "1" and metrics["Published"] == "0" and metrics["Failed jobs"] == "0"
    assert "Exported to the local outbox: 1" in next(m for m in at.metric if m.label == "Published").help
    assert metrics["Success rate"] == "100%"
    assert metrics["Median cost / video"] == "$0.00"


def test_library_shows_the_video_with_player_script_quality_and_downloads(tmp_path, monkeypatch, made):
    data = tmp_path / "data"
    shutil.copytree(made, data)
    at = open_app(data, monkeypatch, "library")
    assert at.dataframe[0].value["title"][0] == "Why Octopuses Are So Smart"
    assert at.subheader[0].value == "Why Octopuses Are So Smart"
    from ui.state import get_workbench
    scenes = get_workbench().db.query_one("SELECT count(*) FROM job_scenes WHERE job_id = 1")[0]
    assert scenes >= 2  # the Scenes tab: a still of each scene's visual, beside the thumbnail
    options = len(get_workbench().review.thumbnail_options(1))  # the Publish tab offers thumbnails to choose from
    assert len(at.get("video")) == 1 and len(at.get("image")) == 1 + scenes + options
    labels = [d.proto.label for d in at.get("download_button")]
    for label in ("Video", "Thumbnail", "Captions", "Script", "CSV", "Parquet"):
        assert label in labels
    assert any("Score" == m.label for m in at.metric)
    at.text_input(key="lib-search").input("nothing like this").run()
    assert any("No videos match" in i.value for i in at.info)


def make_button(at: AppTest):
    return next(b for b in at.button if b.proto.label == "Make video")


def test_studio_validation_errors(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    make_button(at).click().run()  # Make video with no topic
    assert any("topic is empty" in e.value for e in at.error)
    at.text_input(key="topic").input("x" * 250).run()
    topic = at.text_input(key="topic")
    assert topic.max_chars == 200 and "At most 200 characters" in topic.help  # the form holds the stated limit
    from ui.state import get_workbench
    with pytest.raises(BriefError, match="keep it under 200"):  # and the engine refuses more from any other shell
        get_workbench().validate_request(VideoRequest("x" * 250))


def test_a_double_clicked_make_video_queues_one_job(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    at.text_input(key="topic").input("Octopus arms").run()
    make_button(at).click().run()
    make_button(at).click().run()  # the second click of a double click: same inputs, same request
    from ui.state import get_workbench
    assert get_workbench().db.query_one("SELECT count(*) FROM jobs")[0] == 1
    assert any("Already queued as job #1" in i.value for i in at.info)
    [copy] = [b for b in at.button if b.proto.label == "Make another copy"]
    copy.click().run()
    make_button(at).click().run()
    assert get_workbench().db.query_one("SELECT count(*) FROM jobs")[0] == 2


def test_studio_shows_the_chain_and_estimate_before_the_click(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    estimate = at.dataframe[0].value
    assert list(estimate["stage"]) == ["script", "voice", "visuals", "render", "thumbnail", "quality", "publish"]
    assert any("estimated cost" in c.value and "$0.00" in c.value for c in at.caption)


def test_studio_takes_a_visuals_chain_for_one_video(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never called: the estimate only prices it
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    chain = at.text_input(key="visuals")
    assert chain.max_chars == 300 and "library > pexels" in chain.placeholder
    chain.input("nonsense > slides").run()
    assert any("nonsense" in w.value for w in at.warning)  # the known sources are named
    at.text_input(key="visuals").input("openai-image > slides").run()
    estimate = at.dataframe[0].value
    images = estimate[estimate["stage"] == "visuals"]
    assert set(images["chain"]) == {"openai-image > slides"} and images["usd"].sum() > 0  # generated images priced
    at.text_input(key="topic").input("Octopus arms").run()
    make_button(at).click().run()
    from ui.state import get_workbench
    brief = get_workbench().db.query_one("SELECT brief FROM jobs WHERE id = 1")[0]
    assert json.loads(brief)["visuals"] == "openai-image > slides"


@pytest.mark.slow
def test_a_video_started_in_studio_runs_to_done_and_appears_in_the_library(tmp_path, monkeypatch):
    data = tmp_path / "data"
    at = open_app(data, monkeypatch, "studio")
    next(b for b in at.button if b.proto.label == "Use the example").click().run()  # offered on a fresh install
    assert at.text_input(key="topic").value == "Octopus intelligence"
    at.number_input(key="duration").set_value(12).run()
    make_button(at).click().run()
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
    assert at.dataframe[0].value["title"][0] == "Octopus Intelligence"


def test_studio_batch_reports_bad_lines(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    batch = next(t for t in at.text_area if t.label == "Topics, one a line")
    batch.input("First topic\n\n" + "y" * 300 + "\nSecond topic")  # submitted with the form
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
    assert at.button(key="delete-channel").disabled  # never one click: the operator confirms first
    [sure] = [c for c in at.checkbox if c.key and c.key.startswith("delete-sure-")]
    sure.check().run()
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


def test_settings_lets_the_owner_allow_private_webhook_receivers(tmp_path, monkeypatch):
    from ui.state import get_workbench

    at = open_app(tmp_path / "data", monkeypatch, "settings")
    [box] = [c for c in at.checkbox if "private addresses" in c.label]
    assert box.value is False and get_workbench().settings.webhooks_allow_private is False
    box.check().run()
    assert any("may now reach private" in s.value for s in at.success)
    assert get_workbench().settings.webhooks_allow_private is True
    stored = get_workbench().db.query_one("SELECT value FROM app_settings WHERE key = 'webhooks_allow_private'")
    assert stored == ("true",)


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
    assert any(c.value.startswith("Data: Bundled sample from Nov 2017") and "not now" in c.value for c in at.caption)
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
    assert topic and "trending" not in topic.lower() and len(json.loads(brief)["related_titles"]) >= 1


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


# -- outside text is shown as text (ui/text.py) -------------------------------------------------

HOSTILE = [
    "![x](http://evil.example/p.png)", "[click](http://evil.example)", "<img src=x onerror=alert(1)>", "**b** __b__ *i* _i_",
    ":red[x] :blue-background[y] :help[z]", ":material/home: :material_home: :streamlit: :smile: :+1:", "$x^2$ and $$y$$",
    "https://evil.example/a_b", "HTTP://EVIL.EXAMPLE www.evil.example WWW.EVIL.EXAMPLE", "mail me@evil.example",
    "back\\slash \\*not\\* \\", "two\nlines\n\nand a paragraph\r\nmore", "a -> b <- c <-> d -- e >= f <= g ~= h",
    "# heading", "- item", "1. item", "> quote", "| a | b |\n|---|---|", "~~s~~", "`code` ```fence```",
    "<https://evil.example>", "[x]: http://evil.example", "&amp; &#60; &lt;b&gt;", "line 3: ok", "10:30:45 note:red",
    "   indented\n    code", "[^1] footnote", "- [ ] task", "", "   ", "Why Octopuses Are So Smart",
]
MARKDOWN = MarkdownIt("commonmark").enable(["strikethrough", "table"])
# What Streamlit's frontend rewrites in text nodes after parsing (StreamlitMarkdown.tsx, remark-gfm's
# autolink-literal transform, remark-emoji): escapes cannot stop these, the word joiner must.
TEXT_REWRITES = [re.compile(p, re.I) for p in (
    r"(https?://|www(?=\.))[-.\w]+", r"[-.\w+]+@[-\w]+(\.[-\w]+)+", r":material_\w+:", r":streamlit:", r":\+1:|:-1:|:[\w-]+:",
    r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)")]
PLAIN_TOKENS = {"paragraph_open", "paragraph_close", "inline", "text", "text_special", "softbreak", "hardbreak"}


def rendered_text(source: str) -> tuple[str, set[str]]:
    """The text a CommonMark renderer shows for ``source``, and every token type it made."""
    types, paragraphs = set(), []
    for token in MARKDOWN.parse(source):
        types.add(token.type)
        if token.type == "inline":
            parts = []
            for child in token.children or []:
                types.add(child.type)
                parts.append("\n" if child.type in ("softbreak", "hardbreak") else child.content)
            paragraphs.append("".join(parts))
    return "\n\n".join(paragraphs), types


def bare_punctuation(source: str) -> list[str]:
    """ASCII punctuation left unescaped (a colon before a space is allowed: it starts nothing)."""
    bare, i = [], 0
    while i < len(source):
        ch = source[i]
        if ch == "\\" and i + 1 < len(source) and (source[i + 1] in string.punctuation or source[i + 1] == "\n"):
            i += 2
            continue
        if ch in string.punctuation and not (ch == ":" and source[i + 1:i + 2].isspace()):
            bare.append(ch)
        i += 1
    return bare


def expected_text(raw: str, multiline: bool) -> str:
    if not multiline:
        return " ".join(raw.split())
    paragraphs = re.split(r"\n[ \t]*\n", raw.replace("\r\n", "\n").strip())
    return "\n\n".join("\n".join(" ".join(line.split()) for line in p.split("\n") if line.strip())
                       for p in paragraphs if p.strip())


def fuzz(n: int = 300) -> list[str]:
    rng = random.Random(7)
    alphabet = string.punctuation + "abc wh:/.@\n" + "é🐙"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(n)]


def check_md(raw: str, multiline: bool) -> None:
    source = md(raw, multiline=multiline)
    text, types = rendered_text(source)
    assert types <= PLAIN_TOKENS, f"{raw!r} made {types - PLAIN_TOKENS}"  # no link, image, html, emphasis, code, block
    assert text.replace(WORD_JOINER, "") == expected_text(raw, multiline)
    assert bare_punctuation(source) == [], f"{raw!r}: a directive (:red[), math ($), emphasis or link could start"
    assert ":material/" not in source  # Streamlit rewrites this in the source before parsing
    assert not re.search(r":(?!material/|streamlit:)[\w+-][\w_+-]*:", source)  # would load remark-emoji
    for paragraph in text.split("\n"):
        for rewrite in TEXT_REWRITES:
            assert not rewrite.search(paragraph), f"{rewrite.pattern} would still rewrite {raw!r}"


@pytest.mark.parametrize("multiline", [False, True])
@pytest.mark.parametrize("raw", HOSTILE + [string.punctuation])
def test_md_renders_hostile_text_as_exactly_that_text(raw, multiline):
    check_md(raw, multiline)


def test_md_renders_random_punctuation_soup_as_exactly_that_text():
    for raw in fuzz():
        check_md(raw, multiline=False)
        check_md(raw, multiline=True)


def test_md_keeps_plain_text_plain():
    assert md("Why Octopuses Are So Smart") == "Why Octopuses Are So Smart"
    assert md("line 3: the topic is empty") == "line 3: the topic is empty"
    assert md(None) == "" and md(42) == "42"


HOSTILE_TITLE = "![x](http://evil.example/p.png) [click](http://evil.example) :red[x] :material/home: $x^2$ <img src=x> **b**"
HOSTILE_TRENDING = "**Top** [deal](https://evil.example) ![p](http://evil.example/p.png) :green[win] $$a$$ www.evil.example"


def shown(at: AppTest) -> list[str]:
    """Every string the page hands Streamlit's markdown renderer."""
    values = [e.value for kind in ("markdown", "caption", "title", "header", "subheader", "info", "success", "warning",
                                   "error", "toast") for e in getattr(at, kind)]
    labels = [e.label for kind in ("expander", "tabs", "metric", "button") for e in getattr(at, kind)]
    return [str(v) for v in values + labels]


def live(value: str, markup: str) -> bool:
    """Whether ``markup`` occurs in ``value`` with its first character not backslash-escaped."""
    for m in re.finditer(re.escape(markup), value):
        backslashes = len(value[:m.start()]) - len(value[:m.start()].rstrip("\\"))
        if backslashes % 2 == 0:
            return True
    return False


def assert_no_live_markup(at: AppTest) -> None:
    for value in shown(at):
        for markup in ("![", "](", ":red[", ":green[", ":material/home:", "$x^2$", "$$a$$", "<img", "**b**", "http://evil",
                       "https://evil", "www.evil"):
            assert not live(value, markup), f"{markup!r} would render in {value!r}"


def test_library_and_queue_show_outside_titles_topics_and_scripts_as_text(tmp_path, monkeypatch, made):
    data = tmp_path / "data"
    shutil.copytree(made, data)
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        from pipeline import jobs
        script = data / "jobs" / "1" / "script.json"  # this data directory's copy, which the Library reads
        s = json.loads(script.read_text())
        s.update(hook=HOSTILE_TITLE, call_to_action=HOSTILE_TRENDING, tags=[HOSTILE_TITLE])
        s["sections"][0]["heading"] = HOSTILE_TRENDING
        script.write_text(json.dumps(s))
        wb.db.query("UPDATE videos SET title = ?", [HOSTILE_TITLE])
        wb.db.query("UPDATE jobs SET topic = ?", [HOSTILE_TITLE])
        failed = jobs.create_job(wb.db, 1, HOSTILE_TRENDING, 12, "landscape", {}, stages=("script",))
        wb.db.query("UPDATE jobs SET status = 'failed', error_stage = 'script', error_message = ? WHERE id = ?",
                    [f"The writer refused {HOSTILE_TRENDING!r}", failed])
    at = open_app(data, monkeypatch, "library")
    assert problems(at) == []
    assert at.subheader[0].value == md(HOSTILE_TITLE)
    assert any(m.value == f"**Hook.** {md(HOSTILE_TITLE)}" for m in at.markdown)
    assert at.dataframe[0].value["title"][0] == HOSTILE_TITLE  # tables are plain: shown as is
    assert_no_live_markup(at)
    at.switch_page("pages/studio.py").run()
    assert problems(at) == []
    assert any(md(HOSTILE_TITLE) in m.value for m in at.markdown)
    assert any(md(HOSTILE_TRENDING) in m.value for m in at.markdown)  # the failed job's topic
    assert any("The writer refused" in e.value for e in at.error)
    assert_no_live_markup(at)


def test_trends_backlog_shows_topic_labels_and_trending_titles_as_text(tmp_path, monkeypatch, trending):
    data = tmp_path / "data"
    shutil.copytree(trending, data)
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        wb.db.query("UPDATE trend_topics SET label = ?", [HOSTILE_TITLE])
        wb.db.query("UPDATE trend_videos SET title = ?", [HOSTILE_TRENDING])
    at = open_app(data, monkeypatch, "trends")
    assert problems(at) == []
    assert any(m.value.startswith(f"**{md(HOSTILE_TITLE)}** · score") for m in at.markdown)
    assert any(md(HOSTILE_TRENDING) in c.value for c in at.caption)
    assert_no_live_markup(at)


def test_settings_refuses_a_crafted_backup_naming_the_bad_row(tmp_path, monkeypatch, made):
    from test_backup import tampered
    data = tmp_path / "data"
    shutil.copytree(made, data)
    at = open_app(data, monkeypatch, "settings")
    from ui.state import get_workbench
    wb = get_workbench()
    good = wb.export_backup(tmp_path / "good.zip")
    bad = tampered(good, tmp_path / "bad.zip", "videos", "SELECT * REPLACE ('/etc/passwd' AS video_path) FROM t")
    at.file_uploader[0].upload("bad.zip", bad.read_bytes(), "application/zip").run()
    restore = [b for b in at.button if b.proto.label == "Restore: replaces all data"][0]
    assert restore.disabled  # not before the operator confirms
    at.checkbox(key="restore-sure").check().run()
    [b for b in at.button if b.proto.label == "Restore: replaces all data"][0].click().run()
    shown = [e.value.replace("\\", "") for e in at.error]  # shown as text: markdown escapes taken off
    assert any("videos row (job 1): video_path = '/etc/passwd'" in e and "Nothing was restored" in e for e in shown)
    assert wb.db.query_one("SELECT video_path FROM videos WHERE job_id = 1")[0] != "/etc/passwd"


def test_channel_captions_preview_live_and_save_without_touching_the_rest(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "channels")
    from ui.state import get_workbench
    wb = get_workbench()
    with wb.db.write() as cur:
        cur.execute("UPDATE channels SET visuals = 'library > slides' WHERE id = 1")
    at.run()
    assert problems(at) == []
    shown = len(at.get("image"))
    assert shown >= 1  # the live preview: a real libass frame
    at.radio(key="cap-style-1").set_value("pop").run()
    at.slider(key="cap-size-1").set_value(140).run()
    assert problems(at) == [] and len(at.get("image")) >= 1
    next(b for b in at.button if b.proto.label == "Save captions").click().run()
    assert any("Captions saved" in s.value for s in at.success)
    row = wb.db.query_dicts("SELECT caption_style, caption_size, visuals FROM channels WHERE id = 1")[0]
    assert row == {"caption_style": "pop", "caption_size": 140, "visuals": "library > slides"}
    # saving the brand form afterwards keeps the captions and the visuals chain it does not show
    at.run()
    form_save = next(b for b in at.button if b.proto.label == "Save channel" and "edit" in str(b.proto.form_id))
    form_save.click().run()
    row = wb.db.query_dicts("SELECT caption_style, caption_size, visuals FROM channels WHERE id = 1")[0]
    assert row == {"caption_style": "pop", "caption_size": 140, "visuals": "library > slides"}


def test_studio_says_when_the_local_writer_has_nothing_to_say_and_takes_pasted_sources(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "studio")
    at.text_input(key="topic").input("Octopus arms").run()
    assert any("can only frame the question" in w.value for w in at.warning)
    at.text_area(key="source-text").input("Each octopus arm has its own cluster of neurons. An arm can react to "
                                          "touch even when it is cut off from the brain.").run()
    assert not any("can only frame the question" in w.value for w in at.warning)
    from ui.state import get_workbench
    wb = get_workbench()
    wb.worker.stop()  # only the brief is checked here
    make_button(at).click().run()
    assert any("Queued job #1" in s.value for s in at.success), [e.value for e in at.error]
    brief = json.loads(wb.db.query_one("SELECT brief FROM jobs WHERE id = 1")[0])
    assert brief["sources"][0]["kind"] == "text" and "own cluster of neurons" in brief["sources"][0]["text"]


@pytest.mark.parametrize("value, shown", [(None, "—"), (0, "$0.00"), (0.004, "<$0.01"), (0.005, "$0.01"),
                                          (0.11, "$0.11"), (2.999, "$3.00"), (1234.5, "$1,234.50"), (-0.25, "-$0.25")])
def test_money_reads_as_an_operator_writes_it(value, shown):
    from ui.widgets import usd
    assert usd(value) == shown


def test_deleting_a_video_asks_first_removes_its_files_and_keeps_its_costs(tmp_path, monkeypatch, made):
    data = tmp_path / "data"
    shutil.copytree(made, data)
    at = open_app(data, monkeypatch, "library")
    from ui.state import get_workbench
    wb = get_workbench()
    folder = wb.settings.jobs_dir / "1"
    ledger = wb.db.query_one("SELECT count(*), sum(compute_s) FROM cost_ledger WHERE job_id = 1")
    delete = next(b for b in at.button if b.proto.label == "Delete")
    assert delete.proto.disabled  # not before the operator says yes
    at.checkbox(key="delete-sure-1").check().run()
    next(b for b in at.button if b.proto.label == "Delete").click().run()
    assert problems(at) == []
    assert any("Deleted job" in s.value and "outbox copy" in s.value for s in at.success)
    assert not folder.exists()
    assert wb.db.query_one("SELECT count(*), sum(compute_s) FROM cost_ledger WHERE job_id = 1") == ledger
    assert wb.db.query_one("SELECT publish_state, video_path FROM videos WHERE job_id = 1") == ("deleted", None)
    from pipeline import queries
    assert queries.library_count(wb.db, None, None, None, None) == 0  # gone from the Library's read model

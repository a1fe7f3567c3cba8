"""First start of the Trends desk: quick topics from the latest videos, then all of them; the embedding cache
(a second start embeds nothing); topic names as phrases; the page's notice and its tables in words."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import date, timedelta

import numpy as np
import pytest

from conftest import app_test

from pipeline.gpu import GpuLease
from pipeline.trends.desk import TrendDesk
from pipeline.trends.embed_cache import EmbeddingCache, encode_cached, text_key
from pipeline.trends.ingest import parse_trending, store
from pipeline.trends.names import name_clusters
from pipeline.trends.topics import document, terms

THEMES = ["octopus ocean reef dive", "football goals match highlights", "easy pasta recipe dinner"]


class FakeEmbedder:
    """Bag-of-terms vectors (the same text, the same vector), counting what it embeds; ``gate``: after
    ``free`` texts, every further encode waits until the gate is set."""

    name = "fake-embedder"

    def __init__(self, device: str = "cpu", free: int | None = None):
        self.device, self.free, self.cancel = device, free, None
        self.encoded: list[str] = []
        self.gate = threading.Event()

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.free is not None and len(self.encoded) >= self.free:
            assert self.gate.wait(60), "the test never opened the gate"
        self.encoded.extend(texts)
        out = np.zeros((len(texts), 384), np.float32)
        for i, text in enumerate(texts):
            for term in terms(text):
                seed = int.from_bytes(hashlib.sha1(term.encode()).digest()[:4], "little")
                out[i] += np.random.default_rng(seed).normal(size=384).astype(np.float32)
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
        return out


def _videos(db, days: int = 40, per_day: int = 9) -> int:
    """``per_day`` new videos a day (three themes), each on the list for two days; returns how many videos."""
    lines = ["video_id,trending_date,title,channel_title,category_id,views"]
    start = date(2018, 1, 1)
    for d in range(days):
        for i in range(per_day):
            vid = f"v{d:03d}{i:02d}xxxxxx"[:11]
            for stay in range(2):
                day = (start + timedelta(d + stay)).strftime("%y.%d.%m")
                lines.append(f"{vid},{day},{THEMES[i % 3].title()} {d} {i},Channel {i % 3},10,{1000 * (d + stay + 1)}")
    store(db, parse_trending("\n".join(lines)), "CA", "t.csv", None)
    return days * per_day


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def _assigned(db) -> int:
    return db.query_one("SELECT count(*) FROM trend_video_topics WHERE country = 'CA'")[0]


def test_first_start_shows_quick_topics_then_all_and_a_second_start_embeds_nothing(db, tmp_path):
    total = _videos(db)
    fake = FakeEmbedder(free=0)
    desk = TrendDesk(db, GpuLease(0), cache_dir=tmp_path / "cache", make_embedder=lambda device: fake)
    desk.quick_days, desk.quick_when = 14, 100
    assert desk.needs_topics("CA") and desk.quick_pass_helps("CA")
    recent = 14 * 9 - 9  # entrants of the last 14 days of data (the last day has no entrants: they stay two days)
    fake.free = recent  # the quick pass embeds freely; the full pass waits at the gate
    try:
        desk.compute_topics_in_background(["CA"])
        _wait_for(lambda: desk.has_topics("CA"))
        assert desk.status["CA"].state == "refining" and desk.busy("CA")
        assert _assigned(db) == recent < total and desk.needs_topics("CA")  # partial: a restart would finish it
        _wait_for(lambda: desk.status["CA"].message.endswith(f"for all {total} videos"))  # the full pass, at the gate
        assert desk.status["CA"].state == "refining" and _assigned(db) == recent  # the quick topics stay meanwhile
    finally:
        fake.gate.set()
        desk.wait(60)
    assert desk.status["CA"].state == "ready", desk.status["CA"].message
    assert _assigned(db) == total and not desk.needs_topics("CA")
    assert len(set(fake.encoded)) == len(fake.encoded) == total  # every title embedded once, across both passes

    with db.write() as cur:  # a second start that clusters again (a recompute, or a restart after an import)
        cur.execute("DELETE FROM trend_video_topics")
        cur.execute("DELETE FROM trend_topics")
    again = FakeEmbedder()
    second = TrendDesk(db, GpuLease(0), cache_dir=tmp_path / "cache", make_embedder=lambda device: again)
    second.quick_when = 100
    assert not second.quick_pass_helps("CA")  # everything is in the cache: straight to the full pass
    assert second.compute_topics("CA").state == "ready"
    assert again.encoded == [] and _assigned(db) == total


def test_without_the_model_topics_come_from_tf_idf_in_one_pass(db, tmp_path):
    total = _videos(db, days=20)
    desk = TrendDesk(db, GpuLease(0), cache_dir=tmp_path / "cache")
    desk.unavailable = lambda: "sentence_transformers is not installed"  # as on an install without torch
    assert not desk.quick_pass_helps("CA")
    desk.compute_topics_in_background(["CA"])
    desk.wait(60)
    assert desk.status["CA"].state == "ready" and desk.status["CA"].method == "tfidf" and _assigned(db) == total


def test_a_start_renames_topics_named_as_word_lists_without_clustering_again(workbench):
    from pipeline.trends.backlog import compute_topics
    db = workbench.db
    _videos(db, days=20)
    compute_topics(db, "CA", None, k=3)
    links = db.query("SELECT video_id, topic_id FROM trend_video_topics ORDER BY video_id")
    db.query("UPDATE trend_topics SET label = 'octopus · ocean · reef' WHERE topic_id = 0")  # named before phrases
    assert workbench.trends.word_list_labels("CA") and not workbench.trends.needs_topics("CA")
    assert workbench.prepare_trends() == []  # the data is there: nothing imported
    labels = [r[0] for r in db.query("SELECT label FROM trend_topics ORDER BY topic_id")]
    assert not any("·" in label for label in labels) and len(set(labels)) == 3
    assert any(theme.title() in labels for theme in THEMES)  # "Octopus Ocean Reef Dive": the titles' phrase
    assert db.query("SELECT video_id, topic_id FROM trend_video_topics ORDER BY video_id") == links  # same clusters


def test_the_cache_survives_a_restart_and_ignores_a_damaged_shard(tmp_path):
    calls: list[str] = []

    def encode(texts):
        calls.extend(texts)
        return np.stack([np.full(384, float(len(t)), np.float32) for t in texts])

    # a text whose key ends in a zero byte: bytes dtypes would strip it and never find the text again
    zero = next(t for t in (f"title {i}" for i in range(5000)) if text_key("m", t)[-1] == 0)
    texts = ["a", "bb", "a", zero] + [f"t{i}" for i in range(40)]
    first = encode_cached(encode, texts, EmbeddingCache(tmp_path, "m"), chunk=16)
    assert len(calls) == len(set(texts))  # each distinct text once
    (tmp_path / "m" / "shard-zz-damaged.npz").write_bytes(b"not a numpy file")
    good = next((tmp_path / "m").glob("shard-*.npz")).read_bytes()
    (tmp_path / "m" / "shard-zz-truncated.npz").write_bytes(good[: len(good) // 2])  # a crash mid-copy
    calls.clear()
    again = encode_cached(encode, texts, EmbeddingCache(tmp_path, "m"))  # a new process reads the shards
    assert calls == [] and np.array_equal(first, again)
    assert encode_cached(encode, ["new one"], EmbeddingCache(tmp_path, "m")).shape == (1, 384) and calls == ["new one"]
    assert len(EmbeddingCache(tmp_path, "other-model")) == 0  # another model's vectors never mix in


def test_topic_names_are_phrases_written_as_the_titles_write_them():
    docs = [document(t, g) for t, g in [
        ("Tessa Virtue and Scott Moir win gold | CBC Sports", ["figure skating", "tessa virtue"]),
        ("Tessa Virtue & Scott Moir free dance (Olympics)", ["tessa virtue", "scott moir"]),
        ("TESSA VIRTUE AND SCOTT MOIR - short program", ["skating"]),
        ("Virtue and Moir interview: Tessa Virtue on retirement", []),
        ("Fortnite Battle Royale: best moments #12", ["fortnite", "fortnite battle royale"]),
        ("Fortnite Battle Royale funny fails", ["fortnite battle royale"]),
        ("NEW Fortnite Battle Royale update!", ["fortnite"]),
        ("简单的意大利面食谱 第一集", ["意大利面"]),
        ("意大利面食谱 家常做法", []),
        ("超简单意大利面", []),
        ("A lone title about nothing shared", []),
        ("Another one with no word in common", []),
    ]]
    names = name_clusters(docs, np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]))
    assert names[0] == "Tessa Virtue"  # grown from "tessa", in the titles' capitals (not the tag's, not shouted)
    assert names[1] == "Fortnite Battle Royale"  # the longest phrase most of the cluster shares
    assert names[2] == "意大利面食谱"  # no spaces in Chinese: a run of characters
    assert names[3] == "A lone title about nothing shared"  # nothing shared: the most central title
    assert all("·" not in n and "," not in n for n in names.values()) and len(set(names.values())) == 4


def test_tf_idf_topics_on_real_titles_read_as_phrases(db):
    from conftest import ROOT
    from pipeline.trends.backlog import compute_topics
    from pipeline.trends.ingest import import_file
    import_file(db, ROOT / "data" / "trends" / "youtube_trending_US_2017-11-14_to_11-28.csv", "US")
    result = compute_topics(db, "US", None)
    labels = [t.label for t in result.topics]
    assert all(label and "·" not in label for label in labels) and len(set(labels)) == len(labels)
    assert sum(" " in label for label in labels) >= len(labels) // 2  # most are several words, not one term


@pytest.fixture
def started(tmp_path, monkeypatch):
    """The app on a data directory with trending data whose topics are still being clustered."""

    from conftest import ROOT
    from pipeline.config import Settings
    from pipeline.workbench import Workbench
    data = tmp_path / "data"
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        wb.trends.import_csv(ROOT / "data" / "trends" / "youtube_trending_CA_views_2017-11-14_to_2018-06-14.csv", "CA")
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(data))
    monkeypatch.chdir(ROOT)
    from ui.state import get_workbench
    get_workbench.clear()
    at = app_test(120)
    at.run()
    yield at, get_workbench
    get_workbench().close()
    get_workbench.clear()


def test_the_page_says_topics_are_coming_then_shows_them_in_words(started):
    at, get_workbench = started
    wb = get_workbench()
    from pipeline.trends.desk import TopicStatus
    wb.trends.status["CA"] = TopicStatus("computing", message="embedding titles: 512 of 1,683 new ones")
    at.switch_page("pages/trends.py").run()
    assert not at.exception
    from ui.text import md
    assert any("appear here by themselves" in i.value and md("512 of 1,683") in i.value for i in at.info)
    rising = at.dataframe[0]
    config = json.loads(rising.proto.columns)
    assert config["title"]["label"] == "Title" and config["growth_pct_day"]["label"] == "Views growth a day"
    # the data keeps channel_title; the CA file has no channel names, so the view hides the empty column
    assert "channel_title" in rising.value.columns and config["channel_title"].get("hidden") is True
    assert wb.trends.compute_topics("CA", "tfidf").state == "ready"  # as the background pass would end
    at.run()
    assert not at.exception and not any("appear here by themselves" in i.value for i in at.info)
    topics = [d for d in at.dataframe if "momentum" in d.value.columns][0]
    assert json.loads(topics.proto.columns)["label"]["label"] == "Topic" and "·" not in " ".join(topics.value["label"])
    wb.trends.status["CA"] = TopicStatus("refining", message="embedding titles: 5 of 9 new ones, for all videos")
    at.run()  # first topics shown while the full pass runs: a quieter line, still updating itself
    assert not at.exception and any("first pass" in c.value and "by themselves" in c.value for c in at.caption)

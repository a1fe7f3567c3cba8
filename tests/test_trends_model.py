"""Features, metrics, the popularity model against its baselines, topics and the backlog."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from conftest import ROOT
from pipeline.channels import ChannelInput, create_channel, ensure_demo_channel, get_channel
from pipeline.trends.backlog import backlog, compute_topics, topic_brief
from pipeline.trends.features import rising_videos, topic_momentum, video_day_features
from pipeline.trends.ingest import CsvTrendSource, parse_trending, store
from pipeline.trends.model import build_samples, evaluate, metrics, snapshots_frame, time_split
from pipeline.trends.topics import cluster, find_topics, terms

D0 = date(2018, 1, 1)


def snap(rows):
    return snapshots_frame([{"video_id": v, "day": D0 + timedelta(d), "rank": 1, "views": views, "likes": None,
                             "dislikes": None, "comments": None, "category_id": 10, "publish_time": None}
                            for v, d, views in rows])


def test_metrics_on_known_numbers():
    m = metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0]))
    assert m["mae_log10"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["mdape"] == pytest.approx(90.0)  # errors of 0%, 90% and 900%
    assert m["spearman"] == pytest.approx(0.5)
    assert metrics(np.array([]), np.array([])) == {"mae_log10": None, "mdape": None, "spearman": None}


def test_samples_take_the_first_k_days_and_the_target_h_days_later():
    s = snap([("a", 0, 100), ("a", 1, 1000), ("a", 2, 5000), ("a", 3, 10000),
              ("b", 0, 10), ("b", 1, 100),  # leaves the list after two days
              ("c", 1, 50)])  # only one day
    samples = build_samples(s, k=2, horizon=2).sort("video_id")
    assert samples["video_id"].to_list() == ["a", "b"]
    a = samples.row(0, named=True)
    assert a["lv_k"] == pytest.approx(3.0) and a["lv_target"] == pytest.approx(4.0)
    assert a["growth_last"] == pytest.approx(1.0) and a["target_day"] == D0 + timedelta(3)
    assert samples.row(1, named=True)["on_list"] is False


def test_a_target_on_a_day_without_data_is_not_a_sample():
    s = snap([("a", 0, 100), ("a", 1, 200), ("z", 5, 10)])  # day 3 has no data at all
    assert build_samples(s, 2, 2).is_empty()
    assert build_samples(s, 2, 2, known_targets_only=False).height == 1


def test_time_split_trains_on_the_past_only():
    rows = [(f"v{d}", d + i, 100 * (i + 1)) for d in range(20) for i in range(4)]
    split = time_split(build_samples(snap(rows), 2, 1))
    assert split.train["target_day"].max() < split.split_date <= split.test["day_k"].min()


def test_video_day_features_on_a_hand_made_case(db, tmp_path):
    text = "\n".join(["video_id,trending_date,title,channel_title,category_id,publish_time,tags,views,likes,dislikes,"
                      "comment_count,thumbnail_link,comments_disabled,ratings_disabled,video_error_or_removed,description",
                      'abcdefghijk,18.01.01,T,C,10,2017-12-29T10:00:00.000Z,[none],100,10,10,1,x,False,False,False,d',
                      'abcdefghijk,18.02.01,T,C,10,2017-12-29T10:00:00.000Z,[none],1000,50,50,2,x,False,False,False,d',
                      'abcdefghijk,18.04.01,T,C,10,2017-12-29T10:00:00.000Z,[none],10000,90,10,3,x,False,False,False,d'])
    store(db, parse_trending(text), "US", "t.csv", None)
    f = video_day_features(db, "US")
    assert f["days_on_list"].to_list() == [1, 2, 3]
    assert f["growth"].to_list()[1:] == pytest.approx([1.0, 0.5])  # 10x in a day, then 10x over two days
    assert f["like_ratio"].to_list() == pytest.approx([0.1, 0.05, 0.009])
    assert f["dislike_share"].to_list() == pytest.approx([0.5, 0.5, 0.1])
    assert f["publish_lag_days"].to_list() == [3, 3, 3]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["youtube_trending_CA_views_2017-11-14_to_2018-06-14.csv",
                                  "youtube_trending_US_2017-11-14_to_11-28.csv",
                                  "youtube_trending_US_v1_2017-09-13_to_10-22.csv"])
def test_the_model_beats_both_baselines_on_the_real_files(name):
    rows = CsvTrendSource(ROOT / "data" / "trends" / name, "XX").fetch().rows
    result = evaluate(snapshots_frame(rows), k=2, horizon=2)
    assert result["n_test"] >= 100
    assert result["model"]["mae_log10"] < result["log_linear"]["mae_log10"] < result["persistence"]["mae_log10"]
    assert result["model"]["mdape"] < result["persistence"]["mdape"]


THEMES = {
    "ocean": ["octopus ocean reef {}", "deep ocean octopus dive {}", "la pieuvre octopus de l'océan {}"],
    "football": ["football goals highlights {}", "football match goals {}", "les buts du football {}"],
    "cooking": ["easy pasta recipe {}", "pasta cooking recipe {}", "简单的意大利面食谱 pasta {}"],
}


def themed_docs(n=20):
    docs, ids = [], []
    for theme, patterns in THEMES.items():
        for i in range(n):
            docs.append(patterns[i % 3].format(i))
            ids.append(f"{theme}{i:02d}xxxxx"[:11])
    return ids, docs


def test_terms_handle_french_and_chinese():
    assert terms("La pieuvre dans l'océan") == ["pieuvre", "océan"]
    assert terms("简单的意大利面食谱") == ["简单", "单的", "的意", "意大", "大利", "利面", "面食", "食谱"]
    assert "official" not in terms("Official Music Video 2018")


def test_tfidf_topics_separate_themes_in_three_languages():
    ids, docs = themed_docs()
    result = find_topics(ids, docs, None, k=3)
    assert result.method == "tfidf" and len(result.topics) == 3
    by_theme = {theme: {result.assignments[i] for i in ids if i.startswith(theme)} for theme in THEMES}
    assert all(len(v) == 1 for v in by_theme.values()) and len({next(iter(v)) for v in by_theme.values()}) == 3
    labels = " ".join(t.label for t in result.topics)
    assert "octopus" in labels or "ocean" in labels
    assert "football" in labels or "goals" in labels


@pytest.mark.slow
def test_minilm_embeddings_on_the_cpu():
    from pipeline.trends.topics import Embedder
    embedder = Embedder("cpu")
    ids, docs = themed_docs(6)
    vectors = embedder.encode(docs)
    assert vectors.shape == (len(docs), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    result = find_topics(ids, docs, embedder, k=3)
    assert result.method == "minilm" and all(t.centroid is not None for t in result.topics)
    ocean = embedder.encode(["octopus swimming in the ocean"])[0]
    assert float(ocean @ embedder.encode(["a squid in the deep sea"])[0]) > float(ocean @ embedder.encode(["football goals"])[0])


def test_cluster_returns_unit_centroids():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    labels, centroids = cluster(v, 4)
    assert set(labels) <= set(range(4)) and np.allclose(np.linalg.norm(centroids, axis=1), 1, atol=1e-5)


def _trend_db(db, days=21):
    """Ocean videos keep entering the list lately; football ones entered only long ago."""
    lines = ["video_id,trending_date,title,category_id,views"]
    for d in range(days):
        day = (D0 + timedelta(d)).strftime("%y.%d.%m")
        for i in range(3):
            vid = f"oc{d:03d}{i}xxxxx"[:11]
            if d >= days - 7 or d < 2:
                lines.append(f"{vid},{day},octopus ocean reef dive {d},15,{1000 * (d + 1)}")
            fid = f"fb{d:03d}{i}xxxxx"[:11]
            if d < 8:
                lines.append(f"{fid},{day},football goals match highlights {d},17,{2000 * (d + 1)}")
        if d >= days - 7:  # one ocean video stays on the list and keeps growing
            lines.append(f"ocpersist01,{day},octopus ocean reef dive special,15,{5000 * 2 ** (d - days + 8)}")
    store(db, parse_trending("\n".join(lines)), "CA", "t.csv", None)
    compute_topics(db, "CA", None, k=2)


def test_backlog_ranks_momentum_and_niche_fit_first_and_novelty_moves_it(db):
    _trend_db(db)
    ensure_demo_channel(db)
    cid = create_channel(db, ChannelInput("Deep Sea", niche="octopus ocean"))
    ranked = backlog(db, "CA", get_channel(db, cid))
    assert "octopus" in ranked["label"][0] or "ocean" in ranked["label"][0]
    assert ranked["momentum"][0] > ranked["momentum"][1] and ranked["fit"][0] > ranked["fit"][1]
    top = ranked.row(0, named=True)
    brief = topic_brief(db, "CA", top["topic_id"])
    assert brief["related_titles"] and all("octopus" in t for t in brief["related_titles"])
    assert brief["topic"] == brief["label"] and "trending" not in brief["topic"].lower()  # not called current
    from pipeline import jobs
    jobs.create_job(db, cid, "octopus ocean reef dive", 60, "landscape", {})
    again = backlog(db, "CA", get_channel(db, cid))
    assert again.filter(pl.col("topic_id") == top["topic_id"])["novelty"][0] < top["novelty"]


def test_momentum_and_rising(db):
    _trend_db(db)
    momentum = topic_momentum(db, "CA")
    assert momentum["recent"].sum() > 0
    rising = rising_videos(db, "CA", 5)
    assert rising.height > 0 and (rising["growth_pct_day"] > 0).all()

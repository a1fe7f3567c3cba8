"""Topics in the database, and the ranked backlog of what a channel should make next.

Score = 0.35 momentum + 0.25 predicted growth + 0.25 fit to the channel's niche + 0.15 novelty,
each on 0..1: momentum and growth as percentiles across the country's topics, fit as the cosine
of the topic centroid with the niche's embedding (term overlap for TF-IDF topics), novelty as
one minus the best match with what the channel already made.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import polars as pl

from pipeline.db import Database
from pipeline.trends.features import topic_momentum
from pipeline.trends.model import PopularityModel, build_samples
from pipeline.trends.embed_cache import EmbeddingCache
from pipeline.trends.topics import Embedder, TopicResult, document, find_topics, terms

WEIGHTS = {"momentum": 0.35, "growth": 0.25, "fit": 0.25, "novelty": 0.15}


RECENT_SQL = """
SELECT v.video_id, v.title, v.tags FROM trend_videos v
JOIN (SELECT video_id, min(day) AS first_day FROM trend_snapshots WHERE country = ? GROUP BY video_id) f USING (video_id)
WHERE v.country = ? AND f.first_day > (SELECT max(day) FROM trend_snapshots WHERE country = ?) - ?::INTEGER
ORDER BY f.first_day DESC, v.video_id LIMIT ?
"""


def trend_docs(db: Database, country: str, recent_days: int | None = None,
               limit: int = 1_000_000) -> tuple[list[str], list[str]]:
    """(video ids, documents) of the country's videos; with ``recent_days``, only the videos that entered the
    list in that many last days of data (the newest first, at most ``limit``)."""
    if recent_days is None:
        rows = db.query("SELECT video_id, title, tags FROM trend_videos WHERE country = ? ORDER BY video_id", [country])
    else:
        rows = db.query(RECENT_SQL, [country, country, country, recent_days, limit])
    return [r[0] for r in rows], [document(r[1], r[2]) for r in rows]


def compute_topics(db: Database, country: str, embedder: Embedder | None = None, k: int | None = None,
                   cache: EmbeddingCache | None = None, progress: Callable[[int, int], None] | None = None,
                   recent_days: int | None = None, limit: int = 1_000_000,
                   growth: Callable[[], pl.DataFrame] | None = None, with_growth: bool = True) -> TopicResult:
    """Cluster the country's videos (or only its recent entrants, see trend_docs), store the topics, then (unless
    ``with_growth`` is false) each topic's predicted growth from ``growth()`` (default: video_growth)."""
    ids, docs = trend_docs(db, country, recent_days, limit)
    result = find_topics(ids, docs, embedder, k, cache, progress)
    store_topics(db, country, result)
    if with_growth:
        store_growth(db, country, growth() if growth else video_growth(db, country))
    return result


def store_growth(db: Database, country: str, growth: pl.DataFrame) -> None:
    """Each topic's predicted growth: the mean over its videos in ``growth`` (video_id, g)."""
    with db.write() as cur:
        cur.register("growth", growth)
        cur.execute("UPDATE trend_topics t SET predicted_growth = g.predicted_growth FROM ("
                    " SELECT vt.topic_id, avg(growth.g) AS predicted_growth FROM growth"
                    " JOIN trend_video_topics vt ON vt.country = ? AND vt.video_id = growth.video_id GROUP BY ALL) g"
                    " WHERE t.country = ? AND t.topic_id = g.topic_id", [country, country])
        cur.unregister("growth")


def store_topics(db: Database, country: str, result: TopicResult) -> None:
    topics = pl.DataFrame([{"topic_id": t.topic_id, "label": t.label, "terms": t.terms, "size": t.size,
                            "centroid": t.centroid} for t in result.topics],
                          schema={"topic_id": pl.Int32, "label": pl.String, "terms": pl.List(pl.String), "size": pl.Int32,
                                  "centroid": pl.List(pl.Float32)})
    links = pl.DataFrame({"video_id": list(result.assignments), "topic_id": list(result.assignments.values())},
                         schema={"video_id": pl.String, "topic_id": pl.Int32})
    with db.write() as cur:
        cur.execute("DELETE FROM trend_video_topics WHERE country = ?", [country])
        cur.execute("DELETE FROM trend_topics WHERE country = ?", [country])
        cur.register("new_topics", topics)
        cur.register("new_links", links)
        cur.execute("INSERT INTO trend_topics (country, topic_id, label, terms, size, centroid, method)"
                    " SELECT ?, topic_id, label, terms, size, centroid, ? FROM new_topics", [country, result.method])
        cur.execute("INSERT INTO trend_video_topics SELECT ?, video_id, topic_id FROM new_links", [country])
        cur.unregister("new_topics")
        cur.unregister("new_links")


def snapshot_frame(db: Database, country: str) -> pl.DataFrame:
    return db.cursor().sql(
        "SELECT s.video_id, s.day, s.rank, s.views, s.likes, s.dislikes, s.comments, v.category_id, v.publish_time"
        " FROM trend_snapshots s JOIN trend_videos v USING (country, video_id) WHERE s.country = ?", params=[country]).pl()


def video_growth(db: Database, country: str, k: int = 2, horizon: int = 2, recent_days: int = 3) -> pl.DataFrame:
    """Predicted log10 growth over the horizon of each recent video (the model fitted on all history), as
    (video_id, g); empty when there is too little history to fit."""
    empty = pl.DataFrame(schema={"video_id": pl.String, "g": pl.Float64})
    snap = snapshot_frame(db, country)
    samples = build_samples(snap, k, horizon)
    if samples.filter(pl.col("on_list")).height < 20:
        return empty
    model = PopularityModel().fit(samples)
    last = snap["day"].max()
    every = build_samples(snap, k, horizon, known_targets_only=False)
    recent = every.filter(pl.col("day_k") > last - pl.duration(days=recent_days))
    if recent.is_empty():
        return empty
    growth = model.predict_log_views(recent) - recent["lv_k"].to_numpy()
    return recent.select("video_id").with_columns(pl.Series("g", growth, dtype=pl.Float64))


def predicted_growth(db: Database, country: str, k: int = 2, horizon: int = 2, recent_days: int = 3) -> pl.DataFrame:
    """Mean predicted log10 growth over the horizon of each topic's recent videos (model fitted on all history)."""
    links = db.cursor().sql("SELECT video_id, topic_id FROM trend_video_topics WHERE country = ?", params=[country]).pl()
    return (video_growth(db, country, k, horizon, recent_days).join(links, on="video_id").group_by("topic_id")
            .agg(pl.col("g").mean().alias("predicted_growth")))


def _pct(values: pl.Series) -> pl.Series:
    if values.len() <= 1:
        return pl.Series([1.0] * values.len())
    return (values.rank("average") - 1) / (values.len() - 1)


def backlog(db: Database, country: str, channel: dict, embedder: Embedder | None = None,
            limit: int = 30) -> pl.DataFrame:
    """Topics ranked for a channel, with the parts of the score and example titles."""
    mom = topic_momentum(db, country)
    if mom.is_empty():
        return mom
    growth = db.cursor().sql("SELECT topic_id, predicted_growth FROM trend_topics WHERE country = ?", params=[country]).pl()
    df = mom.join(growth, on="topic_id", how="left")  # no recent video to predict from: growth unknown (null)
    centroids = {r[0]: r[1] for r in db.query("SELECT topic_id, centroid FROM trend_topics WHERE country = ?", [country])}
    niche = (channel.get("niche") or channel.get("name") or "").strip()
    made = [r[0] for r in db.query("SELECT coalesce(v.title, j.topic) FROM jobs j LEFT JOIN videos v ON v.job_id = j.id"
                                   " WHERE j.channel_id = ?", [channel["id"]])]
    # A busy channel made thousands of videos, many on the same titles: each distinct title is embedded or cut
    # into words once, not once per topic (the max over them is the same).
    made = list(dict.fromkeys(made))
    made_terms = list({frozenset(terms(m)) for m in made})
    niche_terms = set(terms(niche))
    fit, novelty = [], []
    use_vectors = embedder is not None and all(centroids.get(t) is not None for t in df["topic_id"])
    if use_vectors:
        niche_v = embedder.encode([niche])[0] if niche else None
        made_v = embedder.encode(made) if made else None
    for row in df.iter_rows(named=True):
        if use_vectors:
            c = np.asarray(centroids[row["topic_id"]], dtype=np.float32)
            fit.append(float(max(0.0, c @ niche_v)) if niche_v is not None else 0.5)
            novelty.append(float(1 - max(0.0, (made_v @ c).max())) if made_v is not None else 1.0)
        else:
            words = set(row["terms"])
            fit.append(len(words & niche_terms) / max(1, len(words)) if niche_terms else 0.5)
            overlap = max((len(words & m) / max(1, len(words)) for m in made_terms), default=0.0)
            novelty.append(1 - overlap)
    df = df.with_columns(pl.Series("fit", fit), pl.Series("novelty", novelty))
    df = df.with_columns(
        (WEIGHTS["momentum"] * _pct(df["momentum"]) + WEIGHTS["growth"] * _pct(df["predicted_growth"].fill_null(0.0))
         + WEIGHTS["fit"] * pl.col("fit") + WEIGHTS["novelty"] * pl.col("novelty")).round(4).alias("score"),
        (100 * (10 ** pl.col("predicted_growth") - 1)).round(1).alias("predicted_growth_pct"),
    ).sort("score", descending=True).head(limit)
    examples = related_titles(db, country, df["topic_id"].to_list(), 3)
    return df.with_columns(pl.col("topic_id").map_elements(lambda t: " | ".join(examples.get(t, [])), return_dtype=pl.String)
                           .alias("examples"))


def related_titles(db: Database, country: str, topic_ids: list[int], n: int = 6) -> dict[int, list[str]]:
    """The most viewed titles of each topic."""
    rows = db.query(
        "SELECT topic_id, list(title ORDER BY peak DESC)[1:?] FROM ("
        " SELECT vt.topic_id, v.title, max(s.views) AS peak FROM trend_video_topics vt"
        " JOIN trend_videos v USING (country, video_id) JOIN trend_snapshots s USING (country, video_id)"
        " WHERE vt.country = ? AND vt.topic_id IN (SELECT unnest(?::INTEGER[])) GROUP BY ALL) GROUP BY topic_id",
        [n, country, list(topic_ids)])
    return {r[0]: r[1] for r in rows}


def topic_brief(db: Database, country: str, topic_id: int) -> dict:
    """What the writer gets for a topic: a topic line, related trending titles and tags."""
    row = db.query_one("SELECT label, terms FROM trend_topics WHERE country = ? AND topic_id = ?", [country, topic_id])
    if row is None:
        raise LookupError(f"There is no topic {topic_id} for {country}: recompute topics on the Trends page.")
    label, words = row
    titles = related_titles(db, country, [topic_id], 6).get(topic_id, [])
    tag_rows = db.query(
        "SELECT tag, count(*) AS n FROM (SELECT unnest(v.tags) AS tag FROM trend_video_topics vt"
        " JOIN trend_videos v USING (country, video_id) WHERE vt.country = ? AND vt.topic_id = ?)"
        " GROUP BY tag ORDER BY n DESC, tag LIMIT 8", [country, topic_id])
    tags = list(dict.fromkeys([*words[:4], *(r[0] for r in tag_rows)]))[:10]
    # The topic's phrase (names.py) as it is: never "what's trending", which calls a sample from 2018 current.
    topic = label
    return {"topic": topic[:200], "related_titles": titles, "tags": tags, "label": label,
            "source": json.dumps({"country": country, "topic_id": topic_id})}

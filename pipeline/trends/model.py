"""The popularity model: from a video's first k days on the trending list, its views h days later.

Samples: for each video, its first k observations (days on the list) give the
features; the target is log10 views on the day h days after the k-th
observation, known only if the video is still on the list that day (which is
the second target: still trending or not). Days with no data at all are never
used as target days.

Evaluation is on time: the model and the log-linear constant are fitted on
samples whose target day falls before the split date, and tested on samples
whose k-th day falls on or after it. Baselines, as in the literature:
persistence (views stay as last seen) and Szabo & Huberman's log-linear model
(log v(t+h) = log v(t) + c, c fitted on the training period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

FEATURES = ["lv_k", "lv_1", "growth_last", "growth_total", "span_days", "rank_k", "rank_mean", "rank_change",
            "category_id", "publish_lag_days", "like_ratio", "comment_ratio", "dislike_share", "weekday", "days_seen_gap"]


def snapshots_frame(rows: list[dict]) -> pl.DataFrame:
    """Canonical parsed rows (see ingest.parse_trending) as the frame the model works on."""
    schema = {"video_id": pl.String, "day": pl.Date, "rank": pl.Int64, "views": pl.Int64, "likes": pl.Int64,
              "dislikes": pl.Int64, "comments": pl.Int64, "category_id": pl.Int64, "publish_time": pl.Datetime}
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def build_samples(snap: pl.DataFrame, k: int, horizon: int, known_targets_only: bool = True) -> pl.DataFrame:
    """One row per video with at least k observations: features from the first k, the target h days on.

    With ``known_targets_only`` (training and evaluation) a sample whose target day has no data at all
    is dropped; without it (prediction) every video with k observations is kept.
    """
    if k < 1 or horizon < 1:
        raise ValueError("k and the horizon must be at least 1 day.")
    data_days = set(snap["day"].unique().to_list())
    s = (snap.filter(pl.col("views") > 0)
         .sort("video_id", "day")
         .with_columns(pl.col("day").rank("ordinal").over("video_id").alias("obs"),
                       pl.col("views").log10().alias("lv")))
    first_k = s.filter(pl.col("obs") <= k)
    agg = (first_k.group_by("video_id").agg(
        pl.len().alias("n"),
        pl.col("day").first().alias("day_1"), pl.col("day").last().alias("day_k"),
        pl.col("lv").first().alias("lv_1"), pl.col("lv").last().alias("lv_k"),
        pl.col("lv").tail(2).first().alias("lv_prev"),
        pl.col("day").tail(2).first().alias("day_prev"),
        pl.col("rank").last().alias("rank_k"), pl.col("rank").mean().alias("rank_mean"),
        pl.col("rank").first().alias("rank_1"),
        pl.col("likes").last().alias("likes"), pl.col("dislikes").last().alias("dislikes"),
        pl.col("comments").last().alias("comments"), pl.col("views").last().alias("views_k"),
        pl.col("category_id").last().alias("category_id"), pl.col("publish_time").last().alias("publish_time"),
    ).filter(pl.col("n") == k))
    agg = agg.with_columns(
        (pl.col("day_k") + timedelta(days=horizon)).alias("target_day"),
        ((pl.col("lv_k") - pl.col("lv_prev")) / (pl.col("day_k") - pl.col("day_prev")).dt.total_days().clip(1, None))
        .fill_nan(0).alias("growth_last"),
        ((pl.col("lv_k") - pl.col("lv_1")) / (pl.col("day_k") - pl.col("day_1")).dt.total_days().clip(1, None))
        .alias("growth_total"),
        (pl.col("day_k") - pl.col("day_1")).dt.total_days().alias("span_days"),
        (pl.col("rank_k") - pl.col("rank_1")).alias("rank_change"),
        ((pl.col("day_1").cast(pl.Datetime) - pl.col("publish_time")).dt.total_hours() / 24).alias("publish_lag_days"),
        (pl.col("likes") / pl.col("views_k")).alias("like_ratio"),
        (pl.col("comments") / pl.col("views_k")).alias("comment_ratio"),
        (pl.col("dislikes") / (pl.col("likes") + pl.col("dislikes"))).alias("dislike_share"),
        pl.col("day_k").dt.weekday().alias("weekday"),
        ((pl.col("day_k") - pl.col("day_1")).dt.total_days() - (k - 1)).alias("days_seen_gap"),
    )
    if k == 1:
        agg = agg.with_columns(pl.lit(0.0).alias("growth_last"), pl.lit(0.0).alias("growth_total"))
    target = s.select("video_id", pl.col("day").alias("target_day"), pl.col("lv").alias("lv_target"))
    out = agg.join(target, on=["video_id", "target_day"], how="left").with_columns(
        pl.col("lv_target").is_not_null().alias("on_list"))
    if known_targets_only:
        out = out.filter(pl.col("target_day").is_in(list(data_days)))  # a day with no data tells nothing
    return out


def metrics(pred_lv: np.ndarray, true_lv: np.ndarray) -> dict:
    """MAE of log10 views, median absolute percentage error of views, Spearman rank correlation."""
    pred_lv, true_lv = np.asarray(pred_lv, float), np.asarray(true_lv, float)
    if len(true_lv) == 0:
        return {"mae_log10": None, "mdape": None, "spearman": None}
    ape = np.abs(10 ** pred_lv - 10 ** true_lv) / 10 ** true_lv * 100
    rho = spearmanr(pred_lv, true_lv).statistic if len(true_lv) > 2 else float("nan")
    return {"mae_log10": round(float(np.mean(np.abs(pred_lv - true_lv))), 4), "mdape": round(float(np.median(ape)), 2),
            "spearman": None if np.isnan(rho) else round(float(rho), 4)}


@dataclass
class Split:
    split_date: date
    train: pl.DataFrame
    test: pl.DataFrame


def time_split(samples: pl.DataFrame, fraction: float = 0.7) -> Split:
    """Train on targets before the split date; test on samples whose k-th day is on or after it."""
    days = sorted(samples["day_k"].unique().to_list())
    if len(days) < 2:
        raise ValueError("Not enough days for a time split: import more days of trending data.")
    split = days[min(len(days) - 1, max(1, int(len(days) * fraction)))]
    return Split(split, samples.filter(pl.col("target_day") < split), samples.filter(pl.col("day_k") >= split))


class PopularityModel:
    """Gradient boosting on the log growth to the horizon, plus a still-on-the-list classifier."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.features = list(FEATURES)
        self.log_linear_c = 0.0
        self.fitted_clf = False

    def _estimators(self) -> None:
        cats = [self.features.index("category_id")] if "category_id" in self.features else None
        self.reg = HistGradientBoostingRegressor(loss="absolute_error", max_iter=300, learning_rate=0.05,
                                                 max_leaf_nodes=15, min_samples_leaf=20, l2_regularization=1.0,
                                                 categorical_features=cats, random_state=self.seed)
        self.clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                                  categorical_features=cats, random_state=self.seed)

    def matrix(self, samples: pl.DataFrame) -> np.ndarray:
        cols = [pl.col(c).cast(pl.Float64) if c in samples.columns else pl.lit(None, pl.Float64).alias(c)
                for c in self.features]
        x = samples.select(cols).to_numpy().astype(float)
        x[~np.isfinite(x)] = np.nan
        if "category_id" in self.features:
            i = self.features.index("category_id")
            x[:, i] = np.nan_to_num(x[:, i], nan=0) % 64
        return x

    def fit(self, train: pl.DataFrame) -> PopularityModel:
        seen = train.filter(pl.col("on_list"))
        if seen.height < 20:
            raise ValueError(f"Only {seen.height} training videos are still trending at the horizon: "
                             "import more days, or lower k or the horizon.")
        # a file without likes or publish times (the CA file) simply has fewer features
        self.features = [c for c in FEATURES if c in seen.columns and seen[c].cast(pl.Float64).is_finite().any()]
        self._estimators()
        growth = (seen["lv_target"] - seen["lv_k"]).to_numpy()
        self.log_linear_c = float(np.mean(growth))
        self.reg.fit(self.matrix(seen), growth)
        labels = train["on_list"].to_numpy()
        if len(set(labels)) == 2:
            self.clf.fit(self.matrix(train), labels)
            self.fitted_clf = True
        return self

    def predict_log_views(self, samples: pl.DataFrame) -> np.ndarray:
        return samples["lv_k"].to_numpy() + self.reg.predict(self.matrix(samples))

    def predict_on_list(self, samples: pl.DataFrame) -> np.ndarray:
        if not self.fitted_clf:
            return np.full(samples.height, np.nan)
        return self.clf.predict_proba(self.matrix(samples))[:, 1]


def evaluate(snap: pl.DataFrame, k: int = 2, horizon: int = 2, fraction: float = 0.7) -> dict:
    """Model against persistence and log-linear on the later period; the JSON the CLI prints."""
    samples = build_samples(snap, k, horizon)
    split = time_split(samples, fraction)
    model = PopularityModel().fit(split.train)
    test = split.test.filter(pl.col("on_list"))
    if test.height < 10:
        raise ValueError(f"Only {test.height} test videos are still trending at the horizon: import more days, "
                         "or lower k or the horizon.")
    true = test["lv_target"].to_numpy()
    last = test["lv_k"].to_numpy()
    result = {
        "model": metrics(model.predict_log_views(test), true),
        "persistence": metrics(last, true),
        "log_linear": metrics(last + model.log_linear_c, true),
        "n_test": test.height,
        "n_train": split.train.filter(pl.col("on_list")).height,
        "split_date": split.split_date.isoformat(),
        "k": k,
        "horizon": horizon,
        "log_linear_c": round(model.log_linear_c, 4),
    }
    if model.fitted_clf and split.test.height:
        p = model.predict_on_list(split.test)
        y = split.test["on_list"].to_numpy()
        base = float(split.train["on_list"].mean())
        result["on_list"] = {"n": split.test.height, "rate": round(float(y.mean()), 4),
                             "model_accuracy": round(float(((p >= 0.5) == y).mean()), 4),
                             "base_accuracy": round(float(((base >= 0.5) == y).mean()), 4),
                             "model_brier": round(float(np.mean((p - y) ** 2)), 4),
                             "base_brier": round(float(np.mean((base - y) ** 2)), 4)}
    return result

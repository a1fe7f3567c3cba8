"""``python -m pipeline trends ...``: import trending data, evaluate the model, topics, the backlog."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pipeline.trends.desk import country_from_name
from pipeline.trends.ingest import CsvTrendSource, TrendImportError
from pipeline.trends.model import evaluate, snapshots_frame


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    trends = sub.add_parser("trends", help="trend intelligence: import, evaluate, topics, backlog")
    tsub = trends.add_subparsers(dest="trends_command", required=True)

    imp = tsub.add_parser("import", parents=[common], help="load a trending CSV into the database")
    imp.add_argument("file", type=Path)
    imp.add_argument("--country", help="two-letter code (default: from the file name, e.g. ..._CA_...)")
    imp.add_argument("--year", type=int, default=2017, help="year of the older schema's DD.MM dates (default 2017)")
    imp.add_argument("--json", action="store_true")

    ev = tsub.add_parser("evaluate", help="the popularity model against persistence and log-linear baselines")
    ev.add_argument("file", type=Path)
    ev.add_argument("--k", type=int, default=2, help="days on the list the model sees (default 2)")
    ev.add_argument("--horizon", type=int, default=2, help="days ahead to predict (default 2)")
    ev.add_argument("--year", type=int, default=2017)
    ev.add_argument("--json", action="store_true")

    top = tsub.add_parser("topics", parents=[common], help="cluster the imported videos into topics")
    top.add_argument("--country", default=None, help="default: every imported country")
    top.add_argument("--method", choices=["auto", "minilm", "tfidf"], default="auto")

    back = tsub.add_parser("backlog", parents=[common], help="topics ranked for a channel")
    back.add_argument("--country", default=None)
    back.add_argument("--channel", default=None)
    back.add_argument("--limit", type=int, default=15)
    back.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, workbench) -> int:
    if args.trends_command == "evaluate":
        return _evaluate(args)
    wb = workbench(args)
    try:
        if args.trends_command == "import":
            report = wb.trends.import_csv(args.file, args.country, args.year)
            print(json.dumps(report.__dict__) if args.json else report.summary())
            return 0
        from pipeline.trends.features import countries
        chosen = [args.country.upper()] if args.country else countries(wb.db)
        if not chosen:
            print("error: no trending data yet: run `python -m pipeline trends import FILE` first", file=sys.stderr)
            return 2
        if args.trends_command == "topics":
            for country in chosen:
                status = wb.trends.compute_topics(country, args.method)
                print(f"{country}: {status.state} in {status.seconds} s: {status.message}")
                if status.state == "failed":
                    return 1
            return 0
        from pipeline.channels import get_channel, list_channels
        channel = get_channel(wb.db, args.channel) if args.channel else list_channels(wb.db)[0]
        country = chosen[0]
        if not wb.trends.has_topics(country):
            print(f"error: no topics for {country} yet: run `python -m pipeline trends topics --country {country}`",
                  file=sys.stderr)
            return 2
        table = wb.trends.backlog(country, channel, args.limit)
        cols = ["topic_id", "label", "score", "momentum", "predicted_growth_pct", "fit", "novelty", "recent", "examples"]
        if args.json:
            print(json.dumps(table.select(cols).to_dicts()))
        else:
            for r in table.select(cols).iter_rows(named=True):
                growth = "   n/a" if r["predicted_growth_pct"] is None else f"{r['predicted_growth_pct']:+5.0f}%"
                print(f"{r['score']:.3f}  #{r['topic_id']:<3} {r['label'][:40]:<40} momentum {r['momentum']:+.2f}  "
                      f"growth {growth}  fit {r['fit']:.2f}  novelty {r['novelty']:.2f}")
        return 0
    finally:
        wb.close()


def _evaluate(args: argparse.Namespace) -> int:
    source = CsvTrendSource(args.file, country_from_name(args.file.name) or "XX", args.year)
    started = time.perf_counter()
    parsed = source.fetch()
    result = evaluate(snapshots_frame(parsed.rows), args.k, args.horizon)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.file.name}: k={args.k} days seen, horizon {args.horizon} days; split {result['split_date']}; "
          f"{result['n_train']} training and {result['n_test']} test videos ({time.perf_counter() - started:.1f} s)")
    print(f"{'':<12}{'MAE log10':>10}{'MdAPE %':>10}{'Spearman':>10}")
    for name in ("model", "persistence", "log_linear"):
        m = result[name]
        print(f"{name:<12}{m['mae_log10']:>10.4f}{m['mdape']:>10.2f}{m['spearman']:>10.4f}")
    beats = result["model"]["mae_log10"] < min(result["persistence"]["mae_log10"], result["log_linear"]["mae_log10"])
    print("the model beats both baselines on MAE of log views" if beats else
          "the model does NOT beat both baselines on MAE of log views")
    if "on_list" in result:
        o = result["on_list"]
        print(f"still trending after {args.horizon} days: model accuracy {o['model_accuracy']:.3f} vs "
              f"{o['base_accuracy']:.3f} for the base rate ({o['n']} videos)")
    return 0


ERRORS = (TrendImportError, ValueError)

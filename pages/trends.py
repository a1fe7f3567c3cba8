"""Trends: what is rising, topic momentum, the model's honest scorecard, and the backlog."""

from datetime import date

import plotly.express as px
import polars as pl
import streamlit as st

from pipeline.channels import ChannelError
from pipeline.config import ConfigError
from pipeline.providers.base import BriefError
from pipeline.queries import describe_freshness
from ui.cache import read
from ui.requests import request_key
from ui.state import get_workbench
from ui.text import md
from ui.trend_import import BACKLOG, EVALUATION, IMPORTS, RISING, TOPICS, import_form, show_table, topic_notice, youtube_trending
from ui.widgets import chart, day_axis, empty

wb = get_workbench()
st.title("Trends")
countries = read("trend_countries")

if not countries:
    if wb.actor.can("admin"):
        empty("No trending data yet. Import a trending CSV below (the bundled samples load on first start).")
        import_form()
    else:
        empty("No trending data yet: the owner imports it (the bundled samples load on first start).")
    st.stop()

country = st.segmented_control("Country", countries, default=countries[0], key="trend-country") or countries[0]
st.caption(f"Data: {md(describe_freshness(read('trend_freshness', country)))}")
topic_notice(country)

rising, topics_tab, model_tab, backlog_tab, import_tab = st.tabs(["Rising", "Topics", "Model", "Backlog", "Import"])
with rising:
    show_table(read("rising_videos", country, 25), RISING, f"rising_{country}")
with topics_tab:
    if not wb.trends.has_topics(country):
        empty("No topics yet for this country: they appear here when the clustering above finishes, or press "
              "**Recompute topics** below.")
    else:
        days = read("topic_days", country, 60)
        momentum = read("topic_momentum", country)
        top = momentum.head(8)["topic_id"].to_list()
        fig = px.line(days.filter(pl.col("topic_id").is_in(top)).to_pandas(), x="day", y="videos", color="label",
                      labels={"videos": "Videos on the list", "label": "Topic"})
        chart(day_axis(fig, 60), legend="Topic")
        show_table(momentum, TOPICS, f"topic_momentum_{country}")
    busy = wb.trends.busy(country)
    if wb.actor.can("admin") and st.button("Recompute topics", icon=":material/hub:", disabled=busy,
                                           help="Clustering is running in the background already." if busy else None):
        with st.spinner("Clustering titles and tags…"):
            s = wb.trends.compute_topics(country)
        (st.success if s.state == "ready" else st.error)(f"{md(s.message)} ({s.seconds} s)")
with model_tab:
    c = st.columns(3)
    k = c[0].number_input("Days seen (k)", 1, 7, 2)
    h = c[1].number_input("Horizon (days)", 1, 7, 2)
    if wb.actor.can("make") and c[2].button("Evaluate", icon=":material/science:"):
        with st.spinner("Training on the earlier period, testing on the later one…"):
            try:
                wb.trends.evaluate(country, int(k), int(h))
            except ValueError as exc:
                st.error(md(exc))
    rows = [{"k": e["k"], "horizon": e["horizon"], "who": who, **e[who], "n_test": e["n_test"],
             "split": date.fromisoformat(e["split_date"])}
            for e in wb.trends.evaluations(country) for who in ("model", "persistence", "log_linear")]
    if rows:
        show_table(pl.DataFrame(rows), EVALUATION, f"evaluation_{country}")
    else:
        empty("Not evaluated yet: press Evaluate to score the model against persistence and log-linear baselines.")
with backlog_tab:
    if not wb.trends.has_topics(country):
        empty("The backlog needs topics: they are computed on first start, or press Recompute topics.")
    else:
        names = read("channels")["name"].to_list()
        c = st.columns(3)
        channel = c[0].selectbox("For channel", names, key="backlog-channel")
        duration = c[1].number_input("Duration (s)", 10, 1800, 60, 10, key="backlog-duration")
        fmt = c[2].radio("Format", ["landscape", "shorts"], horizontal=True, key="backlog-format")
        chosen = read("channels").filter(pl.col("name") == channel).row(0, named=True)
        ranked = wb.trends.backlog(country, chosen, 15)
        for r in ranked.iter_rows(named=True):
            with st.container(border=True):
                left, right = st.columns([5, 1])
                growth = "growth unknown" if r["predicted_growth_pct"] is None else f"growth {r['predicted_growth_pct']:+.0f}%"
                left.markdown(f"**{md(r['label'])}** · score {r['score']:.2f} · momentum {r['momentum']:+.2f} · "
                              f"{growth} · fit {r['fit']:.2f} · novelty {r['novelty']:.2f}")
                left.caption(md(r["examples"]))
                if wb.actor.can("make") and right.button("Make video", key=f"make-{country}-{r['topic_id']}", icon=":material/play_arrow:"):
                    key = request_key(f"backlog-{country}-{r['topic_id']}", (chosen["id"], int(duration), fmt))
                    try:
                        job, created = wb.submit(wb.topic_request(country, r["topic_id"], channel=channel,
                                                                  duration_s=int(duration), format=fmt, request_key=key))
                        st.toast(f"Queued job #{job}: follow it in Studio" if created else
                                 f"Already queued as job #{job}: a second click adds nothing")
                    except (BriefError, ConfigError, ChannelError) as exc:
                        st.error(md(exc))
        show_table(ranked.drop("terms"), BACKLOG, f"backlog_{country}")
with import_tab:
    if wb.actor.can("admin"):
        import_form()
    else:
        st.caption("Trending data is shared by every workspace: the owner imports it.")
    youtube_trending()
    imports = read("trend_imports", 20)
    if not imports.is_empty():
        show_table(imports, IMPORTS, "trend_imports")

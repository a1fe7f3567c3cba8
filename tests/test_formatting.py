"""How numbers, money, dates, column names and charts read (ui.widgets), and the two themes (.streamlit/config.toml)."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta, timezone

import plotly.express as px
import polars as pl
import pytest

from conftest import ROOT
from pipeline.jobs import STAGES
from pipeline.media.draw import contrast, parse_color
from ui.widgets import (CAP_COLOUR, DASH, cap_line, columns, count, dash, day_axis, in_stage_order, label,
                        money_format, percent, usd, when)


@pytest.mark.parametrize("value, shown", [(None, DASH), (float("nan"), DASH), (0, "$0.00"), (0.004, "<$0.01"),
                                          (-0.004, "-<$0.01"), (0.005, "$0.01"), (0.11, "$0.11"), (2.999, "$3.00"),
                                          (1234.5, "$1,234.50"), (-0.25, "-$0.25")])
def test_usd(value, shown):
    assert usd(value) == shown


@pytest.mark.parametrize("value, shown", [(None, DASH), (0, "0"), (7, "7"), (1234, "1,234"), (1234567, "1,234,567"),
                                          (12.6, "13"), (float("nan"), DASH)])
def test_count(value, shown):
    assert count(value) == shown


@pytest.mark.parametrize("value, digits, shown", [(None, 0, DASH), (0, 0, "0%"), (1, 0, "100%"), (0.4249, 0, "42%"),
                                                  (0.4249, 1, "42.5%")])
def test_percent(value, digits, shown):
    assert percent(value, digits) == shown


@pytest.mark.parametrize("value, shown", [(None, DASH), ("", DASH), ("x", "x"), (0, "0"), (False, "False")])
def test_dash(value, shown):
    assert dash(value) == shown


@pytest.mark.parametrize("value, shown", [
    (None, DASH),
    (date(2026, 12, 1), "1 Dec 2026"),
    (datetime(2026, 12, 1, 14, 5, 33), "1 Dec 2026 14:05"),
    (datetime(2026, 12, 1), "1 Dec 2026"),  # a midnight is a date: never 00:00:00
    (datetime(2026, 1, 9, 0, 0, 1), "9 Jan 2026 00:00"),  # a real time just after midnight keeps its time
    (datetime(2026, 12, 1, 14, 5, tzinfo=timezone.utc), "1 Dec 2026 14:05 UTC"),
    ("2026-12-01", "1 Dec 2026"),
    ("2026-12-01T14:05:00Z", "1 Dec 2026 14:05 UTC"),
    ("2026-12-01 14:05:00", "1 Dec 2026 14:05"),
    ("not a date", "not a date"),
])
def test_when(value, shown):
    assert when(value) == shown


def test_when_reads_a_pandas_timestamp():
    import pandas as pd
    assert when(pd.Timestamp("2026-12-01 14:05")) == "1 Dec 2026 14:05"
    assert when(pd.Timestamp("2026-12-01")) == "1 Dec 2026"


@pytest.mark.parametrize("name, words", [
    ("usd", "Cost"), ("job_id", "Job"), ("created_at", "Created"), ("duration_s", "Length (s)"),
    ("compute_s", "Compute (s)"), ("why_not", "Why not"), ("hours_watched", "Hours watched"),
    ("revenue_usd", "Revenue"), ("youtube_video_id", "YouTube video"), ("growth_pct_day", "Growth % day"),
    ("share_pct", "Share (%)"), ("last_used", "Last used"), ("parked_until", "Parked until"),
    ("Already words", "Already words"), ("MB", "MB"), ("provider", "Provider"),
])
def test_label(name, words):
    assert label(name) == words


@pytest.mark.parametrize("values, fmt", [
    ([0.0, 0.0], "$%,.2f"), ([0.11, 1234.5], "$%,.2f"), ([0.005, 3.0], "$%,.2f"),  # cents and up: 2 decimals
    ([0.004, 1.0], "$%,.4f"), ([0.0032, None], "$%,.4f"),  # under half a cent: enough digits to show it
    ([0.000016, 0.5], "$%,.6f"), ([4e-7, 1.0], "$%,.8f"), ([1e-12], "$%,.8f"),  # never more than 8
])
def test_money_columns_show_two_decimals_unless_an_amount_is_under_a_cent(values, fmt):
    assert money_format(pl.Series(values, dtype=pl.Float64)) == fmt


def test_columns_label_and_format_every_column_by_name_and_type():
    df = pl.DataFrame({"job_id": [1, 2], "usd": [0.11, 1234.5], "calls": [1200, 3], "compute_s": [1.25, 2.0],
                       "created_at": [datetime(2026, 12, 1, 14, 5), None], "day": [date(2026, 12, 1)] * 2,
                       "midnight_at": [datetime(2026, 1, 1)] * 2, "usable": [True, False], "topic": ["a", None],
                       "secret": ["x", "y"]})
    config = columns(df, labels={"topic": "What it is about"}, hide=["secret"])
    assert list(config) == df.columns  # every column is configured
    fmt = {name: (c or {}).get("type_config", {}).get("format") for name, c in config.items()}
    assert fmt["job_id"] == "%d"  # an id, not an amount
    assert fmt["usd"] == "$%,.2f" and fmt["calls"] == "%,d" and fmt["compute_s"] == "%,.1f"
    assert fmt["created_at"] == "D MMM YYYY HH:mm" and fmt["day"] == "D MMM YYYY"
    assert fmt["midnight_at"] == "D MMM YYYY"  # a column of midnights shows dates only
    assert config["usable"]["type_config"]["type"] == "checkbox"
    assert config["topic"]["label"] == "What it is about" and config["usd"]["label"] == "Cost"
    assert config["secret"] is None  # hidden from view (still in the data and its exports)


def test_the_grid_shows_missing_values_as_a_dash_and_keeps_the_data_as_it_is(monkeypatch):
    import ui.widgets as widgets
    seen = {}
    monkeypatch.setattr(widgets.st, "dataframe", lambda df, **kw: seen.update(df=df, **kw))
    df = pl.DataFrame({"usd": [0.5], "note": [None]}, schema={"usd": pl.Float64, "note": pl.String})
    widgets.grid(df, column_config={"note": widgets.st.column_config.TextColumn("Note to self")})
    assert seen["placeholder"] == DASH and seen["hide_index"] is True
    assert seen["column_config"]["note"]["label"] == "Note to self"  # an explicit entry wins
    assert seen["column_config"]["usd"]["label"] == "Cost"
    assert seen["df"].columns == ["usd", "note"]  # names in words live in the config, not the data


def test_stages_are_listed_in_pipeline_order_and_others_after():
    df = pl.DataFrame({"stage": ["publish", "zeta", "voice", "script", "render", "alpha"], "usd": range(6)})
    assert in_stage_order(df)["stage"].to_list() == ["script", "voice", "render", "publish", "alpha", "zeta"]
    every = pl.DataFrame({"stage": list(reversed(STAGES))})
    assert in_stage_order(every)["stage"].to_list() == list(STAGES)


def test_few_days_read_as_dates_and_many_days_have_no_time_ticks():
    days = pl.DataFrame({"day": [date(2026, 12, 1), date(2026, 12, 2)], "videos": [1, 2]}).to_pandas()
    fig = day_axis(px.bar(days, x="day", y="videos"), 2)
    assert list(fig.data[0].x) == ["1 Dec 2026", "2 Dec 2026"] and fig.layout.xaxis.type == "category"
    many = pl.DataFrame({"day": [date(2026, 1, 1) + timedelta(days=i) for i in range(30)], "videos": range(30)})
    fig = day_axis(px.bar(many.to_pandas(), x="day", y="videos"), 30)
    assert fig.layout.xaxis.tickformat == "%-d %b" and "%H" not in fig.layout.xaxis.hoverformat


def test_the_cap_line_is_labelled_in_money_and_coloured():
    fig = cap_line(px.line(x=[1, 2], y=[0.1, 0.2]), 0.5)
    shape, note = fig.layout.shapes[0], fig.layout.annotations[0]
    assert shape.line.color == CAP_COLOUR and shape.line.dash == "dash"
    assert note.text == "cap $0.50" and note.font.color == CAP_COLOUR


# -- the themes -------------------------------------------------------------------------------------

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
THEMES = ("light", "dark")


def rgb(value: str) -> tuple[int, int, int]:
    return parse_color(value)


def test_both_themes_are_offered_and_dark_keeps_the_workbench_colours():
    theme = CONFIG["theme"]
    assert set(THEMES) <= set(theme)  # Streamlit offers System, Light and Dark in its menu when both are set
    assert theme["base"] == "dark"
    leaked = [k for k, v in theme.items() if k not in THEMES and "color" in k.lower()]
    assert leaked == []  # a colour in [theme] itself would apply to the light theme too
    dark = theme["dark"]
    assert (dark["primaryColor"], dark["backgroundColor"], dark["secondaryBackgroundColor"], dark["textColor"]) == \
        ("#F2B632", "#111827", "#1E2A44", "#F3F4F6")
    assert contrast(rgb(theme["light"]["backgroundColor"]), (255, 255, 255)) < 1.1  # light is light


def test_every_theme_option_is_one_streamlit_knows():
    from streamlit import config
    known = set(config._config_options_template)
    for name in THEMES:
        for option in CONFIG["theme"][name]:
            assert f"theme.{name}.{option}" in known, f"theme.{name}.{option} is not a Streamlit option"


@pytest.mark.parametrize("name", THEMES)
def test_text_and_chart_colours_read_on_both_backgrounds_of_each_theme(name):
    t = CONFIG["theme"][name]
    backgrounds = [rgb(t["backgroundColor"]), rgb(t["secondaryBackgroundColor"])]
    for bg in backgrounds:
        assert contrast(rgb(t["textColor"]), bg) >= 7  # WCAG AAA for body text
        assert contrast(rgb(t["primaryColor"]), bg) >= 4.5
        for series in t["chartCategoricalColors"]:
            assert contrast(rgb(series), bg) >= 3, f"{series} is too faint on {name} ({bg})"  # WCAG non-text
    assert len(set(t["chartCategoricalColors"])) >= 6


@pytest.mark.parametrize("name", THEMES)
def test_the_cap_line_reads_on_either_theme(name):
    t = CONFIG["theme"][name]
    for bg in (t["backgroundColor"], t["secondaryBackgroundColor"]):
        assert contrast(rgb(CAP_COLOUR), rgb(bg)) >= 3

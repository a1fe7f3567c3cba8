"""Widgets the pages share: exports, empty states, stage progress, charts, and the one way numbers, money,
dates and column names read (so every table and metric says "$0.11", "1,234" and "1 Dec 2026 14:05")."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from datetime import date, datetime

import polars as pl
import streamlit as st

from pipeline.jobs import STAGES

DASH = "—"  # what a missing value reads as, in text and in tables (never "None")
# A cap or limit drawn over a chart: at least 3:1 against both themes' backgrounds (tests/test_formatting.py).
CAP_COLOUR = "#E5484D"
DAY = "D MMM YYYY"  # momentJS, for st.column_config: the same text as when()
MINUTE = "D MMM YYYY HH:mm"


def to_csv(df: pl.DataFrame) -> bytes:
    """CSV has no lists or structs: lists become 'a|b|c', structs JSON."""
    flat = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, (pl.List, pl.Array)):
            flat.append(pl.col(name).cast(pl.List(pl.String)).list.join("|"))
        elif isinstance(dtype, pl.Struct):
            flat.append(pl.col(name).struct.json_encode())
    return (df.with_columns(flat) if flat else df).write_csv().encode("utf-8")


def to_parquet(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


def exports(df: pl.DataFrame, name: str, key: str | None = None) -> None:
    """CSV and Parquet downloads of a table the operator sees (built only when clicked)."""
    key = key or name
    row = st.container(horizontal=True)
    row.download_button("CSV", lambda: to_csv(df), f"{name}.csv", "text/csv", key=f"{key}-csv", icon=":material/download:",
                       on_click="ignore")
    row.download_button("Parquet", lambda: to_parquet(df), f"{name}.parquet", "application/octet-stream",
                       key=f"{key}-parquet", icon=":material/download:", on_click="ignore")


# -- values as text ------------------------------------------------------------------------------

def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def dash(value: object) -> str:
    """``value`` as text, or "—" when there is none (None, NaN or "")."""
    return DASH if _missing(value) or value == "" else str(value)


def usd(value: float | None) -> str:
    """Money as an operator reads it: $0.11, $1,234.50; under a cent "<$0.01" (never $0.0000); $0.00 for nothing."""
    if _missing(value):
        return DASH
    sign, amount = ("-" if value < 0 else ""), abs(float(value))
    if 0 < amount < 0.005:
        return f"{sign}<$0.01"
    return f"{sign}${amount:,.2f}"


def count(n: float | None) -> str:
    """A count as an operator reads it: "1,234" (whole, with thousands separators); "—" for none."""
    return DASH if _missing(n) else f"{round(float(n)):,}"


def percent(share: float | None, digits: int = 0) -> str:
    """A share (0.42) as "42%"; "—" for none (a rate of nothing, say)."""
    return DASH if _missing(share) else f"{float(share):.{digits}%}"


def when(value: object) -> str:
    """A date as "1 Dec 2026", a time as "1 Dec 2026 14:05" (a midnight as its date alone: never 00:00:00),
    with its zone's name when it has one; ISO text is read too. "—" for none."""
    if _missing(value) or value == "":
        return DASH
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        value = value.to_pydatetime()
    if not isinstance(value, date):
        return str(value)
    day = f"{value.day} {value:%b %Y}"
    if not isinstance(value, datetime):
        return day
    zone = f" {value.tzname()}" if value.tzinfo is not None and value.tzname() else ""
    if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return day + zone
    return f"{day} {value:%H:%M}{zone}"


# -- column names and formats for st.dataframe ---------------------------------------------------

LABELS = {
    "id": "ID", "job_id": "Job", "channel_id": "Channel", "usd": "Cost", "cost_usd": "Cost", "spend_usd": "Spend",
    "revenue_usd": "Revenue", "bin_usd": "Cost per video (from)", "usd_per_unit": "Price per unit (USD)",
    "median_usd": "Median cost", "max_usd": "Dearest", "mean_usd": "Mean cost", "compute_s": "Compute (s)",
    "duration_s": "Length (s)", "default_duration": "Default length (s)", "at_time": "When", "as_of": "As of",
    "from_provider": "From", "to_provider": "To", "why_not": "Why not", "roi": "Return (revenue ÷ cost)",
    "hours_watched": "Hours watched", "video_id": "YouTube video", "made_for_kids": "Made for kids",
    "primary_color": "Primary colour", "accent_color": "Accent colour", "text_color": "Text colour",
    "caption_size": "Caption size (%)", "caption_outline": "Caption outline (px)",
    "caption_shadow": "Caption shadow (px)", "what_to_do": "What to do", "health_upload": "Upload health",
    "parked_reason": "Why parked", "slot_at": "Slot (UTC)", "lufs": "Loudness (LUFS)", "size_mb": "Size (MB)",
    "taken_at": "Taken (UTC)", "path": "Folder", "error_message": "Error", "quality_score": "Quality",
}
_WORDS = {"id": "ID", "url": "URL", "usd": "USD", "youtube": "YouTube", "mb": "MB", "utc": "UTC", "roi": "ROI"}
_IDS = ("id", "job_id", "channel_id")  # numbers that name a row, not amounts: no thousands separator


def label(name: str) -> str:
    """The words an operator reads for a column: LABELS, else snake_case made plain ("created_at" -> "Created",
    "duration_s" -> "Duration (s)", "growth_pct_day" -> "Growth % day")."""
    if name in LABELS:
        return LABELS[name]
    if not name or not name.isidentifier() or name != name.lower():
        return name  # already words (or not ours to rename)
    unit = ""
    for suffix, words in (("_s", " (s)"), ("_pct", " (%)"), ("_mb", " (MB)")):
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], words
    for suffix in ("_at", "_id", "_usd"):  # "made_at" is "Made"; money reads as money without "USD"
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    words = [_WORDS.get(w, "%" if w == "pct" else w) for w in name.split("_") if w]
    text = " ".join(words)
    return (text[:1].upper() + text[1:] if text else name) + unit


def is_money(name: str) -> bool:
    return name == "usd" or name.endswith("_usd") or name.startswith("usd_")


def money_format(values: pl.Series) -> str:
    """"$%,.2f" for a money column, with more digits only when it holds amounts under half a cent (a price per
    character, a voice's share of a short video): enough to show the smallest of them."""
    amounts = values.cast(pl.Float64, strict=False).abs().drop_nulls().drop_nans()
    small = amounts.filter((amounts > 0) & (amounts < 0.005))
    if small.is_empty():
        return "$%,.2f"
    digits = max(3, min(8, 1 - math.floor(math.log10(small.min()))))
    return f"$%,.{digits}f"


def _midnights(values: pl.Series) -> bool:
    times = values.drop_nulls()
    return not times.is_empty() and bool((times.dt.truncate("1d") == times).all())


def column(df: pl.DataFrame, name: str, text: str | None = None):
    """The st.column_config entry for one column: its label, and the format its name and type call for."""
    cc, dtype, text = st.column_config, df.schema[name], text or label(name)
    if dtype == pl.Boolean:
        return cc.CheckboxColumn(text)
    if dtype == pl.Date:
        return cc.DateColumn(text, format=DAY)
    if isinstance(dtype, pl.Datetime):
        return cc.DatetimeColumn(text, format=DAY if _midnights(df[name]) else MINUTE)
    if dtype.is_numeric():
        if is_money(name):
            return cc.NumberColumn(text, format=money_format(df[name]))
        if dtype.is_integer():
            return cc.NumberColumn(text, format="%d" if name in _IDS else "%,d")
        if name.endswith("_s") or name in ("hours_watched", "lufs"):
            return cc.NumberColumn(text, format="%,.1f")
        if name == "roi":
            return cc.NumberColumn(text, format="%.2f×")
        return cc.NumberColumn(text, format="localized")
    return cc.Column(text)


def columns(df: pl.DataFrame, labels: dict[str, str] | None = None, hide: Iterable[str] = ()) -> dict:
    """column_config for ``st.dataframe``/``st.data_editor``: every column labelled in words (``labels`` win over
    :data:`LABELS`) and formatted (money "$0.11", counts "1,234", dates "1 Dec 2026", times "1 Dec 2026 14:05");
    ``hide`` drops columns from view (they stay in the data and its exports)."""
    labels, hidden = labels or {}, set(hide)
    return {name: None if name in hidden else column(df, name, labels.get(name)) for name in df.columns}


def grid(df: pl.DataFrame, labels: dict[str, str] | None = None, hide: Iterable[str] = (), **kwargs: object):
    """``st.dataframe`` as operators read it: :func:`columns`, missing values as "—", no index. An explicit
    ``column_config`` entry wins over the automatic one."""
    config = columns(df, labels, hide)
    config.update(kwargs.pop("column_config", None) or {})
    kwargs.setdefault("hide_index", True)
    kwargs.setdefault("placeholder", DASH)
    return st.dataframe(df, column_config=config, **kwargs)


def table(df: pl.DataFrame, name: str, key: str | None = None, labels: dict[str, str] | None = None,
          hide: Iterable[str] = (), **kwargs: object) -> None:
    """:func:`grid` with CSV and Parquet downloads below (of the data as it is: snake_case, raw numbers)."""
    grid(df, labels, hide, **kwargs)
    exports(df, name, key)


def in_stage_order(df: pl.DataFrame, column: str = "stage") -> pl.DataFrame:
    """Rows in pipeline order (pipeline.jobs.STAGES: script, voice, scenes, ... publish), others after, by name."""
    rank = {stage: i for i, stage in enumerate(STAGES)}
    order = pl.col(column).replace_strict(rank, default=len(STAGES), return_dtype=pl.Int64)
    return df.with_columns(_rank=order).sort("_rank", column).drop("_rank")


def empty(message: str, icon: str = ":material/info:") -> None:
    st.info(message, icon=icon)


STATUS_ICONS = {"queued": "⏳", "running": "▶️", "done": "✅", "held": "✋", "failed": "❌", "cancelled": "⏹️",
                "pending": "·", "skipped": "↷", "review": "👀"}


# -- charts --------------------------------------------------------------------------------------

def _day(x: object) -> str:
    try:
        return when(date.fromisoformat(str(x)[:10]))
    except ValueError:
        return str(x)


def day_axis(fig, days: int):
    """Dates on the x axis without sub-day ticks: whole days, and categories when there are few."""
    if days <= 14:  # few days: one category each, labelled by the date alone ("1 Dec 2026")
        fig.for_each_trace(lambda t: t.update(x=[_day(x) for x in t.x]))
        fig.update_xaxes(type="category", title=None)
    else:
        fig.update_xaxes(tickformat="%-d %b", hoverformat="%-d %b %Y", title=None)
    return fig


def cap_line(fig, cap: float, axis: str = "y"):
    """The per-video cap as a dashed line (in a colour both themes show) labelled "cap $0.50"."""
    draw = fig.add_hline if axis == "y" else fig.add_vline
    draw(cap, line_dash="dash", line_color=CAP_COLOUR, annotation_text=f"cap {usd(cap)}",
         annotation_font_color=CAP_COLOUR)
    return fig


def chart(fig, legend: str | None = None, money: str | None = None, **kwargs: object) -> None:
    """A plotly figure in the active theme (light or dark: the series take its chartCategoricalColors from
    .streamlit/config.toml), its legend titled in words; ``money`` ("x" or "y") ticks that axis in dollars."""
    if legend is not None:
        fig.update_layout(legend_title_text=legend)
    if money == "y":
        fig.update_yaxes(tickprefix="$")
    elif money == "x":
        fig.update_xaxes(tickprefix="$")
    st.plotly_chart(fig, theme="streamlit", **kwargs)

"""Widgets the pages share: exports, empty states, money, stage progress."""

from __future__ import annotations

import io

import polars as pl
import streamlit as st


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


def table(df: pl.DataFrame, name: str, key: str | None = None, **kwargs: object) -> None:
    st.dataframe(df, hide_index=True, **kwargs)
    exports(df, name, key)


def empty(message: str, icon: str = ":material/info:") -> None:
    st.info(message, icon=icon)


def usd(value: float | None) -> str:
    """Money as an operator reads it: $0.11, $1,234.50; under a cent "<$0.01" (never $0.0000); $0.00 for nothing."""
    if value is None:
        return "—"
    sign, amount = ("-" if value < 0 else ""), abs(float(value))
    if 0 < amount < 0.005:
        return f"{sign}<$0.01"
    return f"{sign}${amount:,.2f}"


STATUS_ICONS = {"queued": "⏳", "running": "▶️", "done": "✅", "held": "✋", "failed": "❌", "cancelled": "⏹️",
                "pending": "·", "skipped": "↷"}


def day_axis(fig, days: int):
    """Dates on the x axis without sub-day ticks: whole days, and categories when there are few."""
    if days <= 14:  # few days: one category each, labelled by the date alone
        fig.for_each_trace(lambda t: t.update(x=[str(x)[:10] for x in t.x]))
        fig.update_xaxes(type="category", title=None)
    else:
        fig.update_xaxes(tickformat="%b %d", title=None)
    return fig

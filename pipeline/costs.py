"""Price table, Usage -> USD, and the cost ledger.

Every provider call returns :class:`Usage` records. The dated price table in
``data/prices.json`` turns each into a ledger row that keeps the unit price it
was charged at, so cost per video is a ``SUM`` and old rows never change when
prices do. A model missing from the table is an error, never a silent $0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from pipeline.db import Database


class PriceError(LookupError):
    """Usage the price table cannot price: fix data/prices.json."""


@dataclass(frozen=True)
class Usage:
    """What one provider call consumed: ``quantity`` of ``unit`` on ``provider``/``model``."""

    provider: str
    model: str
    unit: str
    quantity: float
    compute_s: float = 0.0


@dataclass(frozen=True)
class PricedUsage:
    usage: Usage
    unit_price_usd: float
    usd: Decimal
    price_version: str


class PriceTable:
    """``{"version": ..., "prices": {provider: {model: {unit: usd_per_unit}}}}``."""

    def __init__(self, version: str, prices: dict[str, dict[str, dict[str, float]]], path: Path | None = None):
        self.version = version
        self.prices = prices
        self.path = path

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise PriceError(f"Price table {path} is missing.") from exc
        except json.JSONDecodeError as exc:
            raise PriceError(f"Price table {path} is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict) or "version" not in raw or not isinstance(raw.get("prices"), dict):
            raise PriceError(f"Price table {path} needs a 'version' and a 'prices' object.")
        prices: dict[str, dict[str, dict[str, float]]] = {}
        for provider, models in raw["prices"].items():
            for model, units in models.items():
                for unit, price in units.items():
                    if not isinstance(price, (int, float)) or price < 0:
                        raise PriceError(f"Price of {provider}/{model}/{unit} must be a number >= 0, got {price!r}.")
                    prices.setdefault(provider, {}).setdefault(model, {})[unit] = float(price)
        return cls(str(raw["version"]), prices, Path(path))

    def unit_price(self, provider: str, model: str, unit: str) -> float:
        try:
            return self.prices[provider][model][unit]
        except KeyError:
            known = ", ".join(f"{p}/{m}" for p, ms in self.prices.items() for m in ms)
            raise PriceError(
                f"No price for {provider}/{model} per {unit} in price table {self.version}. "
                f"Add it to {self.path or 'the price table'} (known: {known})."
            ) from None

    def price(self, usage: Usage) -> PricedUsage:
        unit_price = self.unit_price(usage.provider, usage.model, usage.unit)
        usd = (Decimal(str(unit_price)) * Decimal(str(usage.quantity))).quantize(
            Decimal("0.000001"), rounding=ROUND_HALF_UP
        )
        return PricedUsage(usage, unit_price, usd, self.version)

    def estimate(self, usages: list[Usage]) -> Decimal:
        return sum((self.price(u).usd for u in usages), Decimal(0))


def insert_ledger(cur, job_id: int, stage: str, priced: list[PricedUsage]) -> Decimal:
    """Append priced usage to the ledger inside the caller's transaction, keeping the rollups
    (job_costs, cost_daily) in step; returns the total."""
    run = workspace = None
    for p in priced:
        u = p.usage
        if run is None:  # the job's current run (1, then one more per rerun after an edit) and its workspace
            row = cur.execute("SELECT run, workspace_id FROM jobs WHERE id = ?", [job_id]).fetchall()
            run, workspace = row[0] if row else (1, 1)
        cur.execute(
            "INSERT INTO cost_ledger (job_id, stage, provider, model, unit, quantity,"
            " unit_price_usd, usd, compute_s, price_version, run) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [job_id, stage, u.provider, u.model, u.unit, u.quantity, p.unit_price_usd, p.usd,
             u.compute_s, p.price_version, run],
        )
        cur.execute(
            "INSERT INTO cost_daily VALUES (current_date, ?, ?, ?, ?, ?, ?, ?, 1, ?)"
            " ON CONFLICT DO UPDATE SET quantity = cost_daily.quantity + excluded.quantity,"
            " usd = cost_daily.usd + excluded.usd, compute_s = cost_daily.compute_s + excluded.compute_s,"
            " calls = cost_daily.calls + 1",
            [stage, u.provider, u.model, u.unit, u.quantity, p.usd, u.compute_s, workspace],
        )
    total = sum((p.usd for p in priced), Decimal(0))
    if priced:
        cur.execute(
            "INSERT INTO job_costs (job_id, usd, compute_s, workspace_id) VALUES (?, ?, ?, ?) ON CONFLICT (job_id)"
            " DO UPDATE SET usd = job_costs.usd + excluded.usd, compute_s = job_costs.compute_s + excluded.compute_s",
            [job_id, total, sum(p.usage.compute_s for p in priced), workspace],
        )
    return total


def rebuild_rollups(cur) -> None:
    """Recompute job_costs and cost_daily from the ledger (after a restore or a bulk load)."""
    cur.execute("DELETE FROM job_costs")
    cur.execute("INSERT INTO job_costs (job_id, usd, compute_s, workspace_id) SELECT l.job_id, sum(l.usd),"
                " sum(l.compute_s), coalesce(any_value(j.workspace_id), 1) FROM cost_ledger l"
                " LEFT JOIN jobs j ON j.id = l.job_id GROUP BY l.job_id")
    cur.execute("DELETE FROM cost_daily")
    cur.execute("INSERT INTO cost_daily SELECT l.charged_at::DATE, l.stage, l.provider, l.model, l.unit, sum(l.quantity),"
                " sum(l.usd), sum(l.compute_s), count(*), coalesce(j.workspace_id, 1)"
                " FROM cost_ledger l LEFT JOIN jobs j ON j.id = l.job_id GROUP BY ALL")


def record_usage(db: Database, table: PriceTable, job_id: int, stage: str, usages: list[Usage]) -> Decimal:
    """Price usages and append them to the ledger in one transaction; returns their total."""
    priced = [table.price(u) for u in usages]  # price everything first: no partial ledger
    with db.write() as cur:
        return insert_ledger(cur, job_id, stage, priced)


def job_cost(db: Database, job_id: int) -> Decimal:
    row = db.query_one("SELECT coalesce(sum(usd), 0) FROM job_costs WHERE job_id = ?", [job_id])
    return Decimal(row[0]) if row else Decimal(0)

"""The budget guard and the provider chain: spend is checked before it happens.

A stage walks its chain (e.g. ``gpt-4.1 > gpt-4.1-mini > local``). Before each paid
call the guard prices the provider's estimate: if the video's total so far plus this
call would pass the video's cap, or today's spend (or units) at that provider plus
this call would pass its daily budget, the stage steps down and records why. The
stages after this one are assumed to fall back to their cheapest (free, local) step,
so one stage never spends the room another needs to finish. Errors that survive the
SDK's retries (429, 5xx, timeouts) and rejected keys step down too, recorded.
When no step can run within budget, the job stops as over budget before spending.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.costs import PriceError, PriceTable, Usage
from pipeline.db import Database
from pipeline.providers.base import ProviderError, TransientError


class OverBudget(ProviderError):
    """No step of the chain fits the video's cap or the providers' daily budgets."""


@dataclass
class Fallback:
    stage: str
    from_provider: str
    to_provider: str | None
    reason: str


def parse_budget(text: str) -> tuple[Decimal, str]:
    """'500 usd' -> (500, 'usd'); '100000 characters' -> (100000, 'characters')."""
    match = re.fullmatch(r"\s*([\d_.]+)\s*([A-Za-z_]+)\s*", text or "")
    if not match:
        raise ValueError(f"A daily budget is an amount and a unit, such as '500 usd' or '100000 characters'; got {text!r}.")
    return Decimal(match[1].replace("_", "")), match[2].lower()


class BudgetGuard:
    """Reads what the job and each provider have spent; decides whether a call may happen."""

    def __init__(self, db: Database, prices: PriceTable, job_id: int, cap_usd: float, daily_budgets: dict[str, str]):
        self.db, self.prices, self.job_id = db, prices, job_id
        self.cap = Decimal(str(cap_usd))
        self.daily = {p: parse_budget(b) for p, b in daily_budgets.items()}

    def spent(self) -> Decimal:
        row = self.db.query_one("SELECT usd FROM job_costs WHERE job_id = ?", [self.job_id])
        return Decimal(row[0]) if row else Decimal(0)

    def today(self, provider: str, unit: str) -> Decimal:
        if unit == "usd":
            row = self.db.query_one("SELECT coalesce(sum(usd), 0) FROM cost_daily WHERE day = current_date AND provider = ?",
                                    [provider])
        else:
            row = self.db.query_one("SELECT coalesce(sum(quantity), 0) FROM cost_daily WHERE day = current_date"
                                    " AND provider = ? AND unit = ?", [provider, unit])
        return Decimal(str(row[0]))

    def refusal(self, estimate: list[Usage], pending: Decimal = Decimal(0)) -> str | None:
        """Why this call may not happen (None when it fits). pending: spent earlier in this stage, not yet ledgered."""
        try:
            cost = self.prices.estimate(estimate)
        except PriceError as exc:
            return str(exc)
        total = self.spent() + pending + cost
        if cost > 0 and total > self.cap:  # a free step always fits: it is how a chain finishes within budget
            return (f"the video would cost ${total:.4f}, over its ${self.cap:.2f} cap "
                    f"(${self.spent() + pending:.4f} so far + ${cost:.4f} for this call)")
        for provider in {u.provider for u in estimate}:
            if provider not in self.daily:
                continue
            limit, unit = self.daily[provider]
            need = cost if unit == "usd" else sum((Decimal(str(u.quantity)) for u in estimate
                                                   if u.provider == provider and u.unit == unit), Decimal(0))
            used = self.today(provider, unit)
            if need and used + need > limit:
                shown = f"${used:.2f} + ${need:.4f}" if unit == "usd" else f"{used:,.0f} + {need:,.0f} {unit}"
                return f"{provider}'s daily budget of {limit:,} {unit} would be passed ({shown})"
        return None


@dataclass
class ChainResult:
    value: Any
    provider: Any
    usage: list[Usage] = field(default_factory=list)  # including what failed attempts were billed
    fallbacks: list[Fallback] = field(default_factory=list)


def run_chain(stage: str, chain: list[tuple[str, Any]], guard: BudgetGuard | None,
              estimate: Callable[[Any], list[Usage]], call: Callable[[Any], tuple[Any, list[Usage]]],
              check: Callable[[Any], str | None]) -> ChainResult:
    """Try each (name, provider) in order; the first that is usable, fits the budget and succeeds wins.

    ``call(provider)`` returns (value, usage). An exception with a ``usage`` attribute (a provider
    billed us and then failed) has that usage kept, so the ledger shows what was billed.
    """
    fallbacks: list[Fallback] = []
    billed: list[Usage] = []
    kinds: list[str] = []
    names = [n for n, _ in chain]
    for i, (name, provider) in enumerate(chain):
        nxt = names[i + 1] if i + 1 < len(names) else None
        why = check(provider)
        if why:
            kinds.append("unavailable")
            fallbacks.append(Fallback(stage, name, nxt, f"unavailable: {why}"))
            continue
        if guard is not None:
            try:
                pending = guard.prices.estimate(billed) if billed else Decimal(0)
                guard.prices.estimate(estimate(provider))
            except PriceError as exc:
                kinds.append("unpriced")
                fallbacks.append(Fallback(stage, name, nxt, f"unpriced: {exc}"))
                continue
            refusal = guard.refusal(estimate(provider), pending)
            if refusal:
                kinds.append("budget")
                fallbacks.append(Fallback(stage, name, nxt, f"budget: {refusal}"))
                continue
        try:
            value, usage = call(provider)
        except (TransientError, ProviderError) as exc:
            billed.extend(getattr(exc, "usage", None) or [])
            kinds.append("transient" if isinstance(exc, TransientError) else "error")
            fallbacks.append(Fallback(stage, name, nxt, f"error: {exc}"))
            continue
        except BaseException as exc:  # anything else still leaves what was billed on record
            exc.usage = billed + list(getattr(exc, "usage", None) or [])  # type: ignore[attr-defined]
            exc.fallbacks = fallbacks  # type: ignore[attr-defined]
            raise
        return ChainResult(value, provider, billed + list(usage), fallbacks)
    summary = "; ".join(f"{f.from_provider}: {f.reason}" for f in fallbacks)
    if "transient" in kinds:
        exc: ProviderError = TransientError(f"every step of the {stage} chain failed ({summary})")
    elif "budget" in kinds and "error" not in kinds:
        exc = OverBudget(f"Over budget: no step of the {stage} chain fits ({summary}). Raise the cap or the daily "
                         "budget in Settings, or add a cheaper step (such as local) to the chain.")
    else:
        exc = ProviderError(f"no step of the {stage} chain could run ({summary})")
    exc.usage = billed  # type: ignore[attr-defined]
    exc.fallbacks = fallbacks  # type: ignore[attr-defined]
    raise exc

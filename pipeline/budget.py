"""The budget guard and the provider chain: spend is checked before it happens.

A stage walks its chain (e.g. ``gpt-4.1 > gpt-4.1-mini > local``). Before each paid
call the guard prices the provider's estimate: if the video's total so far plus this
call would pass the video's cap, or today's spend (or units) at that provider plus
this call would pass its daily budget, the stage steps down and records why. The
stages after this one are assumed to fall back to their cheapest (free, local) step,
so one stage never spends the room another needs to finish. Errors that survive the
SDK's retries (429, 5xx, timeouts) and rejected keys step down too, recorded.
When no step can run within budget, the job stops as over budget before spending.

The check and the reservation are one transaction under the database's write lock: the
estimate is held (``budget_holds``) until the call returns, then settled into the ledger
with what was actually billed, failed calls included, in one transaction. So workers
running side by side see each other's calls in flight and cannot pass a budget together,
and nothing billed goes missing from the ledger: a call the process died during is ledgered at its
estimate when the workbench next starts.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline import events
from pipeline.costs import PriceError, PricedUsage, PriceTable, Usage, insert_ledger
from pipeline.db import Database, first
from pipeline.providers.base import ProviderError, TransientError

log = logging.getLogger("ytempire.budget")


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
    """Reads what the job and each provider have spent and hold; reserves and settles each paid call."""

    def __init__(self, db: Database, prices: PriceTable, job_id: int, cap_usd: float, daily_budgets: dict[str, str],
                 workspace_budgets: dict[str, str] | None = None, workspace_id: int | None = None):
        """``daily_budgets``: the installation's, over every workspace's spend; ``workspace_budgets``: the job's
        workspace's own, over that workspace's spend only. A call must fit both."""
        self.db, self.prices, self.job_id = db, prices, job_id
        self.cap = Decimal(str(cap_usd))
        self.daily = {p: parse_budget(b) for p, b in daily_budgets.items()}
        self.workspace_daily = {p: parse_budget(b) for p, b in (workspace_budgets or {}).items()}
        self.workspace_id = workspace_id

    # -- reading (any cursor: the caller's transaction when reserving) ---------------------------
    def spent(self, cur=None) -> Decimal:
        """The job's ledgered spend plus its calls in flight."""
        cur = cur or self.db.cursor()
        row = first(cur.execute("SELECT (SELECT coalesce(sum(usd), 0) FROM job_costs WHERE job_id = ?)"
                                " + (SELECT coalesce(sum(usd), 0) FROM budget_holds WHERE job_id = ?)",
                                [self.job_id, self.job_id]))
        return Decimal(row[0])

    def today(self, provider: str, unit: str, cur=None, workspace_id: int | None = None) -> Decimal:
        """Today's ledgered spend (or units) at a provider plus its calls in flight (of one workspace, or all)."""
        cur = cur or self.db.cursor()
        ws = "" if workspace_id is None else f" AND workspace_id = {int(workspace_id)}"
        held = "" if workspace_id is None else \
            f" AND job_id IN (SELECT id FROM jobs WHERE workspace_id = {int(workspace_id)})"
        if unit == "usd":
            row = first(cur.execute(
                f"SELECT (SELECT coalesce(sum(usd), 0) FROM cost_daily WHERE day = current_date AND provider = ?{ws})"
                f" + (SELECT coalesce(sum(usd), 0) FROM budget_holds WHERE provider = ?{held})", [provider, provider]))
        else:
            row = first(cur.execute(
                "SELECT (SELECT coalesce(sum(quantity), 0) FROM cost_daily WHERE day = current_date"
                f" AND provider = ? AND unit = ?{ws}) + (SELECT coalesce(sum(quantity), 0) FROM budget_holds"
                f" WHERE provider = ? AND unit = ?{held})", [provider, unit, provider, unit]))
        return Decimal(str(row[0]))

    def refusal(self, estimate: list[Usage], pending: Decimal = Decimal(0), cur=None) -> str | None:
        """Why this call may not happen (None when it fits). pending: spent earlier in this stage, not yet ledgered."""
        try:
            cost = self.prices.estimate(estimate)
        except PriceError as exc:
            return str(exc)
        so_far = self.spent(cur) + pending
        total = so_far + cost
        if cost > 0 and total > self.cap:  # a free step always fits: it is how a chain finishes within budget
            return (f"the video would cost ${total:.4f}, over its ${self.cap:.2f} cap "
                    f"(${so_far:.4f} so far + ${cost:.4f} for this call)")
        for budgets, workspace, whose in ((self.daily, None, ""),
                                          (self.workspace_daily, self.workspace_id, "this workspace's ")):
            for provider in {u.provider for u in estimate}:
                if provider not in budgets:
                    continue
                limit, unit = budgets[provider]
                need = cost if unit == "usd" else sum((Decimal(str(u.quantity)) for u in estimate
                                                       if u.provider == provider and u.unit == unit), Decimal(0))
                used = self.today(provider, unit, cur, workspace)
                if need and used + need > limit:
                    shown = f"${used:.2f} + ${need:.4f}" if unit == "usd" else f"{used:,.0f} + {need:,.0f} {unit}"
                    return f"{whose}{provider} daily budget of {limit:,} {unit} would be passed ({shown})" if whose \
                        else f"{provider}'s daily budget of {limit:,} {unit} would be passed ({shown})"
        return None

    # -- reserving and settling ------------------------------------------------------------------
    def reserve(self, stage: str, estimate: list[Usage]) -> tuple[str | None, str | None]:
        """Check the call and hold its estimate in one transaction. Returns (hold id, None) or (None, refusal)."""
        priced = [self.prices.price(u) for u in estimate]
        with self.db.write() as cur:  # the write lock: no other reservation or settlement in between
            why = self.refusal(estimate, cur=cur)
            if why:
                return None, why
            hold = uuid.uuid4().hex
            for p in priced:
                cur.execute("INSERT INTO budget_holds (hold, job_id, stage, provider, model, unit, quantity, usd)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [hold, self.job_id, stage, p.usage.provider,
                                                                 p.usage.model, p.usage.unit, p.usage.quantity, p.usd])
            events.budget_alerts(cur, self, {u.provider for u in estimate})  # a call in flight counts as spent
        return hold, None

    def settle(self, hold: str | None, stage: str, usage: list[Usage]) -> None:
        """Replace the hold with what the call was billed, in one transaction (usage may be empty: nothing billed)."""
        priced, unpriced = [], []
        for u in usage:
            try:
                priced.append(self.prices.price(u))
            except PriceError as exc:
                unpriced.append(exc)
        with self.db.write() as cur:
            if hold:
                cur.execute("DELETE FROM budget_holds WHERE hold = ?", [hold])
            insert_ledger(cur, self.job_id, stage, priced)
            if priced:  # billed more than held: a threshold may be passed only now
                events.budget_alerts(cur, self, {p.usage.provider for p in priced})
        if unpriced:
            raise unpriced[0]


UNSETTLED = "unsettled-estimate"


def release_holds(db: Database) -> int:
    """At start no call is in flight: a hold left by a process that died during its call is written to the
    ledger as that call's estimate (price version ``unsettled-estimate``), since the provider may well have
    billed it; the budgets keep counting it. Returns how many calls were settled so."""
    with db.write() as cur:
        rows = cur.execute("SELECT hold, job_id, stage, provider, model, unit, quantity, usd FROM budget_holds"
                           " ORDER BY hold").fetchall()
        calls = {}
        for hold, job_id, stage, provider, model, unit, quantity, usd in rows:
            price = float(usd) / quantity if quantity else 0.0
            calls.setdefault((hold, job_id, stage), []).append(
                PricedUsage(Usage(provider, model, unit, quantity), price, Decimal(usd), UNSETTLED))
        for (hold, job_id, stage), priced in calls.items():
            insert_ledger(cur, job_id, stage, priced)
            cur.execute("INSERT INTO job_events (job_id, stage, status, message) VALUES (?, ?, 'fallback', ?)",
                        [job_id, stage, "a paid call was in flight when the process stopped: its estimate is ledgered "
                                        f"(${sum(p.usd for p in priced):.4f}); check the provider's bill"])
        cur.execute("DELETE FROM budget_holds")
    return len(calls)


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
    billed us and then failed) has that usage kept. With a guard, every call's estimate is reserved
    before it and its billed usage settled into the ledger right after it, success or failure, so the
    result's ``usage`` holds only what is not ledgered yet (nothing); without one, everything billed.
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
        hold = None
        if guard is not None:
            try:
                wanted = estimate(provider)
                guard.prices.estimate(wanted)
            except PriceError as exc:
                kinds.append("unpriced")
                fallbacks.append(Fallback(stage, name, nxt, f"unpriced: {exc}"))
                continue
            hold, refusal = guard.reserve(stage, wanted)
            if refusal:
                kinds.append("budget")
                fallbacks.append(Fallback(stage, name, nxt, f"budget: {refusal}"))
                continue
        try:
            value, usage = call(provider)
        except (TransientError, ProviderError) as exc:
            _settle(guard, hold, stage, list(getattr(exc, "usage", None) or []), billed)
            kinds.append("transient" if isinstance(exc, TransientError) else "error")
            fallbacks.append(Fallback(stage, name, nxt, f"error: {exc}"))
            continue
        except BaseException as exc:  # anything else still leaves what was billed on record
            _settle(guard, hold, stage, list(getattr(exc, "usage", None) or []), billed)
            exc.usage = list(billed)  # type: ignore[attr-defined]
            exc.fallbacks = fallbacks  # type: ignore[attr-defined]
            raise
        _settle(guard, hold, stage, list(usage), billed)
        return ChainResult(value, provider, billed, fallbacks)
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


def _settle(guard: BudgetGuard | None, hold: str | None, stage: str, usage: list[Usage], billed: list[Usage]) -> None:
    """Ledger a call's billed usage now (with a guard), or keep it for the caller to ledger (without)."""
    if guard is None:
        billed.extend(usage)
        return
    try:
        guard.settle(hold, stage, usage)
    except PriceError:
        log.error("job %s: billed usage of %s has no price: %s", guard.job_id, stage, usage)
        raise

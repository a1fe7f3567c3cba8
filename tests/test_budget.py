"""The budget guard under concurrency: reservations under the write lock, settlement with what was billed."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from pipeline import jobs
from pipeline.budget import BudgetGuard, release_holds, run_chain
from pipeline.channels import ensure_demo_channel
from pipeline.costs import PriceTable, Usage
from pipeline.providers.base import ProviderError

PRICES = PriceTable("test", {"openai": {"m": {"input_tokens": 0.001}}, "local": {"free": {"words": 0.0}}})
CALL = [Usage("openai", "m", "input_tokens", 1000)]  # $1.00 a call


class Paid:
    name = "openai"

    def __init__(self, delay: float = 0.2, fail: BaseException | None = None):
        self.delay, self.fail = delay, fail
        self.calls = 0
        self.lock = threading.Lock()

    def run(self) -> tuple[str, list[Usage]]:
        with self.lock:
            self.calls += 1
        time.sleep(self.delay)  # long enough for every thread to be deciding at the same time
        if self.fail is not None:
            self.fail.usage = list(CALL)  # billed, then it failed
            raise self.fail
        return "paid", list(CALL)


class Free:
    name = "local"

    def run(self) -> tuple[str, list[Usage]]:
        return "free", [Usage("local", "free", "words", 10)]


def chain(paid: Paid, guard: BudgetGuard | None):
    return run_chain("script", [("paid", paid), ("free", Free())], guard,
                     estimate=lambda p: list(CALL) if p is paid else [Usage("local", "free", "words", 10)],
                     call=lambda p: p.run(), check=lambda p: None)


def new_jobs(db, n: int) -> list[int]:
    channel = ensure_demo_channel(db) or 1
    return [jobs.create_job(db, channel, f"t{i}", 60, "landscape", {}) for i in range(n)]


def test_eight_workers_against_a_budget_for_one_and_a_half_calls_make_one_paid_call(db):
    paid = Paid()
    ids = new_jobs(db, 8)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def work(job_id: int) -> None:
        guard = BudgetGuard(db, PRICES, job_id, 3.0, {"openai": "1.5 usd"})
        barrier.wait()
        results.append(chain(paid, guard).value)

    threads = [threading.Thread(target=work, args=(j,)) for j in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert paid.calls == 1 and sorted(results) == ["free"] * 7 + ["paid"]
    spent = db.query_one("SELECT sum(usd) FROM cost_ledger WHERE provider = 'openai'")[0]
    assert spent == Decimal("1.000000") <= Decimal("1.5")
    assert db.query_one("SELECT count(*) FROM budget_holds")[0] == 0  # every hold settled


def test_the_per_video_cap_counts_a_call_in_flight(db):
    [job] = new_jobs(db, 1)
    guard = BudgetGuard(db, PRICES, job, 1.5, {})
    hold, why = guard.reserve("script", list(CALL))
    assert hold and why is None
    assert guard.spent() == Decimal("1")
    _, why = guard.reserve("voice", list(CALL))
    assert "over its $1.50 cap" in why
    guard.settle(hold, "script", [Usage("openai", "m", "input_tokens", 400)])  # billed less than estimated
    assert guard.spent() == Decimal("0.4")
    assert db.query_one("SELECT count(*) FROM budget_holds")[0] == 0


@pytest.mark.parametrize("fail", [ProviderError("refused after billing", provider="openai"),
                                  RuntimeError("the SDK broke after billing")])
def test_what_a_failed_call_was_billed_is_ledgered_at_once(db, fail):
    [job] = new_jobs(db, 1)
    guard = BudgetGuard(db, PRICES, job, 3.0, {})
    paid = Paid(delay=0, fail=fail)
    if isinstance(fail, ProviderError):
        assert chain(paid, guard).value == "free"  # stepped down
    else:
        with pytest.raises(RuntimeError):
            chain(paid, guard)
    rows = db.query("SELECT stage, provider, quantity FROM cost_ledger WHERE job_id = ? ORDER BY id", [job])
    assert rows[0] == ("script", "openai", 1000.0)  # the failed call's bill, before the stage ever finished
    assert db.query_one("SELECT count(*) FROM budget_holds")[0] == 0


def test_a_call_the_process_died_during_is_ledgered_at_its_estimate_at_start(db):
    [job] = new_jobs(db, 1)
    BudgetGuard(db, PRICES, job, 3.0, {}).reserve("script", list(CALL))  # ...and the process dies mid-call
    assert release_holds(db) == 1
    assert db.query_one("SELECT count(*) FROM budget_holds")[0] == 0
    assert db.query_one("SELECT stage, provider, model, quantity, usd, price_version FROM cost_ledger") == \
        ("script", "openai", "m", 1000.0, Decimal("1.000000"), "unsettled-estimate")
    assert BudgetGuard(db, PRICES, job, 3.0, {}).spent() == Decimal("1")  # the budgets keep counting it


def test_without_a_guard_the_usage_is_returned_to_the_caller(db):
    result = chain(Paid(delay=0), None)
    assert result.value == "paid" and result.usage == CALL
    assert db.query_one("SELECT count(*) FROM cost_ledger")[0] == 0


def test_a_daily_budget_for_an_unknown_provider_is_an_error_naming_the_known_ones():
    from pydantic import ValidationError

    from pipeline.config import Settings
    with pytest.raises(ValidationError, match=r"'opnai' is not a provider: daily budgets are for .*openai"):
        Settings(daily_budgets={"opnai": "5 usd"})
    assert Settings(daily_budgets={"elevenlabs": "1000 characters"}).daily_budgets == {"elevenlabs": "1000 characters"}

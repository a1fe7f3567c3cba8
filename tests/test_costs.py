import json
from decimal import Decimal

import pytest

from pipeline.config import BUNDLED_DATA
from pipeline.costs import PriceError, PriceTable, Usage, job_cost, record_usage

TABLE = PriceTable("2026-01-01", {
    "openai": {"gpt-4.1-mini": {"input_tokens": 0.0000004, "output_tokens": 0.0000016}},
    "google": {"neural2": {"characters": 0.000016}},
    "piper": {"en_US-joe-medium": {"characters": 0.0}},
})


@pytest.mark.parametrize("usage, usd", [
    (Usage("openai", "gpt-4.1-mini", "input_tokens", 1_000_000), Decimal("0.400000")),
    (Usage("openai", "gpt-4.1-mini", "output_tokens", 1234), Decimal("0.001974")),  # 0.0019744 rounds half up
    (Usage("google", "neural2", "characters", 5000), Decimal("0.080000")),
    (Usage("piper", "en_US-joe-medium", "characters", 9999), Decimal("0.000000")),
])
def test_usage_is_priced_to_the_micro_dollar(usage, usd):
    priced = TABLE.price(usage)
    assert priced.usd == usd
    assert priced.price_version == "2026-01-01"


@pytest.mark.parametrize("provider, model, unit", [
    ("openai", "gpt-9", "input_tokens"), ("nobody", "x", "y"), ("openai", "gpt-4.1-mini", "images")])
def test_unknown_model_or_unit_is_an_error_not_zero(provider, model, unit):
    with pytest.raises(PriceError, match="No price for"):
        TABLE.price(Usage(provider, model, unit, 1))


def test_the_bundled_table_prices_every_local_provider():
    table = PriceTable.load(BUNDLED_DATA / "prices.json")
    assert table.version
    for provider, model, unit in [("local", "template-writer-v1", "words"), ("piper", "en_US-joe-medium", "characters"),
                                  ("slides", "pillow-v1", "slides"), ("ffmpeg", "libx264", "video_seconds"),
                                  ("thumbnail", "pillow-v1", "images"), ("quality", "checks-v1", "videos"),
                                  ("outbox", "local-outbox", "videos")]:
        assert table.unit_price(provider, model, unit) == 0.0


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"prices": {}}', "needs a 'version'"),
    ('{"version": "x", "prices": {"a": {"b": {"c": -1}}}}', "must be a number >= 0"),
])
def test_a_broken_price_table_says_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(PriceError, match=message):
        PriceTable.load(path)


def test_missing_price_table(tmp_path):
    with pytest.raises(PriceError, match="missing"):
        PriceTable.load(tmp_path / "nope.json")


def test_ledger_keeps_the_unit_price_and_sums_per_job(db):
    usages = [Usage("openai", "gpt-4.1-mini", "input_tokens", 2000, 0.5),
              Usage("openai", "gpt-4.1-mini", "output_tokens", 1000, 0.5)]
    total = record_usage(db, TABLE, 7, "script", usages)
    assert total == Decimal("0.002400")
    rows = db.query("SELECT stage, provider, model, unit, quantity, unit_price_usd, usd, price_version FROM cost_ledger ORDER BY id")
    assert rows[0] == ("script", "openai", "gpt-4.1-mini", "input_tokens", 2000.0, 0.0000004, Decimal("0.000800"), "2026-01-01")
    assert job_cost(db, 7) == Decimal("0.002400")
    assert job_cost(db, 8) == Decimal("0")


def test_nothing_is_ledgered_when_one_usage_cannot_be_priced(db):
    with pytest.raises(PriceError):
        record_usage(db, TABLE, 1, "voice", [Usage("google", "neural2", "characters", 10), Usage("x", "y", "z", 1)])
    assert db.query_one("SELECT count(*) FROM cost_ledger")[0] == 0


def test_bundled_price_file_is_dated_json():
    raw = json.loads((BUNDLED_DATA / "prices.json").read_text())
    assert raw["currency"] == "USD" and raw["version"][:4].isdigit()


def test_rollups_stay_in_step_with_the_ledger(db):
    from pipeline.costs import rebuild_rollups
    record_usage(db, TABLE, 1, "script", [Usage("openai", "gpt-4.1-mini", "input_tokens", 1000, 0.2)])
    record_usage(db, TABLE, 1, "voice", [Usage("google", "neural2", "characters", 500, 0.1)])
    record_usage(db, TABLE, 2, "voice", [Usage("google", "neural2", "characters", 250, 0.1)] * 2)
    assert db.query("SELECT job_id, usd, compute_s FROM job_costs ORDER BY job_id") == [
        (1, Decimal("0.008400"), pytest.approx(0.3)), (2, Decimal("0.008000"), pytest.approx(0.2))]
    daily = db.query("SELECT stage, provider, quantity, usd, calls FROM cost_daily ORDER BY stage, provider")
    assert daily == [("script", "openai", 1000.0, Decimal("0.000400"), 1), ("voice", "google", 1000.0, Decimal("0.016000"), 3)]
    with db.write() as cur:
        rebuild_rollups(cur)
    assert db.query("SELECT stage, provider, quantity, usd, calls FROM cost_daily ORDER BY stage, provider") == daily

"""The real SDKs (openai, google-cloud-texttospeech, elevenlabs) against loopback fakes, the budget
guard at the cap's edge, daily budgets, and fallbacks recorded per job."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import app_test

from fakes import FakeElevenLabs, FakeGoogleTTS, FakeOpenAI
from pipeline import jobs
from pipeline.budget import BudgetGuard, parse_budget
from pipeline.config import MAX_OUTLINE_CHARS, Settings
from pipeline.costs import PriceTable, Usage
from pipeline.fit import estimated_narration_s, sized_words
from pipeline.providers.base import Brief, BriefError, ProviderError, TransientError
from pipeline.providers.elevenlabs_voice import ElevenLabsVoice
from pipeline.providers.google_tts import GoogleTTSVoice, split_bytes
from pipeline.providers.openai_writer import OpenAIWriter
from pipeline.script import word_count
from pipeline.stages import PIPELINE
from pipeline.workbench import VideoRequest, Workbench

PAID = tuple(s for s in PIPELINE if s.name in ("script", "voice"))  # the stages that spend money


@pytest.fixture
def openai_fake():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def google_fake():
    with FakeGoogleTTS() as fake:
        yield fake


@pytest.fixture
def eleven_fake():
    with FakeElevenLabs(cost_factor=0.5) as fake:
        yield fake


def cloud_settings(tmp_path: Path, openai=None, google=None, eleven=None, **kw) -> Settings:
    values = dict(data_dir=tmp_path / "data", request_timeout_s=1.0, provider_retries=1, retry_base_s=0.01)
    if openai:
        values.update(openai_api_key=openai.key, openai_base_url=openai.url + "/v1")
    if google:
        values.update(google_tts_api_key=google.key, google_tts_endpoint=google.url)
    if eleven:
        values.update(elevenlabs_api_key=eleven.key, elevenlabs_base_url=eleven.url)
    values.update(kw)
    return Settings(**values)


def run_paid(settings: Settings, **request) -> tuple[Workbench, int, str]:
    wb = Workbench(settings, start_worker=False)
    wb.worker.pipeline = PAID
    req = VideoRequest(request.pop("topic", "Why octopuses are so smart"), **request)
    channel, duration, fmt, brief = wb.validate_request(req)
    job = jobs.create_job(wb.db, channel["id"], brief.pop("topic"), duration, fmt, brief, stages=("script", "voice"))
    return wb, job, wb.worker.run_job(job)


def ledger(wb, job):
    return wb.db.query_dicts("SELECT stage, provider, model, unit, quantity, unit_price_usd, usd::DOUBLE AS usd"
                             " FROM cost_ledger WHERE job_id = ? ORDER BY id", [job])


def fallbacks(wb, job):
    return wb.db.query_dicts("SELECT stage, from_provider, to_provider, reason FROM fallbacks WHERE job_id = ? ORDER BY id", [job])


# -- OpenAI ------------------------------------------------------------------------------------

def test_openai_writer_success_records_prompt_cached_and_completion_tokens(tmp_path):
    with FakeOpenAI(cached_tokens=200) as fake:
        wb, job, status = run_paid(cloud_settings(tmp_path, openai=fake), writer="gpt-4.1-mini", voice="piper")
        try:
            assert status == "done"
            rows = [r for r in ledger(wb, job) if r["stage"] == "script"]
            units = {r["unit"]: r for r in rows}
            assert set(units) == {"input_tokens", "cached_input_tokens", "output_tokens"}
            assert units["cached_input_tokens"]["quantity"] == 200
            assert units["input_tokens"]["unit_price_usd"] == pytest.approx(0.4e-6)
            sent = json.loads(fake.requests[0]["body"])
            assert sent["model"] == "gpt-4.1-mini" and sent["response_format"]["type"] == "json_schema"
            script = json.loads((wb.settings.jobs_dir / str(job) / "script.json").read_text())
            assert script["writer"] == "openai:gpt-4.1-mini" and len(script["sections"]) == 3
            assert wb.db.query_one("SELECT provider FROM job_stages WHERE job_id = ? AND stage = 'script'", [job])[0] \
                == "openai:gpt-4.1-mini"
        finally:
            wb.close()


@pytest.mark.parametrize("first", ["429", "503"])
def test_openai_retries_a_429_or_503_and_succeeds(tmp_path, first):
    with FakeOpenAI() as fake:
        fake.queue(first)
        wb, job, status = run_paid(cloud_settings(tmp_path, openai=fake), writer="gpt-4.1-mini", voice="piper")
        try:
            assert status == "done" and len(fake.requests) == 2 and fallbacks(wb, job) == []
        finally:
            wb.close()


@pytest.mark.parametrize("behaviour, reason", [("503", "InternalServer"), ("timeout", "APITimeout"),
                                               ("401", "API key was rejected")])
def test_openai_failures_step_down_to_the_local_writer(tmp_path, behaviour, reason):
    with FakeOpenAI() as fake:
        fake.timeout_sleep = 2.5
        fake.queue(*[behaviour] * 4)
        wb, job, status = run_paid(cloud_settings(tmp_path, openai=fake), writer="gpt-4.1-mini > local", voice="piper")
        try:
            assert status == "done"
            [f] = fallbacks(wb, job)
            assert (f["stage"], f["from_provider"], f["to_provider"]) == ("script", "gpt-4.1-mini", "local")
            assert reason.lower() in f["reason"].lower()
            assert json.loads((wb.settings.jobs_dir / str(job) / "script.json").read_text())["writer"] == "local"
        finally:
            wb.close()


def test_invalid_json_is_asked_again_and_both_calls_are_billed(tmp_path):
    with FakeOpenAI() as fake:
        fake.queue("invalid", "ok")
        wb, job, status = run_paid(cloud_settings(tmp_path, openai=fake), writer="gpt-4.1-mini", voice="piper")
        try:
            assert status == "done" and len(fake.requests) == 2
            retry = json.loads(fake.requests[1]["body"])["messages"][-1]["content"]
            assert "unusable" in retry and "not valid JSON" in retry
            outputs = [r for r in ledger(wb, job) if r["unit"] == "output_tokens"]
            assert len(outputs) == 2  # the bad answer was billed too
        finally:
            wb.close()


def test_unusable_twice_steps_down_and_keeps_what_was_billed(tmp_path):
    with FakeOpenAI() as fake:
        fake.queue("invalid", "short")
        wb, job, status = run_paid(cloud_settings(tmp_path, openai=fake), writer="gpt-4.1-mini > local", voice="piper")
        try:
            assert status == "done"
            assert "unusable script twice" in fallbacks(wb, job)[0]["reason"]
            billed = [r for r in ledger(wb, job) if r["provider"] == "openai"]
            assert {r["unit"] for r in billed} >= {"input_tokens", "output_tokens"} and sum(r["usd"] for r in billed) > 0
        finally:
            wb.close()


def test_a_missing_key_is_skipped_with_the_reason(tmp_path):
    wb, job, status = run_paid(cloud_settings(tmp_path), writer="gpt-4.1 > local", voice="piper")
    try:
        assert status == "done"
        assert fallbacks(wb, job)[0]["reason"].startswith("unavailable: OPENAI_API_KEY is not set")
    finally:
        wb.close()


def test_openai_writer_unit_validation(tmp_path):
    with FakeOpenAI() as fake:
        writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=fake))
        script, usage = writer.write(Brief("Octopus minds", 120, words_per_minute=150))
        assert script.word_count > 100 and usage[0].provider == "openai"
        fake.queue("invalid", "invalid")
        with pytest.raises(ProviderError) as info:
            writer.write(Brief("Octopus minds", 120))
        assert len(info.value.usage) == 4  # two calls, input and output tokens each


# -- Google Text-to-Speech -------------------------------------------------------------------

def test_google_tts_speaks_each_sentence_and_prices_by_tier(tmp_path, google_fake):
    voice = GoogleTTSVoice("neural2", cloud_settings(tmp_path, google=google_fake))
    blocks = [("hook", ["One sentence here.", "Another one."]), ("cta", ["Subscribe."])]
    narration = voice.synthesize(blocks, tmp_path / "n.wav")
    assert [c.text for c in narration.cues] == ["One sentence here.", "Another one.", "Subscribe."]
    assert all(b.start > a.end for a, b in zip(narration.cues, narration.cues[1:]))
    assert narration.usage[0].model == "neural2" and narration.usage[0].quantity == sum(  # SSML is billed, bar its marks
        len(f"<speak>{s}</speak>") for s in ("One sentence here.", "Another one.", "Subscribe."))
    sent = json.loads(google_fake.requests[0]["body"])
    assert sent["voice"]["name"] == "en-US-Neural2-D" and sent["audioConfig"]["audioEncoding"] == "LINEAR16"


def test_google_tts_splits_an_overlong_sentence_under_the_byte_limit(tmp_path, google_fake):
    long = ("é" * 30 + " ") * 200  # 12,200 UTF-8 bytes (é takes two) in one sentence
    assert all(len(p.encode()) <= 5000 for p in split_bytes(long))
    voice = GoogleTTSVoice("standard", cloud_settings(tmp_path, google=google_fake))
    narration = voice.synthesize([("hook", [long.strip() + "."])], tmp_path / "n.wav")
    # the limit applies to the SSML: marks and escapes make it ~16,000 bytes, so four requests
    sizes = [len(json.loads(r["body"])["input"]["ssml"].encode()) for r in google_fake.requests]
    assert len(sizes) == 4 and max(sizes) <= 5000 and len(narration.cues) == 1
    assert len(narration.cues[0].words) == 200
    plain = GoogleTTSVoice("chirp3-hd", cloud_settings(tmp_path, google=google_fake))  # no SSML: plain text
    google_fake.requests.clear()
    plain.synthesize([("hook", [long.strip() + "."])], tmp_path / "p.wav")
    sizes = [len(json.loads(r["body"])["input"]["text"].encode()) for r in google_fake.requests]
    assert len(sizes) == 3 and max(sizes) <= 5000


def test_google_tts_retries_then_succeeds_and_a_rejected_key_steps_down(tmp_path, google_fake):
    google_fake.queue("503", "429")
    voice = GoogleTTSVoice("standard", cloud_settings(tmp_path, google=google_fake))
    voice.synthesize([("hook", ["Hello."])], tmp_path / "a.wav")
    assert len(google_fake.requests) == 3
    bad = GoogleTTSVoice("standard", cloud_settings(tmp_path, google=google_fake, google_tts_api_key="wrong"))
    with pytest.raises(ProviderError, match="rejected the credentials"):
        bad.synthesize([("hook", ["Hello."])], tmp_path / "b.wav")


def test_google_persistent_unavailability_is_transient(tmp_path, google_fake):
    google_fake.queue(*["503"] * 50)
    voice = GoogleTTSVoice("standard", cloud_settings(tmp_path, google=google_fake, request_timeout_s=0.5))
    with pytest.raises(TransientError):
        voice.synthesize([("hook", ["Hello."])], tmp_path / "a.wav")


# -- ElevenLabs ------------------------------------------------------------------------------

def test_elevenlabs_bills_the_character_cost_header(tmp_path, eleven_fake):
    voice = ElevenLabsVoice("eleven_flash_v2_5", cloud_settings(tmp_path, eleven=eleven_fake))
    narration = voice.synthesize([("hook", ["Hello there, viewer.", "Second."])], tmp_path / "n.wav")
    assert narration.usage[0].quantity == round(len("Hello there, viewer.") * 0.5) + round(len("Second.") * 0.5)
    assert len(narration.cues) == 2 and narration.sample_rate == 22050
    first = eleven_fake.requests[0]
    assert "output_format=pcm_22050" in first["path"] and json.loads(first["body"])["model_id"] == "eleven_flash_v2_5"
    assert json.loads(eleven_fake.requests[1]["body"])["previous_text"] == "Hello there, viewer."


def test_elevenlabs_429_retries_and_401_steps_down(tmp_path, eleven_fake):
    eleven_fake.queue("429")
    wb, job, status = run_paid(cloud_settings(tmp_path, eleven=eleven_fake), voice="elevenlabs > piper")
    try:
        assert status == "done" and fallbacks(wb, job) == []
    finally:
        wb.close()
    eleven_fake.queue(*["401"] * 3)
    wb, job, status = run_paid(cloud_settings(tmp_path / "b", eleven=eleven_fake), voice="elevenlabs > piper")
    try:
        assert status == "done"
        assert "rejected the API key" in fallbacks(wb, job)[0]["reason"]
        assert {r["provider"] for r in ledger(wb, job) if r["stage"] == "voice"} == {"piper"}
    finally:
        wb.close()


# -- the budget guard ------------------------------------------------------------------------

PRICES = PriceTable("t", {"google": {"neural2": {"characters": 0.00001}}})


def test_guard_at_the_cap_edge(db):
    cap_guard = BudgetGuard(db, PRICES, 1, 0.05, {})
    at_cap = [Usage("google", "neural2", "characters", 5000)]  # exactly $0.05
    one_cent_over = [Usage("google", "neural2", "characters", 6000)]  # $0.06
    assert cap_guard.refusal(at_cap) is None
    reason = cap_guard.refusal(one_cent_over)
    assert reason and "over its $0.05 cap" in reason


def test_guard_counts_what_the_job_already_spent(db):
    from pipeline.costs import record_usage
    record_usage(db, PRICES, 1, "script", [Usage("google", "neural2", "characters", 3000)])  # $0.03 spent
    guard = BudgetGuard(db, PRICES, 1, 0.05, {})
    assert guard.refusal([Usage("google", "neural2", "characters", 2000)]) is None
    assert guard.refusal([Usage("google", "neural2", "characters", 2001)]) is not None


def test_daily_budget_in_units_and_in_usd(db):
    from pipeline.costs import record_usage
    record_usage(db, PRICES, 9, "voice", [Usage("google", "neural2", "characters", 99_000)])
    units = BudgetGuard(db, PRICES, 1, 100, {"google": "100000 characters"})
    assert units.refusal([Usage("google", "neural2", "characters", 1000)]) is None
    assert "daily budget of 100,000 characters" in units.refusal([Usage("google", "neural2", "characters", 1001)])
    usd = BudgetGuard(db, PRICES, 1, 100, {"google": "1 usd"})
    assert usd.refusal([Usage("google", "neural2", "characters", 1000)]) is None  # $0.99 + $0.01
    assert usd.refusal([Usage("google", "neural2", "characters", 1500)]) is not None
    assert parse_budget("100_000 characters") == (Decimal(100000), "characters")
    with pytest.raises(ValueError):
        parse_budget("lots")


def test_a_video_one_cent_over_the_cap_steps_down_and_one_at_the_cap_does_not(tmp_path, google_fake):
    # learn what Neural2 is expected to cost for this script, with a generous cap
    wb, job, status = run_paid(cloud_settings(tmp_path / "probe", google=google_fake), topic="Octopus hearts",
                               voice="google-neural2", duration_s=120)
    try:
        from pipeline.script import Script
        words = Script.load(wb.settings.jobs_dir / str(job) / "script.json").word_count
        estimate = float(wb.prices.estimate(GoogleTTSVoice("neural2", wb.settings).estimate(60, words)))
    finally:
        wb.close()
    # a cap exactly at the estimate lets Neural2 speak; a cent less steps down to the Standard tier
    for cap, model in ((estimate, "neural2"), (round(estimate - 0.01, 6), "standard")):
        wb, job, status = run_paid(cloud_settings(tmp_path / f"cap{cap}", google=google_fake), topic="Octopus hearts",
                                   voice="google-neural2 > google-standard > piper", cap_usd=cap, duration_s=120)
        try:
            assert status == "done"
            assert wb.db.query_one("SELECT model FROM cost_ledger WHERE job_id = ? AND stage = 'voice'", [job])[0] == model
            assert wb.db.query_one("SELECT usd FROM job_costs WHERE job_id = ?", [job])[0] <= Decimal(str(cap))
            if model == "standard":
                assert "over its" in fallbacks(wb, job)[0]["reason"]
        finally:
            wb.close()


def test_when_nothing_fits_the_job_stops_over_budget_before_spending(tmp_path, google_fake):
    wb, job, status = run_paid(cloud_settings(tmp_path, google=google_fake), voice="google-neural2 > google-standard",
                               cap_usd=0.0001)
    try:
        assert status == "failed"
        failed = jobs.get_job(wb.db, job)
        assert failed["error_stage"] == "voice" and failed["error_message"].startswith("Over budget:")
        assert google_fake.requests == []  # nothing was spent
        assert [f["from_provider"] for f in fallbacks(wb, job)] == ["google-neural2", "google-standard"]
    finally:
        wb.close()


def test_a_batch_under_a_tight_daily_budget_steps_down_and_no_video_passes_its_cap(tmp_path, google_fake):
    settings = cloud_settings(tmp_path, google=google_fake, daily_budgets={"google": "1000 characters"})
    wb = Workbench(settings, start_worker=False)
    wb.worker.pipeline = PAID
    try:
        ids = []
        for i in range(10):
            channel, duration, fmt, brief = wb.validate_request(VideoRequest(f"Octopus fact {i}", duration_s=20,
                                                                            voice="google-neural2 > piper", cap_usd=0.05))
            ids.append(jobs.create_job(wb.db, channel["id"], brief.pop("topic"), duration, fmt, brief, stages=("script", "voice")))
        for job in ids:
            assert wb.worker.run_job(job) == "done"
        voices = [wb.db.query_one("SELECT provider FROM cost_ledger WHERE job_id = ? AND stage = 'voice'", [j])[0] for j in ids]
        assert voices[0] == "google" and voices[-1] == "piper"  # the day's budget ran out part way
        stepped = [j for j, v in zip(ids, voices) if v == "piper"]
        for job in stepped:
            assert "daily budget" in fallbacks(wb, job)[0]["reason"]
        used = wb.db.query_one("SELECT sum(quantity) FROM cost_daily WHERE provider = 'google'")[0]
        assert used <= 1000
        assert all(wb.db.query_one("SELECT usd FROM job_costs WHERE job_id = ?", [j])[0] <= Decimal("0.05") for j in ids)
    finally:
        wb.close()


def test_keys_never_reach_the_database_or_the_logs(tmp_path, caplog):
    secret = "sk-very-secret-123"
    with FakeOpenAI(key=secret) as fake:
        caplog.set_level(logging.DEBUG)
        wb, job, status = run_paid(cloud_settings(tmp_path, openai=fake), writer="gpt-4.1-mini", voice="piper")
        assert status == "done"
        wb.snapshots.refresh(force=True)
        wb.close()
    assert secret not in caplog.text
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in repr(cloud_settings(tmp_path, openai=fake))


def test_edited_prices_are_validated_versioned_and_used(tmp_path):
    from pipeline.config import ConfigError
    wb = Workbench(cloud_settings(tmp_path), start_worker=False)
    try:
        rows = wb.price_rows()
        for r in rows:
            if (r["provider"], r["model"], r["unit"]) == ("google", "neural2", "characters"):
                r["usd_per_unit"] = 0.00002
        with pytest.raises(ConfigError, match="cannot be negative"):
            wb.update_prices([*rows, {"provider": "x", "model": "y", "unit": "z", "usd_per_unit": -1}])
        version = wb.update_prices(rows)
        assert "+local." in version and wb.prices.version == version and wb.worker.prices is wb.prices
        assert wb.prices.unit_price("google", "neural2", "characters") == 0.00002
    finally:
        wb.close()
    again = Workbench(cloud_settings(tmp_path), start_worker=False)  # the edited table survives a restart
    try:
        assert again.prices.version == version
    finally:
        again.close()


def test_costs_page_shows_budgets_and_fallbacks(tmp_path, monkeypatch, google_fake):
    wb, job, status = run_paid(cloud_settings(tmp_path, google=google_fake), voice="google-neural2 > piper", cap_usd=0.0001)
    wb.close()
    from conftest import ROOT
    from ui.state import get_workbench
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(ROOT)
    get_workbench.clear()
    try:
        at = app_test(60)
        at.run()
        at.switch_page("pages/costs.py").run()
        assert not at.exception
        steps = [d.value for d in at.dataframe if "from_provider" in d.value.columns][0]
        assert steps["from_provider"][0] == "google-neural2" and steps["kind"][0] == "budget"
        assert any("google" in p.proto.text for p in at.get("progress"))
    finally:
        get_workbench.clear()


# -- scripts fit the video before anything is paid for it ----------------------------------------

def spoken_words(answer: dict) -> int:
    return word_count(" ".join([answer["hook"], *(x for s in answer["sections"] for x in s["sentences"]),
                                answer["call_to_action"]]))


def corrections(fake) -> list[str]:
    """The corrective requests the writer sent: the last user message of every request after the first."""
    return [json.loads(r["body"])["messages"][-1]["content"] for r in fake.requests[1:]]


@pytest.mark.parametrize("answer, fitted", [("long", "trimmed to fit"), ("three", "padded to fit")])
def test_an_answer_far_off_the_target_gets_one_correction_then_is_fitted(tmp_path, openai_fake, answer, fitted):
    openai_fake.queue(answer, answer)  # the model ignores the correction too
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    script, usage = writer.write(Brief("Why octopuses are so smart", 60, words_per_minute=150))
    assert len(openai_fake.requests) == 2  # exactly one corrective request
    [correction] = corrections(openai_fake)
    target = sized_words(60, 150, 2)
    given = FakeOpenAI.script(10 * target) if answer == "long" else FakeOpenAI.three_sentences()
    assert f"That script has {spoken_words(given)} spoken words" in correction  # what it wrote,
    assert f"needs about {target} words" in correction and "Keep its structure" in correction  # what is needed
    assert 51 <= estimated_narration_s(script) <= 69
    assert any(fitted in n for n in script.notes)
    assert [u.unit for u in usage].count("output_tokens") == 2 and [u.unit for u in usage].count("input_tokens") == 2
    assert sum(u.quantity for u in usage if u.unit == "output_tokens") > 0


def test_a_correction_that_fits_is_used_as_the_model_wrote_it(tmp_path, openai_fake):
    openai_fake.queue("long", "ok")
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    script, usage = writer.write(Brief("Why octopuses are so smart", 60, words_per_minute=150))
    assert len(openai_fake.requests) == 2 and script.notes == []  # nothing trimmed: the model fixed it
    assert 51 <= estimated_narration_s(script) <= 69 and len(usage) == 4


def test_an_answer_that_fits_is_not_corrected(tmp_path, openai_fake):
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    for duration in (30, 60, 120, 300):
        script, usage = writer.write(Brief("Why octopuses are so smart", duration, words_per_minute=150))
        assert script.notes == [] and len(usage) == 2, duration
    assert len(openai_fake.requests) == 4


@pytest.mark.parametrize("correction, note, billed", [(("503", "503"), "correct the length failed", 1),
                                                      (("invalid",), "corrected answer was unusable", 2)])
def test_a_failed_correction_keeps_the_first_answer_fits_it_and_bills_it(tmp_path, openai_fake, correction, note, billed):
    openai_fake.queue("long", *correction)
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    script, usage = writer.write(Brief("Why octopuses are so smart", 60, words_per_minute=150))
    assert 51 <= estimated_narration_s(script) <= 69 and any(note in n for n in script.notes)
    assert [u.unit for u in usage] == ["input_tokens", "output_tokens"] * billed  # a 503 is not billed; bad JSON is


def test_an_answer_cut_off_at_the_token_limit_is_asked_again_as_too_long(tmp_path, openai_fake):
    openai_fake.queue("cutoff", "ok")
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    script, usage = writer.write(Brief("Why octopuses are so smart", 60, words_per_minute=150))
    [retry] = corrections(openai_fake)
    assert "cut off at the length limit" in retry and f"about {sized_words(60, 150, 2)} words" in retry
    assert 51 <= estimated_narration_s(script) <= 69 and len(usage) == 4


def test_an_unusable_answer_spends_the_second_call_so_the_length_is_fitted_here(tmp_path, openai_fake):
    openai_fake.queue("invalid", "long")
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    script, usage = writer.write(Brief("Why octopuses are so smart", 60, words_per_minute=150))
    assert len(openai_fake.requests) == 2 and len(usage) == 4  # never a third call: the guard allowed for two
    assert 51 <= estimated_narration_s(script) <= 69


def test_the_correction_stays_within_what_the_guard_allowed_for(tmp_path, openai_fake):
    openai_fake.queue("long", "long")
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    _, usage = writer.write(Brief("Why octopuses are so smart", 60, words_per_minute=150))
    words = sized_words(60, 150, 2)
    allowed = {u.unit: u.quantity for u in writer.estimate(60, words)}
    sent = [json.loads(r["body"]) for r in openai_fake.requests]
    assert sum(s["max_completion_tokens"] for s in sent) <= allowed["output_tokens"]
    assert sum(u.quantity for u in usage if u.unit == "input_tokens") <= allowed["input_tokens"]


def test_an_outline_over_the_limit_is_refused_before_any_call(tmp_path, openai_fake):
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    with pytest.raises(BriefError, match=r"limit is 100,000"):
        writer.write(Brief("Octopus minds", 60, outline="x" * (MAX_OUTLINE_CHARS + 1)))
    assert openai_fake.requests == []


@pytest.mark.slow
@pytest.mark.parametrize("answer", ["long", "three"])
def test_a_sixty_second_video_is_narrated_for_51_to_69_seconds_whatever_the_model_returns(tmp_path, answer):
    """The script and voice stages for real: the fake model answers far off, Piper speaks what was fitted."""
    with FakeOpenAI() as fake:
        fake.queue(answer, answer)
        wb, job, status = run_paid(cloud_settings(tmp_path, openai=fake), writer="gpt-4.1-mini", voice="piper",
                                   duration_s=60)
        try:
            assert status == "done" and len(fake.requests) == 2
            timings = json.loads((wb.settings.jobs_dir / str(job) / "timings.json").read_text())
            assert 51 <= timings["duration_s"] <= 69
            script = json.loads((wb.settings.jobs_dir / str(job) / "script.json").read_text())
            assert any("to fit" in n for n in script["notes"])
            billed = [r for r in ledger(wb, job) if r["stage"] == "script" and r["unit"] == "output_tokens"]
            assert len(billed) == 2  # the corrective call is in the ledger too
        finally:
            wb.close()


@pytest.mark.parametrize("answer", ["ok", "long"])
def test_the_writer_asks_for_a_visual_query_per_sentence_and_keeps_them_through_the_fit(tmp_path, openai_fake, answer):
    openai_fake.queue(answer, answer)
    writer = OpenAIWriter("gpt-4.1-mini", cloud_settings(tmp_path, openai=openai_fake))
    script, _ = writer.write(Brief("Why octopuses are so smart", 60, words_per_minute=150))
    schema = json.loads(openai_fake.requests[0]["body"])["response_format"]["json_schema"]["schema"]
    section = schema["properties"]["sections"]["items"]
    assert "visuals" in section["required"] and section["properties"]["visuals"]["type"] == "array"
    given = {f"octopus part{i}" for i in range(1, 4)}
    for i, s in enumerate(script.sections, start=1):  # trimmed or not, each sentence keeps a query
        assert len(s.visuals) == len(s.sentences) and set(s.visuals) <= given
        if answer == "ok":  # as the model wrote it (the fake repeats one sentence, so a fit maps them by text)
            assert s.visuals == [f"octopus part{i}"] * len(s.sentences)


def test_google_speaks_the_channel_language_with_a_voice_it_lists_for_it(tmp_path, google_fake):
    settings = cloud_settings(tmp_path, google=google_fake)
    voice = GoogleTTSVoice("wavenet", settings).for_language("zh")
    assert voice.language == "cmn-CN"
    voice.synthesize([("hook", ["章鱼 有 三颗 心脏。"])], tmp_path / "zh.wav")
    sent = json.loads(google_fake.requests[-1]["body"])["voice"]
    assert sent == {"languageCode": "cmn-CN", "name": "cmn-CN-Wavenet-A"}  # the first the service listed
    assert google_fake.voices_asked == ["cmn-CN"]
    with pytest.raises(ProviderError, match="no Neural2 voice for cmn-CN"):  # a tier the language lacks: said
        GoogleTTSVoice("neural2", settings).for_language("zh").synthesize([("hook", ["你好。"])], tmp_path / "x.wav")
    assert GoogleTTSVoice("neural2", settings).for_language("en-US").language == "en-US"

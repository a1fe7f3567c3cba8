"""Cost benchmark: what a 60-second and an 8-minute video cost through each provider chain.

Usage (from the project root)::

    .venv/bin/python bench/cost.py

The paid stages (script and voice) run through the real SDKs (openai,
google-cloud-texttospeech, elevenlabs) against the loopback fakes in
``tests/fakes.py``, which answer with realistic token and character counts: the
fake OpenAI server sizes its script to the requested words and reports prompt
tokens (~4 characters a token plus the schema) and completion tokens for what it
wrote; the voices bill the characters they were sent. The cost per video is read
from the ledger, then recomputed by hand from the price table file
(quantity x unit price, in plain floats) to check that the two agree to the cent.
Goal: the default cloud chain costs under $0.25 for an 8-minute video.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes import FakeElevenLabs, FakeGoogleTTS, FakeOpenAI  # noqa: E402

from pipeline import jobs  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.stages import PIPELINE  # noqa: E402
from pipeline.workbench import VideoRequest, Workbench  # noqa: E402

CHAINS = {
    "local": ("local", "piper"),
    "default cloud": ("gpt-4.1-mini > local", "google-neural2 > google-standard > piper"),
    "premium": ("gpt-4.1 > gpt-4.1-mini > local", "elevenlabs > google-neural2 > piper"),
    "lean cloud": ("gpt-4.1-nano > local", "google-standard > piper"),
}
DURATIONS = (60, 480)
TOPIC = "Why octopuses are so smart"


def run(chain: str, duration: int, fakes: dict, work: Path) -> dict:
    writer, voice = CHAINS[chain]
    openai, google, eleven = fakes["openai"], fakes["google"], fakes["eleven"]
    settings = Settings(data_dir=work / f"{chain.replace(' ', '-')}-{duration}", bootstrap_trends=False,
                        openai_api_key=openai.key, openai_base_url=openai.url + "/v1",
                        google_tts_api_key=google.key, google_tts_endpoint=google.url,
                        elevenlabs_api_key=eleven.key, elevenlabs_base_url=eleven.url, provider_retries=1)
    wb = Workbench(settings, start_worker=False)
    wb.worker.pipeline = tuple(s for s in PIPELINE if s.name in ("script", "voice"))
    try:
        channel, dur, fmt, brief = wb.validate_request(VideoRequest(TOPIC, duration_s=duration, writer=writer, voice=voice))
        job = jobs.create_job(wb.db, channel["id"], brief.pop("topic"), dur, fmt, brief, stages=("script", "voice"))
        started = time.perf_counter()
        status = wb.worker.run_job(job)
        rows = wb.db.query_dicts("SELECT stage, provider, model, unit, quantity, usd::DOUBLE AS usd FROM cost_ledger"
                                 " WHERE job_id = ? ORDER BY id", [job])
        ledger = float(wb.db.query_one("SELECT coalesce(usd, 0) FROM job_costs WHERE job_id = ?", [job])[0] or 0)
        by_hand = sum(r["quantity"] * wb.prices.prices[r["provider"]][r["model"]][r["unit"]] for r in rows)
        steps = wb.db.query("SELECT from_provider, reason FROM fallbacks WHERE job_id = ?", [job])
        return {"chain": chain, "duration": duration, "status": status, "ledger": ledger, "by_hand": by_hand,
                "rows": rows, "fallbacks": steps, "seconds": time.perf_counter() - started,
                "price_version": wb.prices.version}
    finally:
        wb.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", nargs="*", default=list(CHAINS), choices=list(CHAINS))
    args = parser.parse_args(argv)
    results = []
    with FakeOpenAI() as openai, FakeGoogleTTS() as google, FakeElevenLabs() as eleven, \
            tempfile.TemporaryDirectory() as tmp:
        fakes = {"openai": openai, "google": google, "eleven": eleven}
        for chain in args.chains:
            for duration in DURATIONS:
                r = run(chain, duration, fakes, Path(tmp))
                results.append(r)
                parts = ", ".join(f"{x['stage']} {x['provider']}/{x['model']} {x['quantity']:,.0f} {x['unit']} "
                                  f"${x['usd']:.4f}" for x in r["rows"] if x["usd"] or x["provider"] not in ("local", "piper"))
                print(f"{chain:<14} {duration:>4} s  {r['status']:<6} ledger ${r['ledger']:.4f}  by hand ${r['by_hand']:.4f}"
                      f"  ({r['seconds']:.1f} s)  {parts or 'all local, $0'}", flush=True)
                for provider, reason in r["fallbacks"]:
                    print(f"{'':<21}fallback from {provider}: {reason}")
    print(f"\nprices: version {results[0]['price_version']}")
    print(f"{'chain':<14} {'60 s video':>12} {'8-min video':>12}")
    for chain in args.chains:
        cells = [next(r for r in results if r["chain"] == chain and r["duration"] == d) for d in DURATIONS]
        print(f"{chain:<14} " + " ".join(f"${c['ledger']:>11.4f}" for c in cells))
    agree = all(round(r["ledger"], 2) == round(r["by_hand"], 2) and abs(r["ledger"] - r["by_hand"]) < 0.005 for r in results)
    ok = all(r["status"] == "done" for r in results)
    default8 = next((r["ledger"] for r in results if r["chain"] == "default cloud" and r["duration"] == 480), None)
    goal = "" if default8 is None else f"default cloud 8-min ${default8:.4f} ({'under' if default8 < 0.25 else 'OVER'} $0.25), "
    print(f"cost: {goal}ledger agrees with the price table to the cent: {'yes' if agree else 'NO'}, "
          f"all jobs done: {'yes' if ok else 'NO'}")
    return 0 if agree and ok and (default8 is None or default8 < 0.25) else 1


if __name__ == "__main__":
    sys.exit(main())

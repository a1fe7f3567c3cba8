"""``python -m pipeline ...``: the headless way to run YTEmpire.

Exit codes: 0 done, 1 the job failed or was cancelled, 2 bad input, 3 the
database is held by another process (the running workbench), 4 the video was
made but held by the quality gate, 5 publishing deferred (quota), 130/143 `make`
interrupted by Ctrl-C/SIGTERM (the job keeps what it finished), 7 not allowed for
that account or token. `work` exits 0 when it drains or is stopped (Ctrl-C or
SIGTERM), after every thread has stopped.

While the workbench runs (it holds the database), `make`, `jobs`, `cancel`,
`retry`, `publish` and `review publish` go through its API instead, with the
operator's personal API token (`--token`, else $YTEMPIRE_API_TOKEN): the same
output, the same exit codes (pipeline.cli_api). `make` then follows the job the
workbench runs; Ctrl-C stops following, not the job.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from pipeline import jobs
from pipeline.channels import ChannelError
from pipeline.cli_api import add_token_option, local_api
from pipeline.config import MAX_DURATION_S, MAX_OUTLINE_CHARS, MIN_DURATION_S, ConfigError, load_settings
from pipeline.costs import PriceError, job_cost
from pipeline.db import DatabaseLocked
from pipeline.providers import UnknownProvider
from pipeline.providers.base import BriefError, ProviderError

EXIT = {"done": 0, "failed": 1, "cancelled": 1, "held": 4, "queued": 1, "deferred": 5, "review": 6}
BAD_INPUT = (BriefError, ConfigError, ChannelError, UnknownProvider, PriceError)


class ProgressBar:
    """One line on stderr: each stage with a tick or its percentage."""

    def __init__(self, stages: list[str], stream=sys.stderr):
        self.stages = stages
        self.state = {s: 0.0 for s in stages}
        self.stream = stream
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        before = self.state.get(stage, 0.0)
        self.state[stage] = fraction
        now = time.monotonic()
        if not self.stream.isatty():  # a log, not a terminal: one line per finished stage
            if fraction >= 1.0 > before:
                self.stream.write(f"{now - self.started:6.1f}s  {stage} done\n")
                self.stream.flush()
            return
        if fraction < 1.0 and now - self._last < 0.2:
            return
        self._last = now
        done = sum(self.state.values()) / len(self.stages)
        bar = "#" * int(done * 30)
        parts = " ".join(f"{s}:{'ok' if v >= 1 else f'{v:.0%}'}" for s, v in self.state.items() if v > 0)
        self.stream.write(f"\r[{bar:<30}] {done:4.0%} {time.monotonic() - self.started:5.1f}s {parts[-70:]:<70}")
        self.stream.flush()

    def close(self) -> None:
        if not self.stream.isatty():
            return
        self.stream.write("\n")
        self.stream.flush()


def _number(low: float, high: float, what: str, integer: bool = False):
    """An argparse type: a finite number in [low, high], or an error saying so (argparse exits with 2)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number: give {what}") from None
        if not math.isfinite(value) or not low <= value <= high or (integer and value != int(value)):
            raise argparse.ArgumentTypeError(f"{text} is out of range: give {what}")
        return int(value) if integer else value
    return parse


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory (default: $YTEMPIRE_DATA_DIR, else data/)")
    common.add_argument("--as", dest="as_email", metavar="EMAIL", default=None,
                        help="act as this account (its role and workspace); default: the only account, if one")
    p = argparse.ArgumentParser(prog="python -m pipeline", description="YTEmpire: make and publish videos from the command line.")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("init", parents=[common], help="create the data directory, migrate the database, add the demo channel")

    make = sub.add_parser("make", parents=[common], help="make one video from a topic, start to finish")
    make.add_argument("topic", help="what the video is about")
    make.add_argument("--duration", type=_number(MIN_DURATION_S, MAX_DURATION_S, f"seconds from {MIN_DURATION_S} to {MAX_DURATION_S}"),
                      default=None, help=f"target length in seconds ({MIN_DURATION_S}-{MAX_DURATION_S}; default: the channel's)")
    make.add_argument("--format", choices=["landscape", "shorts"], default=None, help="1920x1080 or 1080x1920")
    make.add_argument("--channel", default=None, help="channel name or id (default: the first channel)")
    make.add_argument("--outline", type=Path, default=None,
                      help=f"a text file of bullets or paragraphs, at most {MAX_OUTLINE_CHARS:,} characters: the script's substance")
    make.add_argument("--writer", default=None, help="writer chain, e.g. gpt-4.1-mini,local (default: the channel's)")
    make.add_argument("--voice", default=None, help="voice chain, e.g. google-neural2,piper (default: the channel's)")
    make.add_argument("--visuals", default=None,
                      help="visuals chain per scene, e.g. pexels,slides or library,pixabay,slides (default: the channel's)")
    make.add_argument("--source", action="append", default=[], metavar="FILE_OR_URL",
                      help="material the facts come from: a txt, md, html or pdf file, or a URL (repeat for more; "
                           "at most 10)")
    make.add_argument("--captions", choices=["sentence", "karaoke", "pop"], default=None,
                      help="caption style for this video (default: the channel's)")
    make.add_argument("--no-music", action="store_true", help="no background music, even if the channel has a folder")
    make.add_argument("--review", choices=["auto", "script", "publish", "both"], default=None,
                      help="stop for a person after the script, before publishing, or both (default: the channel's); "
                           "then see `python -m pipeline review`")
    make.add_argument("--cap", type=_number(0, 1000, "dollars from 0 to 1000"), default=None,
                      help="spending cap for this video in USD, 0-1000 (default: settings)")
    make.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_token_option(make)

    lst = sub.add_parser("jobs", parents=[common], help="list jobs")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--limit", type=_number(1, 10_000, "a whole number from 1 to 10000", integer=True), default=50,
                     help="how many jobs, newest first (1-10000)")
    add_token_option(lst)

    work = sub.add_parser("work", parents=[common], help="run the worker: resume unfinished jobs and drain the queue")
    work.add_argument("--until-empty", action="store_true", help="exit when no job is queued or running")

    from pipeline import cli_backup, cli_media, cli_music, cli_review, cli_trends, cli_users, cli_youtube
    cli_review.add_parser(sub, common)
    cli_trends.add_parser(sub, common)
    cli_youtube.add_parsers(sub, common)
    cli_backup.add_parser(sub, common)
    cli_media.add_parser(sub, common)
    cli_music.add_parser(sub, common)
    cli_users.add_parser(sub, common)

    for name, text in (("cancel", "cancel a queued or running job"), ("retry", "queue a failed, cancelled or held job again")):
        c = sub.add_parser(name, parents=[common], help=text)
        c.add_argument("job_id", type=int)
        add_token_option(c)
    return p


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _workbench(args: argparse.Namespace):
    from pipeline.workbench import Workbench

    settings = load_settings(args.data_dir)
    wb = Workbench(settings, start_worker=False)
    try:
        actor = wb.access.cli_actor(getattr(args, "as_email", None), cli_client())
    except BaseException:
        wb.close()
        raise
    return wb.acting(actor, owns=True)


def cli_client() -> str:
    import getpass
    import socket

    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        who = "?"
    return f"cli {who}@{socket.gethostname()}"


def cmd_make(args: argparse.Namespace) -> int:
    from pipeline.workbench import VideoRequest

    outline = ""
    if args.outline is not None:
        try:
            if args.outline.stat().st_size > 4 * MAX_OUTLINE_CHARS:  # never read a huge file to find out
                return _error(f"the outline {args.outline} is larger than {MAX_OUTLINE_CHARS:,} characters: shorten it", 2)
            outline = args.outline.read_text(encoding="utf-8")
        except OSError as exc:
            return _error(f"cannot read the outline {args.outline}: {exc.strerror or exc}", 2)
        except UnicodeDecodeError:
            return _error(f"the outline {args.outline} is not UTF-8 text", 2)
    if not args.topic.strip():
        return _error("the topic is empty: give the video a topic, for example \"Why octopuses are so smart\"", 2)
    duration = None if args.duration is None else int(round(args.duration))
    api = local_api(args)
    if api is not None:
        with api:
            return _make_through(api, args, outline, duration)
    wb = _workbench(args)
    terminated = threading.Event()

    def on_term() -> None:  # stop at the next checkpoint (ffmpeg is stopped at once); the job stays resumable
        terminated.set()
        wb.worker.stop(wait=False)

    resume = "job keeps what it finished; resume it with `python -m pipeline work --until-empty`"
    try:
        req = VideoRequest(args.topic, channel=args.channel, duration_s=duration, format=args.format, outline=outline,
                           writer=args.writer, voice=args.voice, visuals=args.visuals, cap_usd=args.cap,
                           sources=[str(x) for x in args.source], captions=args.captions, music=not args.no_music,
                           review=args.review)
        job_id = wb.enqueue(req)
        bar = ProgressBar(list(jobs.STAGES))
        try:
            with _on_sigterm(on_term):
                status = wb.worker.run_job(job_id, on_progress=bar)
        except KeyboardInterrupt:
            bar.close()
            print(f"interrupted: the {resume}", file=sys.stderr)
            return 130
        bar.close()
        if terminated.is_set() and status == "queued":
            print(f"stopped by SIGTERM: the {resume}", file=sys.stderr)
            return 143
        return _report(wb, job_id, status, args.json)
    finally:
        wb.close()


def _report(wb, job_id: int, status: str, as_json: bool) -> int:
    job = jobs.get_job(wb.db, job_id)
    video = wb.db.query_dicts("SELECT * FROM videos WHERE job_id = ?", [job_id])
    v = video[0] if video else {}
    cost = job_cost(wb.db, job_id)
    result = {
        "job_id": job_id,
        "status": status,
        "video": v.get("video_path"),
        "thumbnail": v.get("thumbnail_path"),
        "duration_s": round(v["duration_s"], 2) if v.get("duration_s") else None,
        "quality_score": v.get("quality_score"),
        "cost_usd": float(cost.quantize(Decimal("0.0001"))),
    }
    result["cost_breakdown"] = [
        {"stage": r["stage"], "provider": r["provider"], "model": r["model"], "units": {r["unit"]: r["quantity"]},
         "usd": round(r["usd"], 6)} for r in wb.db.query_dicts(
            "SELECT stage, provider, model, unit, sum(quantity) AS quantity, sum(usd)::DOUBLE AS usd FROM cost_ledger"
            " WHERE job_id = ? GROUP BY ALL ORDER BY min(id)", [job_id])]
    if status == "held":  # what the gate said, in words (the checks that failed are in the video's quality.json)
        event = wb.db.query_one("SELECT message FROM job_events WHERE job_id = ? AND status = 'held' ORDER BY id DESC",
                                [job_id])
        result["held"] = event[0] if event else "below the quality threshold"
    result["fallbacks"] = wb.db.query_dicts(
        "SELECT stage, from_provider, to_provider, reason FROM fallbacks WHERE job_id = ? ORDER BY id", [job_id])
    result["scenes"] = [
        {"start": r["start_s"], "end": r["end_s"], "narration": r["narration"], "query": r["query"],
         "provider": r["provider"], "kind": r["kind"], "source": r["source_url"] or r["path"], "score": r["score"]}
        for r in wb.db.query_dicts("SELECT * FROM job_scenes WHERE job_id = ? ORDER BY idx", [job_id])]
    if status == "review":
        result["awaiting"] = job.get("awaiting")
    if status == "failed":
        result["error"] = {"stage": job["error_stage"], "provider": job["error_provider"], "message": job["error_message"]}
    return print_report(result, job, as_json)


def print_report(result: dict, job: dict, as_json: bool) -> int:
    """``make``'s answer, from the database or from the API (the same object either way); the exit code."""
    job_id, status = result["job_id"], result["status"]
    if as_json:
        print(json.dumps(result))
    else:
        print(f"job {job_id}: {status}")
        if result["video"]:
            print(f"video:     {result['video']} ({result['duration_s']} s)")
            print(f"thumbnail: {result['thumbnail']}")
        if result["quality_score"] is not None:
            print(f"quality:   {result['quality_score']:.0f}/100")
        print(f"cost:      ${result['cost_usd']:.4f}")
        if result["scenes"]:
            kinds = [r["kind"] for r in result["scenes"]]
            print(f"scenes:    {len(kinds)} ({kinds.count('video')} clips, {kinds.count('image')} pictures, "
                  f"{kinds.count('slide')} slides)")
        for f in result["fallbacks"]:
            print(f"fallback:  {f['stage']}: {f['from_provider']} -> {f['to_provider'] or 'nothing'} ({f['reason']})")
        if status == "failed":
            print(f"failed at {job['error_stage']}: {job['error_message']}", file=sys.stderr)
        if status == "held":
            print(f"held: {result['held']}", file=sys.stderr)
        if status == "review":
            what = "its script" if job.get("awaiting") == "script" else "publishing"
            print(f"waiting for your review of {what}: `python -m pipeline review show {job_id}`, then "
                  f"`review {'approve' if job.get('awaiting') == 'script' else 'publish'} {job_id}`", file=sys.stderr)
    return EXIT.get(status, 1)


def _make_through(api, args: argparse.Namespace, outline: str, duration: int | None) -> int:
    """``make`` while the workbench runs: queue the job through its API (one Idempotency-Key for every resend,
    so it is one job), follow it to the end with the same progress line, and report what the in-process path
    reports. Ctrl-C or SIGTERM stop following; the job keeps running in the workbench."""
    import uuid

    from pipeline import cli_api

    body = cli_api.job_body(args, outline, duration)
    job = api.create_job(body, key=f"cli-{uuid.uuid4()}")
    job_id = job["id"]
    bar = ProgressBar(list(jobs.STAGES))
    stop = threading.Event()
    left = (f"job {job_id} keeps running in the workbench at {api.url}: follow it with `python -m pipeline jobs`, "
            f"cancel it with `python -m pipeline cancel {job_id}`")
    try:
        with _on_sigterm(stop.set):
            job = cli_api.follow(api, job_id, bar, stop)
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted: {left}", file=sys.stderr)
        return 130
    bar.close()
    if job is None:
        print(f"stopped by SIGTERM: {left}", file=sys.stderr)
        return 143
    return print_report(cli_api.report_of(job), job, args.json)


def cmd_jobs(args: argparse.Namespace) -> int:
    api = local_api(args)
    if api is not None:
        from pipeline.cli_api import jobs_rows
        with api:
            rows = jobs_rows(api.jobs(args.limit))
    else:
        wb = _workbench(args)
        try:
            from pipeline.queries import JOBS_SQL
            rows = wb.db.query_dicts(JOBS_SQL, [args.limit])  # the same read model the Studio queue uses
        finally:
            wb.close()
    if args.json:
        print(json.dumps(rows, default=str))
        return 0
    if not rows:
        print("no jobs yet: make one with  python -m pipeline make \"Why octopuses are so smart\"")
        return 0
    print(f"{'id':>5}  {'status':<9}  {'stage':<9}  {'quality':>7}  {'cost':>8}  topic")
    for r in rows:
        q = f"{r['quality_score']:.0f}" if r["quality_score"] is not None else "-"
        stage = r["current_stage"] or r["error_stage"] or ""
        print(f"{r['id']:>5}  {r['status']:<9}  {stage:<9}  {q:>7}  ${float(r['cost_usd']):>7.4f}  {r['topic'][:60]}")
    return 0


@contextmanager
def _on_sigterm(callback):
    """Run ``callback`` on SIGTERM (a service manager's stop) instead of dying mid-write; restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: callback())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_work(args: argparse.Namespace) -> int:
    """Drain the queue (--until-empty) or serve it until stopped. SIGTERM and Ctrl-C drain like a normal stop:
    running stages finish or stop at their next checkpoint (resumable), every thread is joined, exit 0."""
    from pipeline.workbench import Workbench

    stop = threading.Event()
    # Only what this command needs: no trend bootstrap (it would still be loading a model at exit).
    services = ("worker",) if args.until_empty else ("worker", "scheduler", "snapshots")
    with _on_sigterm(stop.set):
        wb = Workbench(load_settings(args.data_dir), services=services)
        try:
            print(f"worker running with {wb.settings.workers} threads on {wb.settings.db_path}", file=sys.stderr)
            while not stop.is_set():
                if args.until_empty:
                    if wb.worker.wait_idle(timeout=1.0):
                        break
                else:
                    stop.wait(1.0)
            if stop.is_set():
                print("stopping (SIGTERM): running jobs stop at their next checkpoint and resume next time",
                      file=sys.stderr)
        except KeyboardInterrupt:
            print("stopping: running jobs will resume next time", file=sys.stderr)
        finally:
            wb.close()
    return 0


def cmd_simple(args: argparse.Namespace) -> int:
    api = local_api(args) if args.command in ("cancel", "retry") else None
    if api is not None:
        with api:
            if args.command == "cancel":
                status = api.cancel(args.job_id)["status"]
                print(f"job {args.job_id}: {'cancelled' if status == 'cancelled' else 'cancel requested'}")
            else:
                api.retry(args.job_id)
                print(f"job {args.job_id}: queued again; the workbench at {api.url} runs it")
        return 0
    wb = _workbench(args)
    try:
        if args.command == "cancel":
            status = wb.cancel(args.job_id)
            print(f"job {args.job_id}: {'cancelled' if status == 'cancelled' else 'cancel requested'}")
        elif args.command == "retry":
            wb.retry(args.job_id)
            print(f"job {args.job_id}: queued again; run `python -m pipeline work --until-empty` to process it")
        else:  # init
            for line in wb.prepare_trends(topics=False):
                print(f"trends: {line}")
            print(f"ready: {wb.settings.db_path}")
    finally:
        wb.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    from pipeline.access.accounts import AccessError
    from pipeline.access.actor import Forbidden, NotInWorkspace
    from pipeline.cli_api import ApiError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed what to fix (or the help): its code, returned
        return int(exc.code or 0)
    handlers = {"make": cmd_make, "jobs": cmd_jobs, "work": cmd_work}
    try:
        if args.command in ("channels", "publish"):
            from pipeline import cli_youtube
            from pipeline.youtube.upload import PublishDeferred
            try:
                return cli_youtube.run(args, _workbench)
            except cli_youtube.ERRORS as exc:
                return _error(str(exc), 2)
            except PublishDeferred as exc:
                return _error(f"deferred: {exc}", 5)
            except ProviderError as exc:
                return _error(str(exc), 1)
        if args.command == "backup":
            from pipeline import cli_backup
            try:
                return cli_backup.run(args, _workbench)
            except cli_backup.ERRORS as exc:
                return _error(str(exc), 2)
        if args.command == "review":
            from pipeline import cli_review
            try:
                return cli_review.run(args, _workbench)
            except cli_review.ERRORS as exc:
                return _error(str(exc), 2)
        if args.command == "media":
            from pipeline import cli_media
            return cli_media.run(args, _workbench)
        if args.command == "users":
            from pipeline import cli_users
            try:
                return cli_users.run(args, _workbench)
            except cli_users.ERRORS as exc:
                return _error(str(exc), 2)
        if args.command == "music":
            from pipeline import cli_music
            try:
                return cli_music.run(args, _workbench)
            except cli_music.ERRORS as exc:
                return _error(str(exc), 2)
        if args.command == "trends":
            from pipeline import cli_trends
            try:
                return cli_trends.run(args, _workbench)
            except cli_trends.ERRORS as exc:
                return _error(str(exc), 2)
        return handlers.get(args.command, cmd_simple)(args)
    except ApiError as exc:
        return _error(str(exc), exc.code)
    except DatabaseLocked as exc:
        return _error(str(exc), 3)
    except (Forbidden, NotInWorkspace, AccessError) as exc:
        return _error(str(exc), 7)
    except BAD_INPUT as exc:
        return _error(str(exc), 2)
    except (jobs.JobNotFound, jobs.InvalidTransition) as exc:
        return _error(str(exc), 2)

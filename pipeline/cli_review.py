"""``python -m pipeline review ...``: the review gates from the terminal.

    review list                      jobs waiting for a person (their script, or their publishing)
    review show JOB [--json]         the job's current script (``--json``: the editable form, for ``edit``)
    review edit JOB FILE [--approve] store FILE (the JSON ``show --json`` printed, edited) as a new version;
                                     only the stages the change touches run again
    review approve JOB               approve a script waiting for review: the job is queued on
    review regenerate JOB [--writer CHAIN]   write the script again; it waits for review
    review publish JOB [--to youtube|outbox] [--privacy P] [--title T] [--tags a,b] [--at ISO]
                                     publish a video waiting for it (or one exported to the outbox)

Queued work runs in the app's worker, or here with ``python -m pipeline work --until-empty``. While the workbench
runs, ``review publish`` goes through its API (``--token`` or $YTEMPIRE_API_TOKEN); the others need it stopped.
Exit codes: 0 done, 2 a refusal or bad input (the message says what to do), 3 the database is held by the
running app (or its API needs a token), 7 not allowed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from pipeline.cli_api import add_token_option, local_api
from pipeline.review import PublishRequest, ReviewError, ScriptEdit, SectionEdit, split_tags

MAX_EDIT_BYTES = 1 << 20
ERRORS = (ReviewError,)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    r = sub.add_parser("review", help="read, edit, approve and publish jobs that wait for a person")
    rsub = r.add_subparsers(dest="review_command", required=True)
    lst = rsub.add_parser("list", parents=[common], help="jobs waiting for review")
    lst.add_argument("--json", action="store_true")
    show = rsub.add_parser("show", parents=[common], help="a job's current script")
    show.add_argument("job_id", type=int)
    show.add_argument("--json", action="store_true", help="the editable form, for `review edit`")
    edit = rsub.add_parser("edit", parents=[common], help="store an edited script as a new version")
    edit.add_argument("job_id", type=int)
    edit.add_argument("file", type=Path, help="the JSON `review show --json` printed, edited (at most 1 MB)")
    edit.add_argument("--approve", action="store_true", help="approve it too (a script waiting for review)")
    ok = rsub.add_parser("approve", parents=[common], help="approve a script waiting for review")
    ok.add_argument("job_id", type=int)
    regen = rsub.add_parser("regenerate", parents=[common], help="write the script again (it waits for review)")
    regen.add_argument("job_id", type=int)
    regen.add_argument("--writer", default=None, help="writer chain, e.g. local (default: the same)")
    pub = rsub.add_parser("publish", parents=[common], help="publish a video waiting for it, or one in the outbox")
    pub.add_argument("job_id", type=int)
    pub.add_argument("--to", choices=["youtube", "outbox"], default="youtube", dest="target")
    pub.add_argument("--privacy", choices=["private", "unlisted", "public"], default="private")
    pub.add_argument("--title", default=None, help="a new title (at most 100 characters)")
    pub.add_argument("--tags", default=None, help="comma-separated tags (at most 500 characters in all)")
    pub.add_argument("--at", default=None, help="publish at this ISO time, e.g. 2026-12-24T15:00:00Z")
    add_token_option(pub)  # while the workbench runs, publish goes through its API


def _edit_of(data: dict) -> ScriptEdit:
    try:
        return ScriptEdit(str(data["title"]), str(data["hook"]),
                          [SectionEdit(str(s["heading"]), [str(x) for x in s["sentences"]]) for s in data["sections"]],
                          str(data["call_to_action"]), str(data["description"]), [str(t) for t in data.get("tags", [])])
    except (KeyError, TypeError) as exc:
        raise ReviewError(f"The file is not an edited script ({exc} missing or wrong): start from "
                          "`python -m pipeline review show JOB --json`.") from exc


def _publish_request(args: argparse.Namespace) -> PublishRequest:
    at = None
    if args.at:
        try:
            at = datetime.fromisoformat(args.at.replace("Z", "+00:00")) if len(args.at) <= 40 else None
        except ValueError:
            at = None
        if at is None:
            raise ReviewError(f"--at must be an ISO time such as 2026-12-24T15:00:00Z, not {args.at[:40]!r}.")
    tags = split_tags(args.tags) if args.tags is not None else None
    return PublishRequest(target=args.target, privacy=args.privacy, title=args.title, tags=tags, publish_at=at)


def run(args: argparse.Namespace, workbench) -> int:
    if args.review_command == "publish" and (api := local_api(args)) is not None:
        req = _publish_request(args)
        body = {"target": req.target, "privacy": req.privacy, "title": req.title, "tags": req.tags,
                "publish_at": req.publish_at.isoformat() if req.publish_at else None}
        with api:
            said = api.publish(args.job_id, {k: v for k, v in body.items() if v is not None})
        print(f"job {args.job_id}: queued to publish to {args.target} (from {said['rerun_from']})")
        return 0
    wb = workbench(args)
    try:
        desk, cmd = wb.review, args.review_command
        if cmd == "list":
            from pipeline.queries import review_queue
            rows = review_queue(wb.db).to_dicts()
            if args.json:
                print(json.dumps(rows, default=str))
            for r in [] if args.json else rows:
                print(f"#{r['job_id']}  {r['channel']}  {r['topic']}  waiting for "
                      f"{'script review' if r['awaiting'] == 'script' else 'publishing'}")
            if not rows and not args.json:
                print("nothing waits for review")
        elif cmd == "show":
            script = desk.script(args.job_id)
            if args.json:
                print(json.dumps(asdict(ScriptEdit.of(script)), indent=1, ensure_ascii=False))
            else:
                print(f"title: {script.title}\nhook: {script.hook}")
                for n, s in enumerate(script.sections, start=1):
                    print(f"section {n}: {s.heading}")
                    for line in s.sentences:
                        print(f"  {line}")
                print(f"call to action: {script.call_to_action}\ndescription: {script.description}\n"
                      f"tags: {', '.join(script.tags)}")
        elif cmd == "edit":
            if not args.file.is_file() or args.file.stat().st_size > MAX_EDIT_BYTES:
                raise ReviewError(f"{args.file} is not a file of at most 1 MB.")
            try:
                data = json.loads(args.file.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise ReviewError(f"{args.file} is not JSON: {exc}") from exc
            said = desk.edit_script(args.job_id, _edit_of(data), approve=args.approve)
            version = f"script version {said['version']}" if said.get("version") else "no new version"
            then = (f"{said['rerun_from']} and later stages run again" if said["rerun_from"] else
                    "approved and queued" if said["status"] == "queued" else "nothing reruns")
            print(f"job {args.job_id}: {version}; {then} (now {said['status']})")
        elif cmd == "approve":
            desk.approve_script(args.job_id)
            print(f"job {args.job_id}: script approved, queued")
        elif cmd == "regenerate":
            desk.regenerate_script(args.job_id, args.writer)
            print(f"job {args.job_id}: queued to write the script again; it will wait for review")
        else:
            said = desk.publish(args.job_id, _publish_request(args))
            print(f"job {args.job_id}: queued to publish to {args.target} (from {said['rerun_from']})")
        return 0
    finally:
        wb.close()

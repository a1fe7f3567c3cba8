"""``python -m pipeline channels ...`` and ``publish``: the scriptable path beside the pages."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline import jobs
from pipeline.cli_api import add_token_option, local_api
from pipeline.channels import ChannelError, ChannelInput, create_channel, get_channel, list_channels
from pipeline.youtube.accounts import AccountError
from pipeline.youtube.crypto import new_key


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    channels = sub.add_parser("channels", help="YouTube channel accounts")
    csub = channels.add_subparsers(dest="channels_command", required=True)
    add = csub.add_parser("add", parents=[common], help="connect a channel (created if new) with a client secret and a token")
    add.add_argument("name")
    add.add_argument("--client-secret", type=Path, required=True, help="OAuth client secret JSON of your Google Cloud project")
    add.add_argument("--token", type=Path, required=True, help="authorized-user token JSON, as google-auth writes it")
    lst = csub.add_parser("list", parents=[common], help="channels with their health, parking and quota")
    lst.add_argument("--json", action="store_true")
    csub.add_parser("key", help="print a new YTEMPIRE_TOKEN_KEY (it encrypts tokens at rest)")
    rot = csub.add_parser("rotate-key", parents=[common],
                          help="re-encrypt every stored token with a new key, in one transaction")
    rot.add_argument("--new-key-file", type=Path, default=None,
                     help="a file holding the new key (or set YTEMPIRE_NEW_TOKEN_KEY; default: a fresh key, printed "
                          "before anything changes). Never on the command line: other users can read that.")
    dis = csub.add_parser("disconnect", parents=[common], help="revoke a channel's YouTube tokens and delete them")
    dis.add_argument("name")
    dis.add_argument("--project", default=None, help="only this Google Cloud project's token")
    dele = csub.add_parser("delete", parents=[common], help="delete a channel (its tokens revoked first)")
    dele.add_argument("name")
    dele.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    pub = sub.add_parser("publish", parents=[common], help="publish a made video to YouTube (resumes an interrupted upload)")
    pub.add_argument("job_id", type=int)
    pub.add_argument("--channel", default=None, help="channel name or id (default: the job's)")
    pub.add_argument("--json", action="store_true")
    pub.add_argument("--reupload", action="store_true",
                     help="upload a new copy when YouTube no longer has the video this job uploaded (refused while it does)")
    add_token_option(pub)  # while the workbench runs, publish goes through its API


ERRORS = (AccountError, ChannelError)


def run(args: argparse.Namespace, workbench) -> int:
    if args.command == "channels" and args.channels_command == "key":
        print(new_key())
        return 0
    if args.command == "publish" and (api := local_api(args)) is not None:
        with api:
            return _publish_through(api, args)
    wb = workbench(args)
    try:
        if args.command == "publish":
            return _publish(wb, args)
        if args.channels_command == "rotate-key":
            return _rotate(wb, args)
        if args.channels_command == "disconnect":
            for note in wb.disconnect_channel(args.name, args.project):
                print(note)
            return 0
        if args.channels_command == "delete":
            channel = get_channel(wb.db, args.name)
            if not args.yes:
                if not sys.stdin.isatty():
                    raise ChannelError(f"Deleting {channel['name']} revokes its YouTube tokens: add --yes to do it "
                                       "without a prompt.")
                if input(f"Delete {channel['name']} and revoke its YouTube access? Type its name to go on: ").strip() \
                        != channel["name"]:
                    print("nothing deleted")
                    return 1
            for note in wb.delete_channel(channel["id"]):
                print(note)
            print(f"{channel['name']}: deleted (its finished videos stay in the Library)")
            return 0
        if args.channels_command == "add":
            try:
                channel = get_channel(wb.db, args.name)
            except ChannelError:
                channel = get_channel(wb.db, create_channel(wb.db, ChannelInput(args.name)))
            for path in (args.client_secret, args.token):
                if not path.exists():
                    raise AccountError(f"{path} does not exist.")
            project = wb.youtube.add_account_files(channel["id"], args.client_secret, args.token)
            print(f"{channel['name']}: connected through project {project}")
            return 0
        status = wb.youtube.status()
        rows = []
        for c in list_channels(wb.db):
            accounts = [a for a in status["accounts"] if a["channel_id"] == c["id"]]
            parked = wb.youtube.quota.parked_until("channel", str(c["id"]))
            rows.append({"id": c["id"], "name": c["name"], "connected": bool(accounts), "accounts": accounts,
                         "parked_until": parked[0] if parked else None})
        if args.json:
            print(json.dumps({"channels": rows, "quota": status["quota"], "unverified": status["unverified"]}, default=str))
        else:
            for r in rows:
                state = ", ".join(f"{a['project']}: {a['status']} (health {a['health_upload']})" for a in r["accounts"]) \
                    or "not connected (outbox)"
                print(f"{r['id']:>3}  {r['name']:<24} {state}")
            for q in status["quota"]:
                print(f"     {q['project']:<20} {q['bucket']:<9} {q['used']:>6} used, {q['left']:>6} left"
                      + (f", parked until {q['parked_until']}" if q["parked_until"] else ""))
        return 0
    finally:
        wb.close()


def _rotate(wb, args: argparse.Namespace) -> int:
    import os

    if args.new_key_file is not None:
        key = args.new_key_file.read_text(encoding="utf-8").strip()
    else:
        key = os.environ.get("YTEMPIRE_NEW_TOKEN_KEY", "").strip()
    if not key:
        key = new_key()
        # Shown before anything changes: were the process to die after the commit, the key must not be lost.
        print("the new YTEMPIRE_TOKEN_KEY (keep it; it is shown once):", file=sys.stderr)
        print(key, flush=True)
    try:
        counts = wb.youtube.accounts.rotate_key(key)
    except Exception:
        print("the rotation did not happen: the old key still opens every token", file=sys.stderr)
        raise
    print(f"re-encrypted {counts['youtube_accounts']} tokens, {counts['youtube_projects']} client secrets and "
          f"{counts['uploads']} upload sessions. Set YTEMPIRE_TOKEN_KEY to the new key now: the old one no longer "
          "opens them (backups taken before now still need the old key to restore).", file=sys.stderr)
    return 0


def _publish(wb, args: argparse.Namespace) -> int:
    from pipeline.script import Script
    from pipeline.stages import credit_lines, youtube_body

    from pipeline.stages import quality_passed
    from pipeline.youtube.schedule import channel_schedule, settle_publish_at

    job = jobs.get_job(wb.db, args.job_id)
    channel = get_channel(wb.db, job["channel_id"])
    if args.channel and get_channel(wb.db, args.channel)["id"] != channel["id"]:
        raise AccountError(f"Job {args.job_id} was made for {channel['name']!r}; publish it there (or leave out --channel).")
    files = jobs.artifacts(wb.db, args.job_id)
    if job["status"] in ("queued", "running"):
        raise AccountError(f"Job {args.job_id} is {job['status']}: the worker will publish it when it gets there.")
    if "video" not in files or not files["video"].exists():
        raise AccountError(f"Job {args.job_id} has no rendered video yet: let it finish (or retry it) first.")
    if not quality_passed(files.get("quality")):
        raise AccountError(f"Job {args.job_id} did not pass the quality gate (or was not judged): it is not published. "
                           "Retry it to judge it again.")
    body = youtube_body(Script.load(files["script"]), channel, job["brief"], job["topic"],
                        credit_lines(files.get("scenes")))
    if args.reupload:
        gone = wb.youtube.publisher.forget_upload(args.job_id)  # refuses while YouTube still has the video
        if gone:
            print(f"job {args.job_id}: {gone} is gone from YouTube; uploading a new copy", file=sys.stderr)
    moved = None
    if not wb.youtube.publisher.sent(args.job_id):  # YouTube has not had this body yet: a past publishAt can move
        body, moved = settle_publish_at(body, job["brief"].get("privacy", "private"), channel_schedule(wb.db, channel["id"]))
    result = wb.youtube.publisher.publish(args.job_id, channel, files["video"], files["thumbnail"], body,
                                          captions=files.get("captions"), playlist_id=job["brief"].get("playlist_id"))
    units = wb.db.query_one("SELECT coalesce(sum(units), 0) FROM quota_ledger WHERE job_id = ?", [args.job_id])[0]
    with wb.db.write() as cur:
        cur.execute("UPDATE videos SET publish_state = ?, publish_ref = ?, published_at = now() WHERE job_id = ?",
                    [result.state, result.ref, args.job_id])
    if args.json:
        print(json.dumps({"job_id": args.job_id, "video_id": result.ref, "url": result.url, "state": result.state,
                          "quota_units": units, "publish_at_moved": moved}))
    else:
        print(f"job {args.job_id}: {result.state} as {result.url} ({units} quota units)"
              + (f"; publishAt {moved['from']} moved to {moved['to'] or 'now'} ({moved['why']})" if moved else ""))
    return 0


def _publish_through(api, args: argparse.Namespace) -> int:
    """``publish`` while the workbench runs: its worker uploads (POST /jobs/{id}/publish), this follows the job
    and prints what the in-process path prints. The upload itself is the same publish stage, so an interrupted
    one resumes the same way."""
    import threading

    from pipeline.cli_api import follow
    from pipeline.providers.base import ProviderError

    if args.reupload:
        raise AccountError("--reupload needs the database: stop the workbench and run it again, or publish the job "
                           "from the Library.")
    job = api.job(args.job_id)
    if args.channel and args.channel.strip().lower() not in (str(job["channel_id"]), (job["channel"] or "").lower()):
        raise AccountError(f"Job {args.job_id} was made for {job['channel']!r}; publish it there (or leave out "
                           "--channel).")
    if job["status"] in ("queued", "running"):
        raise AccountError(f"Job {args.job_id} is {job['status']}: the worker will publish it when it gets there.")
    api.publish(args.job_id, {"target": "youtube", "privacy": job.get("privacy") or "private"})
    job = follow(api, args.job_id, lambda stage, fraction: None, threading.Event())
    if job["status"] == "deferred":
        print(f"error: deferred: {next(s['error'] for s in job['stages'] if s.get('error'))}", file=sys.stderr)
        return 5
    if job["status"] != "done":
        raise ProviderError(f"Job {args.job_id} is {job['status']}"
                            + (f" at {job['error_stage']}: {job['error_message']}" if job["error_message"] else "."))
    video = job.get("video") or {}
    state, ref = video.get("publish_state"), video.get("publish_ref")
    url = f"https://youtu.be/{ref}" if state in ("published", "scheduled") else ref
    units = video.get("quota_units", 0)
    if args.json:
        print(json.dumps({"job_id": args.job_id, "video_id": ref, "url": url, "state": state, "quota_units": units,
                          "publish_at_moved": None}))
    else:
        print(f"job {args.job_id}: {state} as {url} ({units} quota units)")
    return 0

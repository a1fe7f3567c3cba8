"""``python -m pipeline users ...``: accounts and workspaces from the terminal (stop the workbench first).

    users list                         every account: email, name, role, workspaces, last seen
    users create-owner EMAIL --name N  the first owner of a headless install (password from the prompt or stdin)
    users reset-password EMAIL         a new password for a forgotten one; signs the account out everywhere
    users invite EMAIL --role R (--workspace ID | --new-workspace NAME) [--hours H]
                                       a single-use invitation link (shown once)
    users role EMAIL ROLE              owner, operator or analyst
    users workspaces                   every workspace with its members
    users token create NAME [--days N] a personal API token for the acting account (shown once), for the API,
                                       n8n, or this CLI while the workbench runs (YTEMPIRE_API_TOKEN)
    users token list [--json]          the acting account's tokens (never their secret)
    users token revoke ID              revoke one at once

Whoever can run commands on this machine and read the data directory can already read everything, so
``reset-password`` and ``create-owner`` need no sign-in; the others act ``--as`` an owner (default: the
only account). Exit codes: 0 done, 2 bad input (the message says what to fix), 3 the database is held by the
running workbench, 7 not allowed for that account.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from pipeline.access.accounts import DEFAULT_INVITE_HOURS, AccessError
from pipeline.access.actor import ROLES, SYSTEM
from pipeline.access.tokens import DAYS, DEFAULT_DAYS, TokenError

ERRORS = (AccessError, TokenError)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    u = sub.add_parser("users", help="accounts, invitations and workspaces")
    usub = u.add_subparsers(dest="users_command", required=True)
    lst = usub.add_parser("list", parents=[common], help="every account")
    lst.add_argument("--json", action="store_true")
    co = usub.add_parser("create-owner", parents=[common], help="the first owner account (a new install only)")
    co.add_argument("email")
    co.add_argument("--name", required=True)
    co.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    rp = usub.add_parser("reset-password", parents=[common], help="set a new password (signs out everywhere)")
    rp.add_argument("email")
    rp.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    inv = usub.add_parser("invite", parents=[common], help="a single-use invitation link, shown once")
    inv.add_argument("email")
    inv.add_argument("--role", choices=ROLES, default="operator")
    where = inv.add_mutually_exclusive_group(required=True)
    where.add_argument("--workspace", type=int, help="an existing workspace's id")
    where.add_argument("--new-workspace", metavar="NAME", help="create this workspace for them")
    inv.add_argument("--name", default="")
    inv.add_argument("--hours", type=int, default=DEFAULT_INVITE_HOURS, help="how long the link works (1 to 720)")
    inv.add_argument("--base-url", default="http://localhost:8501", help="the workbench's address in the link")
    ro = usub.add_parser("role", parents=[common], help="change an account's role")
    ro.add_argument("email")
    ro.add_argument("role", choices=ROLES)
    usub.add_parser("workspaces", parents=[common], help="every workspace")
    tok = usub.add_parser("token", help="personal API tokens (for the API, n8n, the CLI while the workbench runs)")
    tsub = tok.add_subparsers(dest="token_command", required=True)
    tc = tsub.add_parser("create", parents=[common], help="a new token of the acting account (--as), shown once")
    tc.add_argument("name", help="what will use it, e.g. n8n (at most 80 characters)")
    tc.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"how long it works ({DAYS[0]}-{DAYS[1]} days)")
    tl = tsub.add_parser("list", parents=[common], help="the acting account's tokens")
    tl.add_argument("--json", action="store_true")
    tr = tsub.add_parser("revoke", parents=[common], help="revoke a token (its id from `users token list`)")
    tr.add_argument("token_id", type=int)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password (at least 12 characters): ")
    if getpass.getpass("Again: ") != first:
        raise AccessError("The two passwords differ: nothing was changed.")
    return first


def run(args: argparse.Namespace, workbench) -> int:
    wb = workbench(args) if args.users_command not in ("reset-password", "create-owner") else None
    if wb is None:
        from pipeline.config import load_settings
        from pipeline.workbench import Workbench

        wb = Workbench(load_settings(args.data_dir), start_worker=False).acting(SYSTEM, owns=True)
    try:
        access, actor = wb.access, wb.actor
        cmd = args.users_command
        if cmd == "list":
            rows = access.users()
            if args.json:
                print(json.dumps(rows, default=str))
            else:
                for r in rows:
                    print(f"{r['email']:<32} {r['role']:<9} {r['name']:<24} {', '.join(r['workspaces'] or [])}"
                          f"{'  (disabled)' if r['disabled'] else ''}")
        elif cmd == "create-owner":
            access.create_owner(args.email, args.name, _password(args), client="cli")
            print(f"owner {args.email.strip().lower()} created: sign in at the workbench")
        elif cmd == "reset-password":
            if access.user(args.email) is None:
                raise AccessError(f"There is no account for {args.email.strip().lower()}.")
            access.set_password(SYSTEM, args.email, _password(args))
            print(f"new password set for {args.email.strip().lower()}; its sessions are signed out")
        elif cmd == "invite":
            ws = args.workspace if args.workspace is not None else access.create_workspace(actor, args.new_workspace)
            token = access.invite(actor, args.email, args.role, ws, args.name, args.hours)
            print(f"{args.base_url.rstrip('/')}/access/invite?token={token}")
            print(f"(single use, for {args.email.strip().lower()}, works {args.hours} h; shown only now)",
                  file=sys.stderr)
        elif cmd == "role":
            access.set_role(actor, args.email, args.role)
            print(f"{args.email.strip().lower()} is now {args.role}")
        elif cmd == "workspaces":
            for w in access.workspaces():
                print(f"{w['id']:>4}  {w['name']}")
        elif cmd == "token":
            _token(wb, args)
        return 0
    finally:
        wb.close()


def _token(wb, args: argparse.Namespace) -> None:
    """``users token ...`` for the acting account (``--as``; the only account by default)."""
    if args.token_command == "create":
        made = wb.tokens.create(args.name, args.days)
        print(made["token"])
        print(f"(token {made['id']} {made['prefix']} \"{made['name']}\" for {wb.actor.email}, works until "
              f"{made['expires_at']:%Y-%m-%d} UTC; shown only now: export YTEMPIRE_API_TOKEN=... to use it)",
              file=sys.stderr)
    elif args.token_command == "list":
        rows = wb.tokens.list()
        if args.json:
            print(json.dumps(rows, default=str))
        for r in [] if args.json else rows:
            used = f"last used {r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "never used"
            print(f"{r['id']:>4}  {r['prefix']}  {r['state']:<8} {r['name']:<24} until {r['expires_at']:%Y-%m-%d}"
                  f"  {used}")
        if not rows and not args.json:
            print("no tokens yet: make one with  python -m pipeline users token create NAME")
    elif wb.tokens.revoke(args.token_id):
        print(f"token {args.token_id}: revoked")
    else:
        print(f"token {args.token_id}: was revoked already")

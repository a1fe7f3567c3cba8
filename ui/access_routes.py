"""The sign-in doors, served beside the app by the same process (app.py's ``st.App(routes=...)``).

Plain HTML forms, because only an HTTP response can set an HttpOnly cookie:

    GET/POST /access/setup     the owner's account, on a new install only (no default password, ever)
    GET/POST /access/sign-in   email and password; failures are throttled per account and per client
    GET/POST /access/invite    ?token=...: an invitee sets their name and password (single use, expiring)
    GET/POST /access/sign-out  ends the session everywhere and clears the cookie

The cookie: ``ytempire_session``, HttpOnly, SameSite=Strict, Path=/, Secure when served over https, for the
session's lifetime. The host guard (ui/server.py) refuses a cross-origin POST before it reaches these.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from pipeline.access.accounts import COOKIE, AccessError, SignIn, Throttled
from pipeline.access.passwords import MAX_EMAIL, MAX_NAME, MAX_PASSWORD, MIN_PASSWORD

MAX_FORM_BYTES = 16 * 1024

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width, initial-scale=1"><title>{title} · YTEmpire</title><style>
body{{font-family:system-ui,sans-serif;background:#0e1117;color:#fafafa;display:flex;justify-content:center;padding:8vh 1rem}}
main{{max-width:26rem;width:100%}}label{{display:block;margin:.9rem 0 .3rem}}input{{width:100%;padding:.55rem;
border-radius:.4rem;border:1px solid #555;background:#1b1f2a;color:#fafafa;box-sizing:border-box}}
button{{margin-top:1.2rem;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#ff4b4b;color:#fff;
font-size:1rem;cursor:pointer}}.error{{background:#3e1c1c;border:1px solid #a33;padding:.7rem;border-radius:.4rem}}
.note{{color:#aaa;font-size:.9rem}}a{{color:#8ab4ff}}</style></head><body><main><h1>🎬 YTEmpire</h1>
<h2>{title}</h2>{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200, headers: dict | None = None):
    from starlette.responses import HTMLResponse

    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status,
                        headers={"cache-control": "no-store", "x-frame-options": "DENY", **(headers or {})})


def _error(message: str | None) -> str:
    return f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""


def _field(name: str, label: str, kind: str = "text", value: str = "", limit: int = 200, extra: str = "") -> str:
    return (f'<label for="{name}">{html.escape(label)}</label><input id="{name}" name="{name}" type="{kind}" '
            f'maxlength="{limit}" value="{html.escape(value)}" required {extra}>')


def _client(request: Any) -> str:
    return f"web {request.client.host if request.client else 'local'}"


def _signed_in(request: Any, result: SignIn):
    from starlette.responses import RedirectResponse

    response = RedirectResponse("/", status_code=303)
    from pipeline.access.accounts import now

    seconds = max(1, int((result.expires_at - now()).total_seconds()))
    response.set_cookie(COOKIE, result.cookie, max_age=seconds, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https")
    return response


async def _form(request: Any) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise AccessError(f"The form is larger than {MAX_FORM_BYTES // 1024} KB.")
    from urllib.parse import parse_qsl

    return {k: v for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)}


def _access():
    from ui.state import shared_workbench

    return shared_workbench().access


PASSWORD_NOTE = (f'<p class="note">At least {MIN_PASSWORD} characters, not one of the common passwords. '
                 "It is stored only as an Argon2id hash.</p>")
NEW_PASSWORD = (_field("password", "Password", "password", "", MAX_PASSWORD, "autocomplete=new-password")
                + _field("again", "Password again", "password", "", MAX_PASSWORD, "autocomplete=new-password")
                + PASSWORD_NOTE)


def _same_password(form: dict[str, str]) -> None:
    if form.get("password", "") != form.get("again", ""):
        raise AccessError("The two passwords differ: type the same password twice.")


def _setup_form(error: str | None = None, email: str = "", name: str = "") -> str:
    return (f"{_error(error)}<p>This workbench has no accounts yet. The first is its owner.</p>"
            f'<form method="post" action="/access/setup">{_field("email", "Email", "email", email, MAX_EMAIL)}'
            f'{_field("name", "Name", "text", name, MAX_NAME)}'
            f"{NEW_PASSWORD}<button type=submit>Create the owner account</button></form>")


async def setup(request: Any):
    from starlette.responses import RedirectResponse

    access = await asyncio.to_thread(_access)
    if not await asyncio.to_thread(access.needs_owner):
        return RedirectResponse("/access/sign-in", status_code=303)
    if request.method == "GET":
        return _page("Create the owner account", _setup_form())
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        _same_password(form)
        result = await asyncio.to_thread(access.create_owner, form.get("email", ""), form.get("name", ""),
                                         form.get("password", ""), _client(request))
    except AccessError as exc:
        return _page("Create the owner account", _setup_form(str(exc), form.get("email", ""), form.get("name", "")),
                     400)
    return _signed_in(request, result)


def _sign_in_form(error: str | None = None, email: str = "") -> str:
    return (f'{_error(error)}<form method="post" action="/access/sign-in">'
            f'{_field("email", "Email", "email", email, MAX_EMAIL, "autocomplete=username")}'
            f'{_field("password", "Password", "password", "", MAX_PASSWORD, "autocomplete=current-password")}'
            '<button type=submit>Sign in</button></form>'
            '<p class="note">Forgot the password? The owner sets a new one on the Access page; a forgotten owner '
            'password is reset on the workbench machine with <code>python -m pipeline users reset-password '
            'EMAIL</code>.</p>')


async def sign_in(request: Any):
    from starlette.responses import RedirectResponse

    access = await asyncio.to_thread(_access)
    if await asyncio.to_thread(access.needs_owner):
        return RedirectResponse("/access/setup", status_code=303)
    if request.method == "GET":
        return _page("Sign in", _sign_in_form())
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        result = await asyncio.to_thread(access.sign_in, form.get("email", ""), form.get("password", ""),
                                         _client(request))
    except Throttled as exc:
        return _page("Sign in", _sign_in_form(str(exc), form.get("email", "")), 429,
                     {"retry-after": str(exc.wait_s)})
    except AccessError as exc:
        return _page("Sign in", _sign_in_form(str(exc), form.get("email", "")), 401)
    return _signed_in(request, result)


def _invite_form(token: str, inv: dict, error: str | None = None, name: str = "") -> str:
    return (f"{_error(error)}<p>You are invited to <b>{html.escape(inv['workspace'] or 'YTEmpire')}</b> as "
            f"<b>{html.escape(inv['role'])}</b>, with the email <b>{html.escape(inv['email'])}</b>.</p>"
            f'<form method="post" action="/access/invite"><input type="hidden" name="token" '
            f'value="{html.escape(token)}">{_field("name", "Your name", "text", name or inv.get("name") or "", MAX_NAME)}'
            f"{NEW_PASSWORD}<button type=submit>Create my account</button></form>")


async def invite(request: Any):
    access = await asyncio.to_thread(_access)
    if request.method == "GET":
        token = request.query_params.get("token", "")[:200]
        try:
            inv = await asyncio.to_thread(access.invitation, token)
        except AccessError as exc:
            return _page("Invitation", _error(str(exc)) + '<p><a href="/access/sign-in">Sign in</a></p>', 410)
        return _page("Accept the invitation", _invite_form(token, inv))
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        token = form.get("token", "")[:200]
        inv = await asyncio.to_thread(access.invitation, token)
    except AccessError as exc:
        return _page("Invitation", _error(str(exc)) + '<p><a href="/access/sign-in">Sign in</a></p>', 410)
    try:
        _same_password(form)
        result = await asyncio.to_thread(access.accept, token, form.get("name", ""), form.get("password", ""),
                                         _client(request))
    except AccessError as exc:
        return _page("Accept the invitation", _invite_form(token, inv, str(exc), form.get("name", "")), 400)
    return _signed_in(request, result)


async def sign_out(request: Any):
    from starlette.responses import RedirectResponse

    if request.method == "GET":
        return _page("Sign out", '<form method="post" action="/access/sign-out"><p>End this account\'s sessions on '
                                 'every device?</p><button type=submit>Sign out everywhere</button></form>')
    access = await asyncio.to_thread(_access)
    await asyncio.to_thread(access.sign_out, request.cookies.get(COOKIE), True, _client(request))
    response = RedirectResponse("/access/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def access_routes() -> list:
    from starlette.routing import Route

    methods = ["GET", "POST"]
    return [Route("/access/setup", setup, methods=methods), Route("/access/sign-in", sign_in, methods=methods),
            Route("/access/invite", invite, methods=methods), Route("/access/sign-out", sign_out, methods=methods)]

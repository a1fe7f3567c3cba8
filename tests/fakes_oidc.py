"""A loopback OpenID Connect provider that speaks the real wire format, for single sign-on tests.

What Streamlit's ``st.login(provider)`` (Authlib's Starlette client underneath) does against a real
provider, this fake answers on 127.0.0.1 with no login screen:

- ``GET /.well-known/openid-configuration``: the discovery document (code flow, RS256, PKCE S256,
  client_secret_basic and client_secret_post);
- ``GET /authorize``: checks client_id, redirect_uri, response_type=code, the openid scope and an S256
  challenge if one is sent, then 302s straight to ``redirect_uri?code=...&state=...`` for the identity
  the test set in :attr:`FakeOIDCProvider.identity` (copied at that moment, so a later change applies to
  the next login only); nonce, client_id, redirect_uri and the PKCE challenge are remembered with the code;
- ``POST /token``: the client (HTTP Basic or form fields), the grant type, the code (single use: a reused
  code is refused and the tokens it gave are revoked), the redirect_uri and the PKCE verifier; answers
  ``access_token``, ``token_type``, ``expires_in``, ``scope`` and an RS256 ``id_token`` (``kid`` in its
  header) with iss, aud, sub, email, email_verified, name, iat, exp, auth_time, at_hash and the nonce;
- ``GET /jwks``: the public signing key as a JWK set;
- ``GET|POST /userinfo``: the identity behind a bearer access token.

Every request is logged in :attr:`requests`; each authorization and each token exchange, with what was
decided, in :attr:`authorizations` and :attr:`token_requests`. :attr:`next_error` makes the next
``/authorize`` answer an OAuth error (``access_denied``...) instead of a code.

For Streamlit: :meth:`FakeOIDCProvider.streamlit_secrets` writes the ``[auth]`` section of a secrets.toml,
:func:`streamlit_login_path` the ``/auth/login?provider=...`` path that ``st.login`` sends the browser to,
and :func:`read_streamlit_cookie` reads back the signed ``_streamlit_user`` cookie (chunked or not).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit, urlunsplit

import pytest
from fakes import LoopbackServer

CLIENT_ID = "ytempire-workbench"
CLIENT_SECRET = "fake-oidc-client-secret"
COOKIE_SECRET = "fake-oidc-cookie-secret-0123456789abcdef"
PROVIDER = "ytsso"  # the [auth.<name>] section and st.login("<name>"); Streamlit refuses names with "_"
DEFAULT_IDENTITY = {"sub": "user-0001", "email": "owner@example.com", "email_verified": True, "name": "Olive Owner"}
SCOPES = ["openid", "email", "profile"]
CODE_TTL_S = 60
TOKEN_TTL_S = 3600
ID_TOKEN_TTL_S = 600


@functools.cache
def _rsa_private_pem() -> bytes:
    """One 2048-bit RSA key per test process (generating one takes a noticeable fraction of a second)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636 section 4.2)."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def at_hash(access_token: str) -> str:
    """The id_token ``at_hash`` of an access token for RS256: the left half of its SHA-256, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


@dataclass
class Seen:
    """One request the provider received."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]  # lower-case names


@dataclass
class _Grant:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    identity: dict[str, Any]
    issued_at: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None):
        super().__init__(f"{error}: {description}")
        self.status, self.error, self.description = status, error, description
        self.headers = dict(headers or {})


class FakeOIDCProvider(LoopbackServer):
    """A loopback OpenID provider for one registered client; a context manager that serves while open.

    ``redirect_uris``: the registered redirect URIs, compared exactly; None accepts any http(s) URI (tests
    that start Streamlit on a port they learn later). ``require_pkce``: refuse authorizations without an S256
    challenge, as OAuth 2.1 providers do for public clients.
    """

    def __init__(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET, *,
                 identity: Mapping[str, Any] | None = None, redirect_uris: list[str] | None = None,
                 require_pkce: bool = False):
        from joserfc.jwk import RSAKey

        self.client_id, self.client_secret = client_id, client_secret
        self.identity: dict[str, Any] = dict(identity or DEFAULT_IDENTITY)
        self.redirect_uris = redirect_uris
        self.require_pkce = require_pkce
        self.next_error: str | None = None  # e.g. "access_denied": the next /authorize redirects with it
        self.lock = threading.Lock()
        self.requests: list[Seen] = []
        self.authorizations: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.grants: dict[str, _Grant] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}  # access token -> {"identity", "client_id", "exp"}
        self.key = RSAKey.import_key(_rsa_private_pem())
        self.kid = self.key.thumbprint()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        self.serve(Handler)
        # serve_forever's default half-second poll makes every shutdown (each test's teardown) wait that long.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # -- what tests use ---------------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": SCOPES,
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
                                 "email", "email_verified", "name"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def seen(self, path: str) -> list[Seen]:
        """The requests received on ``path`` (without its query), in order."""
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def streamlit_secrets(self, provider: str = PROVIDER, *, redirect_uri: str = "http://127.0.0.1:{port}/oauth2callback",
                          cookie_secret: str = COOKIE_SECRET, **provider_extra: Any) -> str:
        """The ``[auth]`` section of a secrets.toml that points Streamlit's ``st.login(provider)`` here.

        Streamlit replaces ``{port}`` in ``redirect_uri`` with its own ``server.port``, so the file can be
        written before the server's port is known. ``provider_extra`` adds keys to ``[auth.<provider>]``
        (``client_kwargs`` is a table: pass a dict).
        """
        section = {"client_id": self.client_id, "client_secret": self.client_secret,
                   "server_metadata_url": self.metadata_url, **provider_extra}
        lines = ["[auth]", f"redirect_uri = {_toml(redirect_uri)}", f"cookie_secret = {_toml(cookie_secret)}", "",
                 f"[auth.{provider}]"]
        tables = {}
        for k, v in section.items():
            if isinstance(v, Mapping):
                tables[k] = v
            else:
                lines.append(f"{k} = {_toml(v)}")
        for name, table in tables.items():
            lines += ["", f"[auth.{provider}.{name}]", *(f"{k} = {_toml(v)}" for k, v in table.items())]
        return "\n".join(lines) + "\n"

    def sign(self, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
        """An RS256 JWT over ``claims`` with this provider's key (tests can forge variations)."""
        from joserfc import jwt

        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": self.kid, **(header or {})}, dict(claims), self.key)

    # -- the endpoints ----------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(h.headers.get("content-length") or 0)
        body = h.rfile.read(length) if length else b""
        form: dict[str, str] = {}
        if method == "POST" and (h.headers.get("content-type") or "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self.lock:
            self.requests.append(Seen(method, parts.path, query, form, headers))
        routes = {
            ("GET", "/.well-known/openid-configuration"): lambda: self._json(h, 200, self.metadata()),
            ("GET", "/jwks"): lambda: self._json(h, 200, self.jwks()),
            ("GET", "/authorize"): lambda: self._authorize(h, query),
            ("POST", "/token"): lambda: self._token(h, form, headers),
            ("GET", "/userinfo"): lambda: self._userinfo(h, headers),
            ("POST", "/userinfo"): lambda: self._userinfo(h, headers),
        }
        route = routes.get((method, parts.path))
        if route is None:
            allowed = [m for m, p in routes if p == parts.path]
            if allowed:
                return self._json(h, 405, {"error": "method_not_allowed"}, {"allow": ", ".join(allowed)})
            return self._json(h, 404, {"error": "not_found", "path": parts.path})
        try:
            route()
        except OAuthError as exc:
            self._json(h, exc.status, {"error": exc.error, "error_description": exc.description}, exc.headers)

    def _authorize(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        record = {k: q.get(k) for k in ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
                                        "code_challenge", "code_challenge_method", "prompt")}
        record["outcome"] = None
        with self.lock:
            self.authorizations.append(record)
        # Errors about the client or the redirect URI are shown to the user, never redirected (RFC 6749 4.1.2.1).
        if q.get("client_id") != self.client_id:
            record["outcome"] = "unknown client"
            return self._text(h, 400, f"Unknown client_id {q.get('client_id')!r}")
        redirect_uri = q.get("redirect_uri") or ""
        scheme = urlsplit(redirect_uri).scheme
        if scheme not in ("http", "https") or (self.redirect_uris is not None and redirect_uri not in self.redirect_uris):
            record["outcome"] = "bad redirect_uri"
            return self._text(h, 400, f"redirect_uri {redirect_uri!r} is not registered for this client")

        def fail(error: str, description: str) -> None:
            record["outcome"] = error
            params = {"error": error, "error_description": description}
            if q.get("state") is not None:
                params["state"] = q["state"]
            self._redirect(h, _add_query(redirect_uri, params))

        if q.get("response_type") != "code":
            return fail("unsupported_response_type", "only the authorization code flow is supported")
        if "openid" not in (q.get("scope") or "").split():
            return fail("invalid_scope", "the openid scope is required")
        challenge, challenge_method = q.get("code_challenge"), q.get("code_challenge_method")
        if challenge is not None and (challenge_method or "plain") != "S256":
            return fail("invalid_request", "code_challenge_method must be S256")
        if challenge is None and self.require_pkce:
            return fail("invalid_request", "PKCE (code_challenge with S256) is required")
        with self.lock:
            error, self.next_error = self.next_error, None
        if error:
            return fail(error, "refused by the test")
        code = secrets.token_urlsafe(24)
        grant = _Grant(code, self.client_id, redirect_uri, q.get("scope") or "", q.get("nonce"), challenge,
                       challenge_method, copy.deepcopy(self.identity), time.time())
        with self.lock:
            self.grants[code] = grant
        record["outcome"] = "code"
        record["code"] = code
        params = {"code": code}
        if q.get("state") is not None:
            params["state"] = q["state"]
        self._redirect(h, _add_query(redirect_uri, params))

    def _client(self, form: dict[str, str], headers: dict[str, str]) -> tuple[str, str | None]:
        """Authenticate the client (RFC 6749 2.3.1); return (method, client_id)."""
        auth = headers.get("authorization", "")
        basic = None
        if auth[:6].lower() == "basic ":
            try:
                user, _, password = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8").partition(":")
                basic = (unquote_plus(user), unquote_plus(password))
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "malformed Basic credentials",
                                 {"www-authenticate": 'Basic realm="token"'}) from None
        if basic and "client_secret" in form:
            raise OAuthError(400, "invalid_request", "use one client authentication method, not two")
        if basic:
            method, (client_id, secret) = "client_secret_basic", basic
            if form.get("client_id") not in (None, client_id):
                raise OAuthError(400, "invalid_request", "client_id in the body differs from the Basic user")
        elif "client_secret" in form:
            method, client_id, secret = "client_secret_post", form.get("client_id", ""), form["client_secret"]
        else:
            raise OAuthError(401, "invalid_client", "client authentication is required",
                             {"www-authenticate": 'Basic realm="token"'})
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            extra = {"www-authenticate": 'Basic realm="token"'} if method == "client_secret_basic" else {}
            raise OAuthError(401, "invalid_client", "unknown client or wrong secret", extra)
        return method, client_id

    def _token(self, h: BaseHTTPRequestHandler, form: dict[str, str], headers: dict[str, str]) -> None:
        record: dict[str, Any] = {k: form.get(k) for k in ("grant_type", "code", "redirect_uri", "code_verifier")}
        record.update(client_auth=None, client_id=None, pkce=None, status=None, error=None)
        with self.lock:
            self.token_requests.append(record)
        try:
            record["client_auth"], record["client_id"] = self._client(form, headers)
            if form.get("grant_type") != "authorization_code":
                raise OAuthError(400, "unsupported_grant_type", "only authorization_code is supported")
            with self.lock:
                grant = self.grants.get(form.get("code") or "")
                reused = grant is not None and grant.used
                if grant is not None:
                    grant.used = True
                    if reused:  # RFC 6749 4.1.2: a code used twice revokes what it gave
                        for token in grant.access_tokens:
                            self.access_tokens.pop(token, None)
            if grant is None:
                raise OAuthError(400, "invalid_grant", "unknown authorization code")
            if reused:
                raise OAuthError(400, "invalid_grant", "authorization code already used")
            if time.time() - grant.issued_at > CODE_TTL_S:
                raise OAuthError(400, "invalid_grant", "authorization code expired")
            if grant.client_id != record["client_id"]:
                raise OAuthError(400, "invalid_grant", "the code was issued to another client")
            if form.get("redirect_uri") != grant.redirect_uri:
                raise OAuthError(400, "invalid_grant", "redirect_uri differs from the authorization request")
            verifier = form.get("code_verifier")
            if grant.code_challenge is not None:
                if not verifier:
                    record["pkce"] = "missing"
                    raise OAuthError(400, "invalid_grant", "code_verifier is required")
                if not (43 <= len(verifier) <= 128) or not secrets.compare_digest(s256(verifier), grant.code_challenge):
                    record["pkce"] = "mismatch"
                    raise OAuthError(400, "invalid_grant", "code_verifier does not match the code_challenge")
                record["pkce"] = "S256 ok"
            elif verifier:
                record["pkce"] = "unexpected"
                raise OAuthError(400, "invalid_grant", "code_verifier sent but no code_challenge was")
            payload = self._issue(grant)
        except OAuthError as exc:
            record["status"], record["error"] = exc.status, exc.error
            raise
        record["status"] = 200
        self._json(h, 200, payload, {"cache-control": "no-store", "pragma": "no-cache"})

    def _issue(self, grant: _Grant) -> dict[str, Any]:
        now = int(time.time())
        access_token = secrets.token_urlsafe(32)
        with self.lock:
            self.access_tokens[access_token] = {"identity": grant.identity, "client_id": grant.client_id,
                                                "exp": now + TOKEN_TTL_S}
            grant.access_tokens.append(access_token)
        claims = {"iss": self.issuer, "aud": grant.client_id, "iat": now, "exp": now + ID_TOKEN_TTL_S,
                  "auth_time": int(grant.issued_at), "at_hash": at_hash(access_token), **grant.identity}
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_TTL_S,
                "scope": grant.scope, "id_token": self.sign(claims)}

    def _userinfo(self, h: BaseHTTPRequestHandler, headers: dict[str, str]) -> None:
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        with self.lock:
            entry = self.access_tokens.get(token)
        if not token:
            raise OAuthError(401, "invalid_request", "a bearer token is required", {"www-authenticate": "Bearer"})
        if entry is None or entry["exp"] < time.time():
            raise OAuthError(401, "invalid_token", "unknown, revoked or expired access token",
                             {"www-authenticate": 'Bearer error="invalid_token"'})
        self._json(h, 200, dict(entry["identity"]))

    # -- plumbing ---------------------------------------------------------------------------------------

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes, content_type: str | None,
              headers: Mapping[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            if content_type:
                h.send_header("content-type", content_type)
            h.send_header("content-length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self, h, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(h, status, json.dumps(data).encode(), "application/json", headers)

    def _text(self, h, status: int, text: str) -> None:
        self._send(h, status, text.encode(), "text/plain; charset=utf-8")

    def _redirect(self, h, location: str) -> None:
        self._send(h, 302, b"", None, {"location": location, "cache-control": "no-store"})


def _add_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _toml(value: Any) -> str:
    """A TOML value: JSON's string, number and boolean spellings are TOML's too (for these simple values)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, (str, bool, int, float)):
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def streamlit_login_path(provider: str = PROVIDER, cookie_secret: str = COOKIE_SECRET, *,
                         ttl_s: int = 120) -> str:
    """The path ``st.login(provider)`` sends the browser to: ``/auth/login?provider=<token>``.

    The ``provider`` query parameter is not the provider's name but a short-lived HS256 JWT
    ``{"provider": name, "exp": ...}`` signed with the ``[auth] cookie_secret``; Streamlit redirects a
    plain name (or a token signed with another secret) to ``/`` without starting a login.
    """
    from joserfc import jwt
    from joserfc.jwk import OctKey

    token = jwt.encode({"alg": "HS256"}, {"provider": provider, "exp": int(time.time()) + ttl_s},
                       OctKey.import_key(cookie_secret))
    return f"/auth/login?{urlencode({'provider': token})}"


def read_streamlit_cookie(cookies: Mapping[str, str], cookie_secret: str = COOKIE_SECRET,
                          name: str = "_streamlit_user") -> dict[str, Any] | None:
    """Decode Streamlit's signed auth cookie (``_streamlit_user`` or ``_streamlit_user_tokens``), joining its
    chunks (``<name>`` holds ``chunks-N``, the value is in ``<name>_1`` ... ``<name>_N``) as Streamlit does;
    None when it is missing or its signature does not check."""
    from streamlit.auth_util import get_cookie_with_chunks
    from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value

    def single(cookie_name: str) -> bytes | None:
        value = cookies.get(cookie_name)
        return None if value is None else decode_signed_value(cookie_secret, cookie_name, value)

    raw = get_cookie_with_chunks(single, name)
    return None if raw is None else json.loads(raw)


@pytest.fixture
def oidc_provider() -> Iterator[FakeOIDCProvider]:
    """A loopback OpenID provider for one test (client ``CLIENT_ID`` / ``CLIENT_SECRET``)."""
    with FakeOIDCProvider() as fake:
        yield fake

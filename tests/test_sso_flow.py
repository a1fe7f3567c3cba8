"""Single sign-on: the loopback OpenID provider (tests/fakes_oidc.py), and Streamlit's own ``st.login`` routes
(``/auth/login`` and ``/oauth2callback``, Authlib underneath) completing a code flow with PKCE against it.

The server test starts ``streamlit run app.py`` like tests/test_browser.py, with ``secrets.files`` pointed at a
temporary secrets.toml through ``STREAMLIT_SECRETS_FILES`` (the repository's .streamlit/ is never written), and
drives the HTTP redirects itself with httpx; it relies only on those two routes, not on what any page shows.
"""

from __future__ import annotations

import base64
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fakes_oidc import (
    CLIENT_ID,
    CLIENT_SECRET,
    COOKIE_SECRET,
    PROVIDER,
    FakeOIDCProvider,
    at_hash,
    oidc_provider,
    read_streamlit_cookie,
    s256,
    streamlit_login_path,
)
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, RSAKey

__all__ = ["oidc_provider"]  # the fixture, imported for the tests below

REDIRECT_URI = "http://127.0.0.1:8501/oauth2callback"
VERIFIER = "v" * 20 + "-verifier-0123456789abcdefghijkl"  # 52 characters, within RFC 7636's 43..128


def client() -> httpx.Client:
    return httpx.Client(trust_env=False, follow_redirects=False, timeout=10)


def authorize(fake: FakeOIDCProvider, http: httpx.Client, **extra: str) -> dict[str, str]:
    """Run /authorize as a browser would and return the query of the redirect back to the client."""
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
              "scope": "openid email profile", "state": "state-1", "nonce": "nonce-1", **extra}
    r = http.get(f"{fake.url}/authorize", params=params)
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def exchange(fake: FakeOIDCProvider, http: httpx.Client, code: str, *, secret: str = CLIENT_SECRET,
             post: bool = False, **extra: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, **extra}
    if post:
        return http.post(f"{fake.url}/token", data={**form, "client_id": CLIENT_ID, "client_secret": secret})
    return http.post(f"{fake.url}/token", data=form, auth=(CLIENT_ID, secret))


def verify(fake: FakeOIDCProvider, http: httpx.Client, id_token: str):
    """Verify an id_token the way a relying party does: keys from jwks_uri named by the discovery document."""
    metadata = http.get(fake.metadata_url).json()
    keys = KeySet.import_key_set(http.get(metadata["jwks_uri"]).json())
    token = jwt.decode(id_token, keys, algorithms=metadata["id_token_signing_alg_values_supported"])
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": metadata["issuer"]},
                          aud={"essential": True, "value": CLIENT_ID},
                          sub={"essential": True}, exp={"essential": True}, iat={"essential": True}).validate(token.claims)
    return token


# -- the fake itself --------------------------------------------------------------------------------------


def test_discovery_document_describes_the_code_flow_with_pkce(oidc_provider):
    with client() as http:
        r = http.get(oidc_provider.metadata_url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    base = oidc_provider.url
    assert base.startswith("http://127.0.0.1:")
    assert doc["issuer"] == base
    assert doc["authorization_endpoint"] == f"{base}/authorize"
    assert doc["token_endpoint"] == f"{base}/token"
    assert doc["jwks_uri"] == f"{base}/jwks"
    assert doc["userinfo_endpoint"] == f"{base}/userinfo"
    assert doc["response_types_supported"] == ["code"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"openid", "email", "profile"} <= set(doc["scopes_supported"])
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert doc["code_challenge_methods_supported"] == ["S256"]


def test_a_code_flow_with_pkce_gives_a_verifiable_id_token_and_userinfo(oidc_provider):
    fake = oidc_provider
    fake.identity = {"sub": "u-42", "email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace"}
    with client() as http:
        back = authorize(fake, http, code_challenge=s256(VERIFIER), code_challenge_method="S256")
        assert back["state"] == "state-1"
        fake.identity = {"sub": "u-99", "email": "later@example.com"}  # the next login's, not this one's
        r = exchange(fake, http, back["code"], code_verifier=VERIFIER)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["access_token"]

        token = verify(fake, http, body["id_token"])
        assert token.header["alg"] == "RS256" and token.header["kid"] == fake.kid
        claims = token.claims
        assert claims["sub"] == "u-42" and claims["email"] == "ada@example.com"
        assert claims["email_verified"] is True and claims["name"] == "Ada Lovelace"
        assert claims["nonce"] == "nonce-1"
        assert claims["at_hash"] == at_hash(body["access_token"])
        assert claims["iat"] <= time.time() < claims["exp"]

        info = http.get(f"{fake.url}/userinfo", headers={"authorization": f"Bearer {body['access_token']}"})
        assert info.status_code == 200 and info.json()["email"] == "ada@example.com"
        assert http.get(f"{fake.url}/userinfo", headers={"authorization": "Bearer nope"}).status_code == 401

    (auth,) = fake.authorizations
    assert auth["code_challenge_method"] == "S256" and auth["nonce"] == "nonce-1" and auth["client_id"] == CLIENT_ID
    (tok,) = fake.token_requests
    assert tok["client_auth"] == "client_secret_basic" and tok["pkce"] == "S256 ok" and tok["status"] == 200


def test_the_id_token_also_verifies_with_authlib(oidc_provider):
    from authlib.oidc.core import CodeIDToken

    with client() as http:
        back = authorize(oidc_provider, http)
        body = exchange(oidc_provider, http, back["code"], post=True).json()
        keys = KeySet.import_key_set(http.get(f"{oidc_provider.url}/jwks").json())
    token = jwt.decode(body["id_token"], keys, algorithms=["RS256"])
    claims = CodeIDToken(token.claims, token.header, {"iss": {"values": [oidc_provider.issuer]}},
                         {"nonce": "nonce-1", "client_id": CLIENT_ID, "access_token": body["access_token"]})
    claims.validate()  # iss, aud, exp, iat, nonce and at_hash, as Authlib checks them at login
    assert oidc_provider.token_requests[0]["client_auth"] == "client_secret_post"


def test_a_token_from_another_key_does_not_verify(oidc_provider):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    forged = jwt.encode({"alg": "RS256", "kid": oidc_provider.kid}, {"iss": oidc_provider.issuer, "sub": "x"}, other)
    with client() as http, pytest.raises(BadSignatureError):
        verify(oidc_provider, http, forged)


def test_the_token_endpoint_refuses_a_wrong_secret_or_a_missing_client(oidc_provider):
    fake = oidc_provider
    with client() as http:
        code = authorize(fake, http)["code"]
        for post in (False, True):
            r = exchange(fake, http, code, secret="wrong", post=post)
            assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        r = http.post(f"{fake.url}/token", data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        assert "www-authenticate" in r.headers
        # A refused client does not burn the code: the right client can still use it.
        assert exchange(fake, http, code).status_code == 200
    assert [t["error"] for t in fake.token_requests] == ["invalid_client"] * 3 + [None]


def test_a_code_is_single_use_and_its_reuse_revokes_the_tokens(oidc_provider):
    fake = oidc_provider
    with client() as http:
        code = authorize(fake, http)["code"]
        first = exchange(fake, http, code)
        assert first.status_code == 200
        access = first.json()["access_token"]
        assert http.get(f"{fake.url}/userinfo", headers={"authorization": f"Bearer {access}"}).status_code == 200
        again = exchange(fake, http, code)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        r = http.get(f"{fake.url}/userinfo", headers={"authorization": f"Bearer {access}"})
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
        assert exchange(fake, http, "made-up").json()["error"] == "invalid_grant"


def test_the_token_endpoint_checks_redirect_uri_and_the_pkce_verifier(oidc_provider):
    fake = oidc_provider
    pkce = {"code_challenge": s256(VERIFIER), "code_challenge_method": "S256"}
    with client() as http:
        code = authorize(fake, http, **pkce)["code"]
        r = exchange(fake, http, code)  # no verifier
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        code = authorize(fake, http, **pkce)["code"]
        assert exchange(fake, http, code, code_verifier=VERIFIER[::-1]).json()["error"] == "invalid_grant"
        code = authorize(fake, http, **pkce)["code"]
        r = exchange(fake, http, code, code_verifier=VERIFIER, redirect_uri="http://127.0.0.1:1/oauth2callback")
        assert r.json()["error"] == "invalid_grant"
        # plain PKCE is not offered, so it is refused at /authorize, back at the client with the state
        back = authorize(fake, http, code_challenge=VERIFIER, code_challenge_method="plain")
        assert back["error"] == "invalid_request" and back["state"] == "state-1" and "code" not in back
    assert [t["pkce"] for t in fake.token_requests] == ["missing", "mismatch", None]  # redirect_uri is checked first


def test_authorize_refuses_strangers_without_redirecting_and_can_deny_on_request(oidc_provider):
    fake = oidc_provider
    fake.redirect_uris = [REDIRECT_URI]
    with client() as http:
        base = {"response_type": "code", "scope": "openid", "state": "s"}
        r = http.get(f"{fake.url}/authorize", params={**base, "client_id": "other", "redirect_uri": REDIRECT_URI})
        assert r.status_code == 400 and "location" not in r.headers
        r = http.get(f"{fake.url}/authorize", params={**base, "client_id": CLIENT_ID,
                                                      "redirect_uri": "http://evil.example/cb"})
        assert r.status_code == 400 and "location" not in r.headers
        assert authorize(fake, http, scope="email")["error"] == "invalid_scope"
        fake.next_error = "access_denied"
        assert authorize(fake, http)["error"] == "access_denied"
        assert "code" in authorize(fake, http)  # next_error applies once


def test_secrets_text_is_streamlit_auth_toml(oidc_provider):
    import tomllib

    text = oidc_provider.streamlit_secrets(client_kwargs={"prompt": "login"})
    auth = tomllib.loads(text)["auth"]
    assert auth["redirect_uri"] == "http://127.0.0.1:{port}/oauth2callback"
    assert auth["cookie_secret"] == COOKIE_SECRET
    assert auth[PROVIDER] == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                              "server_metadata_url": oidc_provider.metadata_url, "client_kwargs": {"prompt": "login"}}


def test_the_login_path_carries_a_provider_token_signed_with_the_cookie_secret():
    from joserfc.jwk import OctKey

    query = parse_qs(urlsplit(streamlit_login_path("ytsso", "s" * 32)).query)
    claims = jwt.decode(query["provider"][0], OctKey.import_key("s" * 32), algorithms=["HS256"]).claims
    assert claims["provider"] == "ytsso" and claims["exp"] > time.time()


# -- Streamlit's real auth routes -------------------------------------------------------------------------


def _cookie_names(response: httpx.Response) -> list[str]:
    return [c.split("=", 1)[0].strip() for c in response.headers.get_list("set-cookie")]


@pytest.mark.slow
def test_streamlit_login_completes_against_the_fake_provider(oidc_provider, tmp_path):
    from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value
    from test_browser import serve

    fake = oidc_provider
    fake.identity = {"sub": "sso-7", "email": "owner@ytempire.test", "email_verified": True, "name": "Owner Seven"}
    secrets_file = tmp_path / "secrets" / "secrets.toml"
    secrets_file.parent.mkdir()
    secrets_file.write_text(fake.streamlit_secrets())
    # STREAMLIT_SECRETS_FILES is the secrets.files option (click splits it on whitespace: tmp_path has none); it
    # replaces Streamlit's default list (~/.streamlit/secrets.toml, ./.streamlit/secrets.toml). The project's own
    # settings read the same file, so neither a developer's real secrets.toml nor ~/.streamlit leaks in.
    assert " " not in str(secrets_file)
    with serve(tmp_path, tmp_path / "data", STREAMLIT_SECRETS_FILES=str(secrets_file),
               YTEMPIRE_SECRETS_FILE=str(secrets_file)) as srv, client() as http:
        # A bare provider name is not a login: Streamlit wants the signed token st.login puts in the URL.
        r = http.get(f"{srv.url}/auth/login", params={"provider": PROVIDER})
        assert r.status_code == 302 and r.headers["location"] == "/", srv.log_tail()
        assert not fake.authorizations

        # 1. /auth/login: Authlib reads the discovery document and sends the browser to /authorize.
        r = http.get(srv.url + streamlit_login_path())
        assert r.status_code == 302, f"{r.status_code} {r.text}\n{srv.log_tail()}"
        assert "_streamlit_session" in _cookie_names(r)  # Starlette's session holds state, nonce, verifier
        to_provider = r.headers["location"]
        assert to_provider.startswith(f"{fake.url}/authorize?")
        query = {k: v[0] for k, v in parse_qs(urlsplit(to_provider).query).items()}
        assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
        assert query["redirect_uri"] == f"{srv.url}/oauth2callback"
        assert set(query["scope"].split()) == {"openid", "email", "profile"}
        assert query["code_challenge_method"] == "S256" and query["nonce"] and query["state"]

        # 2. The provider answers at once with a code, back to Streamlit's callback.
        r = http.get(to_provider)
        assert r.status_code == 302
        callback = r.headers["location"]
        assert callback.startswith(f"{srv.url}/oauth2callback?")

        # 3. /oauth2callback: the token exchange (server to server), the id_token checked, the cookies set.
        r = http.get(callback)
        assert r.status_code == 302 and r.headers["location"] == "/", srv.log_tail()
        set_names = _cookie_names(r)
        assert "_streamlit_user" in set_names and "_streamlit_user_tokens" in set_names, (set_names, srv.log_tail())

        user = read_streamlit_cookie(http.cookies)
        assert user is not None, "the _streamlit_user cookie does not verify with the cookie_secret"
        assert user["email"] == "owner@ytempire.test" and user["sub"] == "sso-7" and user["name"] == "Owner Seven"
        assert user["email_verified"] is True
        assert user["is_logged_in"] is True and user["provider"] == PROVIDER and user["origin"] == srv.url
        assert user["iss"] == fake.issuer and user["aud"] == CLIENT_ID and user["nonce"] == query["nonce"]
        tokens = read_streamlit_cookie(http.cookies, name="_streamlit_user_tokens")
        assert set(tokens) == {"id_token", "access_token"}
        assert read_streamlit_cookie(http.cookies, cookie_secret="another-secret-of-enough-length") is None

        # Replaying the callback (browser back button) must not log in again or reach the token endpoint.
        r = http.get(callback)
        assert r.status_code == 302 and "_streamlit_user=" not in r.headers.get("set-cookie", "")
        first_login = list(fake.token_requests)

        # A second login with an identity too big for one cookie: Streamlit splits it into numbered chunks. (The
        # signer zlib-compresses values, so a repetitive claim would still fit: random hex does not compress much.)
        big_name = secrets.token_hex(4000)
        fake.identity = {"sub": "sso-8", "email": "big@ytempire.test", "email_verified": False, "name": big_name}
        r = http.get(srv.url + streamlit_login_path())
        r = http.get(r.headers["location"])
        r = http.get(r.headers["location"])
        assert r.status_code == 302, srv.log_tail()
        set_names = _cookie_names(r)
        assert {"_streamlit_user", "_streamlit_user_1", "_streamlit_user_2"} <= set(set_names), set_names
        count = decode_signed_value(COOKIE_SECRET, "_streamlit_user", http.cookies["_streamlit_user"])
        assert count is not None and count.startswith(b"chunks-")  # the main cookie holds the (signed) count
        user = read_streamlit_cookie(http.cookies)
        assert user["sub"] == "sso-8" and user["name"] == big_name and user["email_verified"] is False

    (tok,) = first_login
    assert tok["status"] == 200 and tok["grant_type"] == "authorization_code"
    assert tok["client_auth"] == "client_secret_basic" and tok["redirect_uri"] == f"{srv.url}/oauth2callback"
    assert tok["pkce"] == "S256 ok"  # the verifier Streamlit sent hashes to the challenge it sent at /authorize
    assert s256(tok["code_verifier"]) == query["code_challenge"]
    for seen in fake.seen("/token"):  # both logins
        scheme, credentials = seen.headers["authorization"].split()
        assert scheme == "Basic" and base64.b64decode(credentials).decode() == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert [t["status"] for t in fake.token_requests] == [200, 200]
    assert fake.seen("/jwks"), "Authlib verifies the id_token with the provider's JWKS"
    assert fake.seen("/.well-known/openid-configuration")

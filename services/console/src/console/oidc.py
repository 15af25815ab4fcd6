"""Sign-in at the identity provider (OpenID Connect authorization code flow with PKCE).

The console is the realm's public client ``aid-console`` (deploy/keycloak): it sends the person
to the provider, gets a code back, exchanges it (with the PKCE verifier) for tokens, and keeps
the access token as the session and the refresh token beside it, both HttpOnly. When the access
token expires (15 minutes in the realm) the refresh token gets a new one on the next page; when
the provider refuses it, the person signs in again. The state, PKCE verifier and return address
travel in a short-lived cookie signed with ``CONSOLE_COOKIE_SECRET``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlencode

import httpx

FLOW_COOKIE = "aid_oidc"
REFRESH_COOKIE = "aid_refresh"
FLOW_SECONDS = 600


class SignInFailed(Exception):
    """The provider's answer could not be used (a wrong state, a refused code)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = _b64(secrets.token_bytes(32))
    return verifier, _b64(hashlib.sha256(verifier.encode()).digest())


def sign(payload: dict, secret: bytes) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return body + "." + _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def unsign(value: str, secret: bytes, *, max_age: float = FLOW_SECONDS) -> dict:
    body, _, mac = value.partition(".")
    if not hmac.compare_digest(mac, _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())):
        raise SignInFailed("登录状态无效，请重新登录 (the sign-in state was altered: sign in again)")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if time.time() - payload.get("at", 0) > max_age:
        raise SignInFailed("登录已超时，请重新登录 (the sign-in took too long: sign in again)")
    return payload


class Provider:
    """The provider's endpoints (from its discovery document, fetched once) and token calls."""

    def __init__(self, issuer_url: str, client_id: str, redirect_url: str, *, client_secret: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.issuer_url, self.client_id, self.redirect_url = issuer_url.rstrip("/"), client_id, redirect_url
        self._secret = client_secret
        self._http = httpx.AsyncClient(timeout=10, transport=transport)
        self._config: dict | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def config(self) -> dict:
        if self._config is None:
            resp = await self._http.get(self.issuer_url + "/.well-known/openid-configuration")
            resp.raise_for_status()
            self._config = resp.json()
        return self._config

    async def authorize_url(self, state: str, challenge: str) -> str:
        query = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_url,
                 "scope": "openid", "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
        return (await self.config())["authorization_endpoint"] + "?" + urlencode(query)

    async def exchange(self, code: str, verifier: str) -> dict:
        return await self._token({"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_url,
                                  "code_verifier": verifier})

    async def refresh(self, refresh_token: str) -> dict:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def logout_url(self, back: str) -> str | None:
        endpoint = (await self.config()).get("end_session_endpoint")
        return endpoint + "?" + urlencode({"client_id": self.client_id, "post_logout_redirect_uri": back}) if endpoint else None

    async def _token(self, form: dict) -> dict:
        form = {**form, "client_id": self.client_id, **({"client_secret": self._secret} if self._secret else {})}
        try:
            resp = await self._http.post((await self.config())["token_endpoint"], data=form)
        except httpx.HTTPError:
            raise SignInFailed("统一身份认证暂时无法访问，请稍后再试 (the identity provider is unreachable)") from None
        if resp.status_code != 200 or "access_token" not in resp.json():
            raise SignInFailed("统一身份认证未通过，请重新登录 (the identity provider refused: sign in again)")
        return resp.json()

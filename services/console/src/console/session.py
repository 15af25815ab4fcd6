"""Who is signed in: the identity provider's token, kept in an HttpOnly, SameSite=Strict cookie.

The console checks the token as the services do (``TokenVerifier``: signature, issuer, audience,
expiry) only to choose the pages it offers; every call forwards the token, so the services keep
deciding what the person may see and do. Pages declare their policy like the services' routes
(``Depends(page(Role.SCHOOL))``) and the app refuses to start with a page that has none."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from urllib.parse import quote

import jwt
from fastapi import Request

from aid_chassis.auth import POLICY_MARK, Principal, Role, TokenVerifier, UnknownSigningKey

COOKIE = "aid_session"
LANG_COOKIE = "aid_lang"


@dataclass(frozen=True)
class User:
    principal: Principal
    token: str

    @property
    def role(self) -> Role:
        return self.principal.role


class SignInNeeded(Exception):
    """No valid session: the page sends the person to sign in, and back afterwards."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class NotAllowed(Exception):
    """Signed in, but this page is for other roles."""


async def current_user(request: Request) -> User | None:
    """The signed-in person; an expired provider token is renewed with the refresh token (the new
    tokens go back in cookies, ``request.state.renewed``)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return User(await verify(request, token), token)
    except jwt.ExpiredSignatureError:
        return await _renewed(request)
    except (jwt.PyJWTError, UnknownSigningKey, ValueError):
        return None


async def verify(request: Request, token: str) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(token)
    except UnknownSigningKey:
        if not await verifier.refresh():
            raise
        return verifier.verify(token)


async def _renewed(request: Request) -> User | None:
    from console.oidc import REFRESH_COOKIE, SignInFailed

    provider, refresh_token = getattr(request.app.state, "provider", None), request.cookies.get(REFRESH_COOKIE)
    if provider is None or not refresh_token:
        return None
    try:
        tokens = await provider.refresh(refresh_token)
        user = User(await verify(request, tokens["access_token"]), tokens["access_token"])
    except (SignInFailed, jwt.PyJWTError, UnknownSigningKey, ValueError):
        return None
    request.state.renewed = tokens
    return user


def page(*roles: Role):
    """A page's policy: the roles it is for; the signed-in User, or sign-in first."""

    async def dependency(request: Request) -> User:
        user = await current_user(request)
        if user is None:
            raise SignInNeeded(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if user.role not in roles:
            raise NotAllowed()
        return user

    setattr(dependency, POLICY_MARK, tuple(roles))
    return dependency


async def anyone(request: Request) -> User | None:
    """The policy of a public page (lookup, notices): the user if signed in, else None."""
    return await current_user(request)


setattr(anyone, POLICY_MARK, ("public",))


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(safe_next(next_url), safe="")


def safe_next(next_url: str | None) -> str:
    """Only a path on this site (no ``//host`` or ``https:`` open redirect)."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/"
    return next_url


@dataclass(frozen=True)
class DemoAccount:
    """A local demo account (dev sign-in only): a user name and the claims its token carries."""

    username: str
    label: str
    role: str
    claims: dict[str, str]


def demo_accounts(path) -> list[DemoAccount]:
    if path is None or not path.exists():
        return []
    return [DemoAccount(a["username"], a.get("label", a["username"]), a["role"], a.get("claims", {}))
            for a in json.loads(path.read_text())]


def check_password(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())

"""Sign-in and out, and the language switch.

Locally the dev issuer stands in for the identity provider: a demo account's user name and the
dev password give a token with that account's role and jurisdiction claims, the same claims the
provider's tokens carry. Without ``CONSOLE_DEV_KEYS_DIR`` dev sign-in is off."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

import secrets
import time

import jwt

from aid_chassis.auth import UnknownSigningKey
from aid_chassis.dev_issuer import DevIssuer
from console.oidc import FLOW_COOKIE, FLOW_SECONDS, REFRESH_COOKIE, SignInFailed, pkce_pair, sign, unsign
from console.session import COOKIE, LANG_COOKIE, anyone, check_password, demo_accounts, safe_next, verify
from console.web import HOME, render

router = APIRouter()


@router.get("/login")
async def login_form(request: Request, next: str = "/", user=Depends(anyone)):
    settings = request.app.state.settings
    return render(request, "login.html", user, next=safe_next(next), dev=settings.dev_keys_dir is not None,
                  accounts=demo_accounts(settings.demo_accounts_file), oidc=settings.oidc_issuer_url is not None)


@router.post("/login")
async def login(request: Request, username: str = Form(..., max_length=100), password: str = Form(..., max_length=200),
                next: str = Form("/"), user=Depends(anyone)):
    settings = request.app.state.settings
    account = None
    if settings.dev_keys_dir is not None:
        account = {a.username: a for a in demo_accounts(settings.demo_accounts_file)}.get(username.strip())
    if account is None or not check_password(password, settings.demo_password):
        return render(request, "login.html", None, status_code=401, next=safe_next(next), dev=settings.dev_keys_dir is not None,
                      accounts=demo_accounts(settings.demo_accounts_file), error="bad_sign_in", username=username)
    ttl = int(settings.session_hours * 3600)
    token = DevIssuer(settings.dev_keys_dir).issue(subject=account.username, role=account.role, ttl_seconds=ttl,
                                                   **account.claims)
    target = safe_next(next)
    response = RedirectResponse(HOME.get(account.role, "/") if target == "/" else target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=ttl, httponly=True, samesite="strict", secure=settings.secure_cookies)
    return response


@router.get("/auth/start")
async def oidc_start(request: Request, next: str = "/", user=Depends(anyone)):
    """To the identity provider, with a fresh state and PKCE challenge."""
    provider, settings = request.app.state.provider, request.app.state.settings
    if provider is None:
        return RedirectResponse("/login", status_code=303)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    response = RedirectResponse(await provider.authorize_url(state, challenge), status_code=303)
    flow = sign({"state": state, "verifier": verifier, "next": safe_next(next), "at": time.time()}, _secret(settings))
    response.set_cookie(FLOW_COOKIE, flow, max_age=FLOW_SECONDS, httponly=True, samesite="lax", secure=settings.secure_cookies)
    return response


@router.get("/auth/callback")
async def oidc_callback(request: Request, code: str = "", state: str = "", user=Depends(anyone)):
    """Back from the provider: the code exchanged for tokens, the session started."""
    provider, settings = request.app.state.provider, request.app.state.settings
    try:
        if provider is None or not code:
            raise SignInFailed("统一身份认证未完成，请重新登录 (sign-in was not completed: sign in again)")
        flow = unsign(request.cookies.get(FLOW_COOKIE, ""), _secret(settings))
        if not secrets.compare_digest(flow["state"], state):
            raise SignInFailed("登录状态不符，请重新登录 (the sign-in state does not match: sign in again)")
        tokens = await provider.exchange(code, flow["verifier"])
        principal = await verify(request, tokens["access_token"])
    except (SignInFailed, jwt.PyJWTError, UnknownSigningKey, ValueError) as exc:
        message = str(exc) if isinstance(exc, SignInFailed) else "登录凭证无效 (the provider's token was refused)"
        return render(request, "error.html", None, status_code=400, message=message)
    target = flow["next"] if flow["next"] != "/" else HOME.get(principal.role, "/")
    response = RedirectResponse(target, status_code=303)
    set_session(response, tokens, settings)
    response.delete_cookie(FLOW_COOKIE)
    return response


def set_session(response, tokens: dict, settings) -> None:
    """The provider's access token as the session, its refresh token beside it (both HttpOnly)."""
    ttl = int(settings.session_hours * 3600)
    response.set_cookie(COOKIE, tokens["access_token"], max_age=ttl, httponly=True, samesite="strict",
                        secure=settings.secure_cookies)
    if tokens.get("refresh_token"):
        response.set_cookie(REFRESH_COOKIE, tokens["refresh_token"], max_age=ttl, httponly=True, samesite="strict",
                            secure=settings.secure_cookies)


def _secret(settings) -> bytes:
    return settings.cookie_secret.get_secret_value().encode()


@router.post("/logout")
async def logout(request: Request, user=Depends(anyone)):
    provider = request.app.state.provider
    back = str(request.url_for("login_form"))
    target = (await provider.logout_url(back) if provider else None) or "/login"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE)
    response.delete_cookie(REFRESH_COOKIE)
    return response


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str, back: str = "/", user=Depends(anyone)):
    response = RedirectResponse(safe_next(back), status_code=303)
    response.set_cookie(LANG_COOKIE, "en" if lang == "en" else "zh", max_age=365 * 86400, samesite="lax")
    return response

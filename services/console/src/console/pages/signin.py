"""Sign-in and out, and the language switch.

Locally the dev issuer stands in for the identity provider: a demo account's user name and the
dev password give a token with that account's role and jurisdiction claims, the same claims the
provider's tokens carry. Without ``CONSOLE_DEV_KEYS_DIR`` dev sign-in is off."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from aid_chassis.dev_issuer import DevIssuer
from console.session import COOKIE, LANG_COOKIE, anyone, check_password, demo_accounts, safe_next
from console.web import HOME, render

router = APIRouter()


@router.get("/login")
async def login_form(request: Request, next: str = "/", user=Depends(anyone)):
    settings = request.app.state.settings
    return render(request, "login.html", user, next=safe_next(next), dev=settings.dev_keys_dir is not None,
                  accounts=demo_accounts(settings.demo_accounts_file))


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


@router.post("/logout")
async def logout(request: Request, user=Depends(anyone)):
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str, back: str = "/", user=Depends(anyone)):
    response = RedirectResponse(safe_next(back), status_code=303)
    response.set_cookie(LANG_COOKIE, "en" if lang == "en" else "zh", max_age=365 * 86400, samesite="lax")
    return response

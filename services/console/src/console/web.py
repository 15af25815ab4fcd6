"""Rendering: templates with the glossary in the person's language, flash messages, redirects."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from aid_chassis.auth import Role
from console.glossary import t
from console.session import LANG_COOKIE, User

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
FLASH_COOKIE = "aid_flash"

NAV: dict[Role, list[tuple[str, str]]] = {  # (path, glossary key) per role
    Role.SCHOOL: [("/school/tasks", "tasks"), ("/school/supplements/new", "supplement"), ("/school/lists", "aid_lists"),
                  ("/school/cards", "cards"), ("/school/unfunded", "unfunded"), ("/school/checks", "abnormal_checks")],
    Role.COUNTY_BUREAU: [("/bureau/dashboard", "dashboard"), ("/bureau/audit", "audit"), ("/bureau/repeated", "repeated_checks"),
                         ("/bureau/lists", "aid_lists"), ("/bureau/payments", "payments"), ("/bureau/views", "views"),
                         ("/bureau/reports/progress", "reports"), ("/bureau/audit-trail", "audit_trail")],
    Role.CITY_BUREAU: [("/bureau/dashboard", "dashboard"), ("/bureau/audit", "audit"), ("/bureau/repeated", "repeated_checks"),
                       ("/bureau/lists", "aid_lists"), ("/bureau/views", "views"), ("/bureau/reports/progress", "reports"),
                       ("/bureau/audit-trail", "audit_trail")],
    Role.PROVINCE_BUREAU: [("/bureau/dashboard", "dashboard"), ("/bureau/lists", "aid_lists"), ("/bureau/views", "views"),
                           ("/bureau/reports/progress", "reports"), ("/bureau/audit-trail", "audit_trail")],
    Role.DEPARTMENT: [("/department/imports/new", "import_list")],
    Role.OPERATOR: [("/operator", "operator_home")],
}
HOME = {role: items[0][0] for role, items in NAV.items()}


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def render(request: Request, template: str, user: User | None, *, status_code: int = 200, **context):
    lang = lang_of(request)
    flash = _read_flash(request)
    response = templates.TemplateResponse(request, template, {
        "user": user, "lang": lang, "t": lambda key, **f: t(key, lang, **f), "flash": flash,
        "nav": NAV.get(user.role, []) if user else [], "path": request.url.path, **context}, status_code=status_code)
    if flash:
        response.delete_cookie(FLASH_COOKIE)
    return response


def redirect(url: str, *, ok: str | None = None, error: str | None = None) -> RedirectResponse:
    """303 to ``url`` with a one-time message shown on the next page (no personal data in it)."""
    response = RedirectResponse(url, status_code=303)
    if ok or error:
        value = json.dumps({"kind": "error" if error else "ok", "text": error or ok}, ensure_ascii=False)
        response.set_cookie(FLASH_COOKIE, quote(value), max_age=60, httponly=True, samesite="strict")
    return response


def _read_flash(request: Request) -> dict | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = json.loads(unquote(raw))
        return {"kind": "error" if value.get("kind") == "error" else "ok", "text": str(value.get("text", ""))[:1000]}
    except (ValueError, AttributeError):
        return None

"""What several pages share: the backend, paging, and a per-item result told in one line."""

from __future__ import annotations

from fastapi import Request

from console.backend import Backend
from console.glossary import t
from console.web import lang_of

PAGE_SIZE = 50


def backend(request: Request) -> Backend:
    return request.app.state.backend


def paging(page: int, total: int) -> dict:
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    return {"page": page, "pages": pages, "offset": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE, "total": total}


def outcome(request: Request, result: dict) -> tuple[str | None, str | None]:
    """(ok text, error text) of a per-item result ``{read, accepted, refused, results}``: the
    counts, and the first refusals with their reasons."""
    lang = lang_of(request)
    accepted = result.get("accepted", sum(1 for r in result.get("results", []) if r.get("ok")))
    refused = [r for r in result.get("results", []) if not r.get("ok")]
    text = f"{t('ok', lang)} {accepted}" + (f"，{t('refused', lang)} {len(refused)}" if refused else "")
    if not refused:
        return text, None
    reasons = "；".join(r.get("message") or r.get("code") or "" for r in refused[:3])
    return None, f"{text}：{reasons}" + ("…" if len(refused) > 3 else "")

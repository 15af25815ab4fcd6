"""What several pages share: the backend, paging, and a per-item result told in one line."""

from __future__ import annotations

from fastapi import Request, UploadFile
from fastapi.responses import Response

from console.backend import ApiError, Backend
from console.glossary import t
from console.web import lang_of

PAGE_SIZE = 50
MAX_UPLOAD = 400 * 1024 * 1024  # a province's roster as CSV is about 100 MB; the services set their own limits


def upload_part(file: UploadFile, default_name: str, content_type: str, *, limit: int = MAX_UPLOAD) -> tuple:
    """An uploaded file passed on to a service as it was spooled (not read into memory), or a
    refusal when it is larger than ``limit``."""
    if file.size is not None and file.size > limit:
        raise ApiError(413, f"文件不能大于 {limit // 2**20} MB (the file is larger than {limit // 2**20} MB)")
    file.file.seek(0)
    return (file.filename or default_name, file.file, file.content_type or content_type)


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


def download(resp) -> Response:
    """A file of a service passed on as it came (its name and type), never cached."""
    headers = {k: v for k, v in resp.headers.items() if k.lower() in ("content-disposition", "content-type")}
    return Response(resp.content, headers={**headers, "Cache-Control": "no-store"})

"""aidctl's calls to identity-matching: file imports with a progress bar, and the matches export."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from aid_chassis.dev_issuer import DevIssuer
from aid_local.platform import SERVICES, Platform

MATCHING = SERVICES[0]
REPORT_KEYS = {"read": "rows_read", "accepted": "accepted", "rejected": "rejected", "not_enrolled": "not_enrolled",
               "matched": "matched", "matched_new": "new", "matched_changed": "changed", "withdrawn": "withdrawn"}


class ImportFailed(RuntimeError):
    pass


class _ProgressFile(io.RawIOBase):
    """A file whose reads advance a progress bar (the upload's progress)."""

    def __init__(self, path: Path, progress: Progress, task) -> None:
        self._fh = path.open("rb")
        self._progress, self._task = progress, task

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._fh.readinto(buffer)
        self._progress.advance(self._task, n or 0)
        return n or 0

    def close(self) -> None:
        self._fh.close()
        super().close()


def _headers(platform: Platform, role: str, **claims: str) -> dict[str, str]:
    """``AID_TOKEN`` when given (a real deployment), else a token from the local dev issuer."""
    token = os.environ.get("AID_TOKEN") or DevIssuer(platform.keys_dir).issue(subject="aidctl", role=role, **claims)
    return {"Authorization": f"Bearer {token}"}


def _body(resp: httpx.Response) -> dict:
    """The JSON of a successful import, or ImportFailed with the service's reason."""
    if resp.status_code != 200:
        raise ImportFailed(f"{resp.status_code}: {resp.json().get('detail', resp.text) if resp.content else ''}")
    return resp.json()


def upload(platform: Platform, path: Path, *, department: str | None, show_progress: bool = True) -> dict:
    """Import a file; returns the report in aidctl's words (rows_read, accepted, … and the rejections)."""
    if department:
        endpoint, headers = f"/imports/lists/{department}", _headers(platform, "department", department=department)
    else:
        endpoint, headers = "/imports/roster", _headers(platform, "province_bureau")
    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, disable=not show_progress, transient=True) as progress:
        task = progress.add_task(f"uploading {path.name}", total=path.stat().st_size)
        fh = _ProgressFile(path, progress, task)
        try:
            resp = httpx.post(platform.url(MATCHING) + endpoint, headers=headers, timeout=None,
                              files={"file": (path.name, fh, "application/octet-stream")})
        finally:
            fh.close()
    body = _body(resp)
    report = {ours: body[theirs] for theirs, ours in REPORT_KEYS.items()}
    report.update(batch_id=body["batch_id"], repeated_rows=body["repeated_rows"], rejections=body["rejections"])
    return report


def upload_round(platform: Platform, lists: dict[str, Path]) -> dict:
    """Import several departments' lists in one comparison round; returns the round in aidctl's words."""
    handles = {department: path.open("rb") for department, path in lists.items()}
    try:
        resp = httpx.post(platform.url(MATCHING) + "/imports/lists", timeout=None,
                          headers=_headers(platform, "province_bureau"), data={"departments": list(lists)},
                          files=[("files", (lists[d].name, fh, "application/octet-stream")) for d, fh in handles.items()])
    finally:
        for fh in handles.values():
            fh.close()
    body = _body(resp)
    per_list = [{"department": r["department"], "batch_id": r["batch_id"], "repeated_rows": r["repeated_rows"],
                 **{ours: r[theirs] for theirs, ours in REPORT_KEYS.items() if theirs in LIST_KEYS},
                 "rejections": r["rejections"]} for r in body["lists"]]
    return {"round_id": body["round_id"], "new": body["matched_new"], "changed": body["matched_changed"],
            "withdrawn": body["withdrawn"], "lists": per_list}


LIST_KEYS = ("read", "accepted", "rejected", "not_enrolled", "matched")


def download_csv(platform: Platform, path: str, out) -> int:
    """Stream a CSV of identity-matching (``/matches/export.csv``…) into ``out``; returns its data lines."""
    lines = 0
    with httpx.stream("GET", platform.url(MATCHING) + path, timeout=None,
                      headers=_headers(platform, "province_bureau")) as resp:
        if resp.status_code != 200:
            raise ImportFailed(f"{resp.status_code}: {resp.read().decode(errors='replace')[:300]}")
        for text in resp.iter_text():
            out.write(text)
            lines += text.count("\n")
    return max(lines - 1, 0)

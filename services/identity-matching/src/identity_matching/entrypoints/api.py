"""HTTP API of identity-matching: uploads of the roster and department lists, import reports."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from aid_chassis.app import create_app, fields, session
from aid_chassis.auth import Principal, Role, allow
from aid_chassis.fields import FieldCipher
from aid_chassis.params import RowNumber
from identity_matching.adapters import tables
from identity_matching.domain import export
from identity_matching.domain.files import MAX_BYTES, UnreadableFile, rejections_to_csv
from identity_matching.entrypoints import institution_routes, student_routes
from identity_matching.service_layer import amended, candidates, imports, personal, snapshots
from identity_matching.service_layer.trail import log
from identity_matching.settings import Settings

router = APIRouter(prefix="/imports", tags=["imports 名单导入"])
# Imports, rejected rows (raw values to correct) and ID-number exports are business data: the
# province and the departments; operators see only what carries no personal data (counts, feeds).
ROSTER_ROLES = allow(Role.PROVINCE_BUREAU)
LIST_ROLES = allow(Role.DEPARTMENT, Role.PROVINCE_BUREAU)
ROUND_ROLES = allow(Role.PROVINCE_BUREAU)
READ_ROLES = allow(Role.DEPARTMENT, Role.PROVINCE_BUREAU)
STATUS_ROLES = allow(Role.DEPARTMENT, Role.PROVINCE_BUREAU, Role.OPERATOR)


def _importer(request: Request, who: Principal) -> imports.Importer:
    settings: Settings = request.app.state.settings
    return imports.Importer(actor=who.subject, secret=settings.pseudonym_secret, policy=settings.policy(),
                            fields=settings.field_cipher())


@contextmanager
def _refusals():
    """An import's refusals as HTTP errors: an unknown department 404, an unreadable file 422."""
    try:
        yield
    except imports.UnknownDepartment as exc:
        raise HTTPException(404, str(exc)) from None
    except UnreadableFile as exc:
        raise HTTPException(422, str(exc)) from None


async def _content(file: UploadFile) -> bytes:
    content = await file.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise HTTPException(413, f"文件超过{MAX_BYTES // 2**20}MB (file larger than {MAX_BYTES // 2**20} MB)")
    return content


@router.post("/roster", summary="Import the enrolment roster (学籍名单) from CSV")
async def import_roster(request: Request, file: UploadFile = File(...), db=Depends(session),
                        who: Principal = Depends(ROSTER_ROLES)) -> dict:
    content = await _content(file)
    with _refusals():
        async with db.begin():
            report = await imports.import_roster(db, content=content, file_name=file.filename or "roster.csv",
                                                 by=_importer(request, who))
            await _audited(db, who, "roster_imported", report)
    return asdict(report)


@router.post("/lists/{department}", summary="Import a department's list (部门名单) from CSV")
async def import_list(department: str, request: Request, file: UploadFile = File(...), db=Depends(session),
                      who: Principal = Depends(LIST_ROLES)) -> dict:
    if who.role is Role.DEPARTMENT and who.department != department:
        raise HTTPException(403, "只能导入本部门名单 (you may import only your own department's list)")
    content = await _content(file)
    settings: Settings = request.app.state.settings
    with _refusals():
        async with db.begin():
            report = await imports.import_department_list(
                db, department=department, departments=settings.departments, content=content,
                file_name=file.filename or f"{department}.csv", by=_importer(request, who))
            await _audited(db, who, "list_imported", report)
    return asdict(report)


@router.post("/lists", summary="Import several departments' lists in one comparison round (一轮比对)")
async def import_lists(request: Request, files: list[UploadFile] = File(...), departments: list[str] = Form(...),
                       db=Depends(session), who: Principal = Depends(ROUND_ROLES)) -> dict:
    """``files`` and ``departments`` pair up in order. Each list replaces its department's; everyone
    whose rows changed is compared once, so a student on two new lists gets one event."""
    if len(files) != len(departments):
        raise HTTPException(422, "每个文件需对应一个部门 (give one department per file, in the same order)")
    uploads = [(d, await _content(f), f.filename or f"{d}.csv") for d, f in zip(departments, files, strict=True)]
    settings: Settings = request.app.state.settings
    with _refusals():
        async with db.begin():
            report = await imports.import_department_lists(db, uploads=uploads, departments=settings.departments,
                                                           by=_importer(request, who))
            for one in report.lists:
                await _audited(db, who, "list_imported", one, round_id=report.round_id)
    return asdict(report)


async def _audited(db, who: Principal, action: str, report: imports.ImportReport, **more) -> None:
    """Who imported which file, with its counts (no rows: they hold personal data), in the chained log."""
    await log(db, "import_batch", report.batch_id, action, who, {"department": report.department, **report.counts(),
                                                                **more})


async def _exported(db, who: Principal, entity: str, entity_id: str, action: str, **detail) -> None:
    """An export holding ID numbers is recorded (and committed) before a byte of it is sent."""
    await log(db, entity, entity_id, action, who, detail)
    await db.commit()


async def _batch(db, batch_id: str, who: Principal):
    row = (await db.execute(select(tables.import_batches).where(tables.import_batches.c.batch_id == batch_id))).first()
    if row is None or (who.role is Role.DEPARTMENT and row.department != who.department):
        raise HTTPException(404, "没有这个导入批次 (no such import)")
    return row


@router.get("/{batch_id}/rejections.csv", summary="Rejected rows to correct (退回数据), as CSV")
async def rejections_csv(batch_id: str, db=Depends(session), who: Principal = Depends(READ_ROLES),
                         cipher: FieldCipher = Depends(fields)) -> Response:
    row = await _batch(db, batch_id, who)
    await _exported(db, who, "import_batch", batch_id, "rejections_exported", rows=len(row.rejections))
    rejected = personal.open_rejections(row.rejections, batch_id, cipher)
    return Response(rejections_to_csv(rejected), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="rejected-{batch_id}.csv"'})


@router.get("/{batch_id}", summary="The report of one import: read, accepted, rejected rows")
async def import_report(batch_id: str, db=Depends(session), who: Principal = Depends(READ_ROLES),
                        cipher: FieldCipher = Depends(fields)) -> dict:
    row = await _batch(db, batch_id, who)
    report = dict(row._mapping)
    report.update(report.pop("outcome"))
    report["rejections"] = personal.open_rejections(report["rejections"], batch_id, cipher)
    return report


@router.get("", summary="Department lists in force: people by category and county (部门名单统计)")
async def department_statistics(db=Depends(session), who: Principal = Depends(STATUS_ROLES)) -> dict:
    t = tables.list_statistics.c
    stmt = select(t.department, t.statistics).order_by(t.department)
    if who.role is Role.DEPARTMENT:
        stmt = stmt.where(t.department == (who.department or ""))
    return {"departments": {department: {kind: dict(sorted(counts.items())) for kind, counts in statistics.items()}
                            for department, statistics in await db.execute(stmt)}}


@router.get("/feeds/{feed_batch_id}", summary="A batch pushed on Kafka: waiting, closed, or imported")
async def feed_status(feed_batch_id: str, db=Depends(session), who: Principal = Depends(STATUS_ROLES)) -> dict:
    b, r = tables.feed_batches.c, tables.feed_records.c
    batch = (await db.execute(select(tables.feed_batches).where(b.batch_id == feed_batch_id))).first()
    if batch is None or (who.role is Role.DEPARTMENT and batch.department != who.department):
        raise HTTPException(404, "没有这个推送批次 (no such pushed batch)")
    arrived = await db.scalar(select(func.count()).where(r.batch_id == feed_batch_id))
    state = "imported" if batch.completed_as else "closed" if batch.expected is not None else "receiving"
    return {"batch_id": feed_batch_id, "department": batch.department, "state": state,
            "expected": batch.expected, "waiting_records": arrived, "import_batch_id": batch.completed_as}


matches_router = APIRouter(prefix="/matches", tags=["matches 比对结果"])


@matches_router.get("/export.csv", summary="Every match in force, with full ID numbers (比对结果导出)")
async def export_matches(db=Depends(session), who: Principal = Depends(allow(Role.PROVINCE_BUREAU)),
                         cipher: FieldCipher = Depends(fields)):
    await _exported(db, who, "matches", "in_force", "exported")

    async def lines():
        yield export.header()
        await snapshots.consistent(db)  # the parts and amendments of one moment
        async for part in amended.each_part(db, amended.TEXTS, cipher):
            for canonical in part.sort("student_key")["canonical"]:
                yield export.line(canonical)

    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="matches.csv"'})


REVIEWERS = allow(Role.PROVINCE_BUREAU)  # accepting a typo'd ID number is a business decision
CANDIDATE_COLUMNS = ("department", "row", "raw_id_number", "candidate_id_number", "score", "reason")


@matches_router.get("/candidates.csv", summary="Typo'd ID numbers awaiting review, as CSV (疑似录入错误)")
async def candidates_csv(status: str = "pending", db=Depends(session), who: Principal = Depends(REVIEWERS),
                         cipher: FieldCipher = Depends(fields)) -> Response:
    rc = tables.review_candidates.c
    await _exported(db, who, "review_candidates", status, "exported")
    rows = await db.execute(select(rc.batch_id, *[rc[c] for c in CANDIDATE_COLUMNS]).where(rc.status == status)
                            .order_by(rc.department, rc.batch_id, rc.row))
    shown = (candidates.opened(dict(r._mapping), cipher) for r in rows)
    text = export.header_of(CANDIDATE_COLUMNS) + "".join(
        export.csv_line([str(c[k]) for k in CANDIDATE_COLUMNS]) for c in shown)
    return Response(text, media_type="text/csv; charset=utf-8")


@matches_router.get("/candidates", summary="Typo'd ID numbers awaiting review (疑似录入错误)")
async def list_candidates(status: str = "pending", db=Depends(session), who: Principal = Depends(REVIEWERS),
                          cipher: FieldCipher = Depends(fields)) -> dict:
    rc = tables.review_candidates.c
    rows = await db.execute(select(tables.review_candidates).where(rc.status == status).order_by(rc.candidate_id))
    shown = (candidates.opened({k: v for k, v in r._mapping.items() if k != "record"}, cipher) for r in rows)
    return {"items": list(shown)}


@matches_router.post("/candidates/{candidate_id}/{decision}", summary="Accept or reject a review candidate")
async def decide_candidate(candidate_id: RowNumber, decision: Literal["accept", "reject"], request: Request,
                           db=Depends(session), who: Principal = Depends(REVIEWERS)) -> dict:
    settings: Settings = request.app.state.settings
    try:
        async with db.begin():
            result = await candidates.decide(db, candidate_id, accept=decision == "accept", actor=who.subject,
                                             secret=settings.pseudonym_secret, policy=settings.policy(),
                                             fields=settings.field_cipher())
            await log(db, "review_candidate", str(candidate_id), decision, who, {})
            return result
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except candidates.CandidateRefused as exc:
        raise HTTPException(409, str(exc)) from None


def create(settings: Settings):
    return create_app(settings, title="identity-matching 大数据比对",
                      routers=[router, matches_router, institution_routes.router, student_routes.router], outbox_table=tables.chassis.outbox)

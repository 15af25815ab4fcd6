"""Schools answer their tasks (核对): one at a time, many at once, or by uploading a CSV."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal
from aid_chassis.fields import PERSONAL, FieldCipher
from aid_chassis.uploads import CsvRow, read_csv
from aid_contracts.events import VerificationStatus
from aid_contracts.keys import student_key
from verification.domain.audit import UNSUBMITTED, check_answerable
from verification.domain.tasks import VERIFIED, Answer, VerificationRefused, check_answer, check_duplicates, corrected
from verification.service_layer.store import T, each, history, now, school_task, school_scope, set_task


async def verified_elsewhere(session: AsyncSession, key: str, task_id: str) -> bool:
    """Whether another open record of the same student is already verified."""
    return bool(await session.scalar(select(exists().where(
        T.student_key == key, T.task_id != task_id, T.open, T.status.in_(VERIFIED)))))


async def answer(session: AsyncSession, who: Principal, task_id: str, given: Answer, fields: FieldCipher) -> dict:
    """Record a school's answer; it waits for submission and the bureau's audit. A corrected name is
    kept sealed (``fields``), old and new, like the student's facts."""
    task = await school_task(session, who, task_id)
    check_answerable(task.audit_state)
    check_answer(given, open_=task.open)
    check_duplicates(given.status, verified_elsewhere=await verified_elsewhere(session, task.student_key, task_id))
    _, changed = corrected(fields.open_student(task.student, task.student_key), given.corrections)
    changed = {k: {old_new: fields.seal_text(v, task.student_key, k) if k in PERSONAL else v
                   for old_new, v in change.items()} for k, change in changed.items()}
    await set_task(session, task_id, status=given.status.value, invalid_reason=given.invalid_reason,
                   invalid_text=given.invalid_text, corrections=changed, verified_by=who.subject,
                   verified_at=now(), audit_state=UNSUBMITTED, audit_reason=None, changes={})
    await history(session, task_id, "answered", who, {
        "status": given.status.value, "invalid_reason": given.invalid_reason, "corrected": sorted(changed),
        "previous_status": task.status, "previous_audit_state": task.audit_state})
    return {"task_id": task_id, "status": given.status.value, "corrected": sorted(changed)}


async def answer_many(session: AsyncSession, who: Principal, items: list[tuple[str, Answer]],
                      fields: FieldCipher) -> dict:
    """Many answers at once; each is accepted or refused on its own (per-item result)."""
    return await each(session, items, lambda item: answer(session, who, item[0], item[1], fields),
                      lambda item: {"task_id": item[0]})


# --- CSV upload (FAQ Q3 asked for bulk) ---------------------------------------------------------

STATUS_WORDS = {"已核对未更新数据": "verified_unchanged", "已核对更新了部分数据": "verified_updated", "无效数据": "invalid"}
HEADERS = {"任务编号": "task_id", "身份证号": "id_number", "核对结果": "status", "无效原因": "invalid_reason",
           "说明": "invalid_text", "姓名": "name", "学段": "stage", "学籍所在地": "enrolment_region",
           "户籍所在地": "household_region"}
CORRECTION_COLUMNS = ("name", "stage", "enrolment_region", "household_region")


def _answer_of(fields: dict[str, str]) -> Answer:
    raw = fields.get("status", "")
    status = STATUS_WORDS.get(raw, raw)
    if status not in {s.value for s in VerificationStatus}:
        raise VerificationRefused("unknown_status", f"核对结果 {raw!r} 不在代码表中 (status must be verified_unchanged, "
                                                    "verified_updated or invalid, or their Chinese names)")
    corrections = {c: fields[c] for c in CORRECTION_COLUMNS if fields.get(c)}
    return Answer(VerificationStatus(status), fields.get("invalid_reason") or None, fields.get("invalid_text") or None,
                  corrections)


async def _task_id_of(session: AsyncSession, who: Principal, fields: dict[str, str], secret: bytes) -> str:
    if fields.get("task_id"):
        return fields["task_id"]
    if not fields.get("id_number"):
        raise VerificationRefused("missing_field", "须填写任务编号或身份证号 (task_id or id_number is required)")
    found = await session.scalar(select(T.task_id).where(
        T.student_key == student_key(fields["id_number"], secret), school_scope(who)))
    if found is None:
        raise LookupError("本校没有该身份证号的核对任务 (no task for this ID number at your school)")
    return found


async def answer_csv(session: AsyncSession, who: Principal, content: bytes, secret: bytes,
                     fields: FieldCipher) -> dict:
    """Answers from a CSV; each row's result names its row number."""
    async def apply(row: CsvRow) -> dict:
        return await answer(session, who, await _task_id_of(session, who, row.fields, secret), _answer_of(row.fields),
                            fields)

    rows = read_csv(content, HEADERS, needs=[{"status"}, {"task_id", "id_number"}])
    return await each(session, rows, apply, lambda row: {"row": row.row})

"""Supplementary records (补录) with their proof, and the repeated-student check (重复学生核查)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.auth import Principal
from aid_chassis.fields import FieldCipher
from aid_contracts.keys import student_key
from aid_chassis.audit import new_id
from verification.adapters import tables
from verification.domain.audit import APPROVED, resolves
from verification.domain.proofs import check_proof
from verification.domain.supplements import Supplement, checked
from verification.domain.tasks import VerificationRefused
from verification.service_layer.distribution import refresh_repeated, tasks_of
from verification.service_layer.store import history, now, set_task

DEPARTMENT = "school_supplement"  # the source of a category a school supplied


async def supplement(session: AsyncSession, who: Principal, given: Supplement, proof: bytes, *,
                     secret: bytes, fields: FieldCipher, today: date) -> dict:
    """Add a student the comparison missed, with a JPG proof; it is verified by the school itself
    and waits for submission like any answer (the ID number and name sealed by ``fields``, as the
    comparison's events carry them). The same ID at another school opens a repeated-student check."""
    if who.stage and given.stage.value != who.stage:
        raise VerificationRefused("wrong_stage", f"本账号只管理 {who.stage} 学段 (this account is for stage {who.stage})")
    s = checked(given, today=today)
    sha256 = check_proof(proof)
    key = student_key(s.id_number, secret)
    if any(t.school_code == who.school_code for t in await tasks_of(session, key)):
        raise VerificationRefused("already_listed", "该学生已在本校名单中，请直接核对 (the student is already in your list: verify that record)")
    task_id, proof_id = new_id("S"), new_id("P")
    student = fields.seal_student({"id_number": s.id_number, "name": s.name, "school_code": who.school_code,
                                   "stage": s.stage.value, "enrolment_region": s.enrolment_region,
                                   "household_region": s.household_region}, key)
    category = {"category": s.category.value, "department": DEPARTMENT,
                "poverty_status": s.poverty_status.value if s.poverty_status else None, "exit_year": s.exit_year}
    await session.execute(insert(tables.proofs).values(proof_id=proof_id, task_id=task_id, sha256=sha256,
                                                       size=len(proof), content=proof, uploaded_by=who.subject))
    await session.execute(insert(tables.tasks).values(
        task_id=task_id, student_key=key, school_code=who.school_code, origin="supplementary", match_id=task_id,
        match_revision=1, batch_id="supplementary", stage=s.stage.value, enrolment_region=s.enrolment_region,
        household_region=s.household_region, student=student, categories=[category], status="verified_unchanged",
        open=True, verified_by=who.subject, verified_at=now(),
        supplement={"reason": s.reason, "proof_id": proof_id, "sha256": sha256}))
    await history(session, task_id, "supplemented", who, {"category": s.category.value, "proof_sha256": sha256})
    await refresh_repeated(session, key)
    return {"task_id": task_id, "proof_sha256": sha256}


async def proof_of(session: AsyncSession, who: Principal, task_id: str):
    """A supplement's proof, for its own school or the bureau auditing it (enrolment jurisdiction)."""
    row = (await session.execute(select(tables.tasks.c.school_code, tables.tasks.c.stage,
                                        tables.tasks.c.enrolment_region, tables.proofs)
                                 .join(tables.proofs, tables.proofs.c.task_id == tables.tasks.c.task_id)
                                 .where(tables.tasks.c.task_id == task_id)
                                 .order_by(tables.proofs.c.uploaded_at.desc()).limit(1))).first()
    own = row is not None and who.school_code == row.school_code and who.stage in (None, row.stage)
    if row is None or not (own if who.school_code else who.covers_region(row.enrolment_region)):
        raise LookupError(f"没有这个证明材料 (no proof for task {task_id} that you may see)")
    return row


async def resolve_repeated(session: AsyncSession, who: Principal, key: str, keep_task_id: str) -> dict:
    """The bureau keeps one school's record of a repeated student; the others become invalid (duplicate)."""
    check = (await session.execute(select(tables.repeated_checks).where(
        tables.repeated_checks.c.student_key == key).with_for_update())).first()
    open_tasks = [t for t in await tasks_of(session, key) if t.open]
    if check is None or not resolves(who, {t.enrolment_region for t in open_tasks}):
        raise LookupError("辖区内没有这条重复学生核查 (no repeated-student check for your jurisdiction)")
    if keep_task_id not in {t.task_id for t in open_tasks}:
        raise VerificationRefused("unknown_task", f"{keep_task_id} 不是该学生的有效记录 (not an open record of this student)")
    for task in open_tasks:
        if task.task_id != keep_task_id:
            await set_task(session, task.task_id, status="invalid", invalid_reason="duplicate",
                           invalid_text=f"重复学生核查保留 {keep_task_id}", corrections={}, verified_by=who.subject,
                           verified_at=now(), audit_state=APPROVED, audited_by=who.subject, audited_at=now())
            await history(session, task.task_id, "duplicate_resolved", who, {"kept": keep_task_id})
    await session.execute(tables.repeated_checks.update().where(tables.repeated_checks.c.student_key == key).values(
        state="resolved", kept_task_id=keep_task_id, resolved_by=who.subject, resolved_at=now()))
    return {"student_key": key, "kept_task_id": keep_task_id, "invalidated": len(open_tasks) - 1}

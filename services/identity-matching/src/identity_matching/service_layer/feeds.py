"""Department lists pushed on Kafka (部门数据推送): stage the records, import when the batch closes.

Records and the closing ``list-imported`` travel on different topics, so either may arrive
first; a batch is imported once it is closed and every announced record has arrived. The
import is the same pipeline as a file upload; a rejected record is named by its row in the batch,
a staged record's fields are kept sealed (``personal.seal_record``) until the import,
and it enters the chained audit log as the pushing system's (the event's source) write.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts import DepartmentRecord, Envelope, ListImported
from identity_matching.adapters import tables
from identity_matching.domain import files, records
from identity_matching.service_layer import imports, personal
from identity_matching.service_layer.trail import log

SELF = "identity-matching"


async def on_record(session: AsyncSession, env: Envelope, *, by: imports.Importer, departments: list[str]) -> None:
    record: DepartmentRecord = env.parse(DepartmentRecord)
    _known(record.department, departments)
    await _open(session, record.batch_id, record.department)
    await session.execute(pg_insert(tables.feed_records).values(
        batch_id=record.batch_id, row=record.row,
        fields=personal.seal_record(record.fields, record.batch_id, record.row, by.fields)).on_conflict_do_nothing())
    await _complete_if_ready(session, record.batch_id, by, env.source)


async def on_list_imported(session: AsyncSession, env: Envelope, *, by: imports.Importer,
                           departments: list[str]) -> None:
    """A department closing its batch; this service's own list-imported events are ignored."""
    if env.source == SELF:
        return
    closed: ListImported = env.parse(ListImported)
    _known(closed.department or "", departments)
    await _open(session, closed.batch_id, closed.department or "")
    await session.execute(update(tables.feed_batches).where(tables.feed_batches.c.batch_id == closed.batch_id)
                          .values(expected=closed.read))
    await _complete_if_ready(session, closed.batch_id, by, env.source)


def _known(department: str, departments: list[str]) -> None:
    if department not in departments:
        raise imports.UnknownDepartment(f"未知部门 (unknown department): {department}")


async def _open(session: AsyncSession, batch_id: str, department: str) -> None:
    await session.execute(pg_insert(tables.feed_batches).values(batch_id=batch_id, department=department)
                          .on_conflict_do_nothing())


async def _complete_if_ready(session: AsyncSession, batch_id: str, by: imports.Importer, source: str) -> None:
    """Import the batch once it is closed and complete (``source``: the system whose event completed it)."""
    b, r = tables.feed_batches.c, tables.feed_records.c
    batch = (await session.execute(select(tables.feed_batches).where(b.batch_id == batch_id)
                                   .with_for_update())).one()
    if batch.expected is None or batch.completed_as is not None:
        return
    arrived = await session.scalar(select(func.count()).where(r.batch_id == batch_id))
    if arrived < batch.expected:
        return
    staged = (await session.execute(select(r.row, r.fields).where(r.batch_id == batch_id).order_by(r.row))).all()
    rows = [{records.canonical_header(k): v for k, v in personal.open_record(fields, batch_id, row, by.fields).items()}
            for row, fields in staged]
    frame = files.rows_frame(list(dict.fromkeys(k for row in rows for k in row)), rows,
                             numbers=[number for number, _ in staged])
    report = await imports.import_department_rows(session, department=batch.department, frame=frame,
                                                  file_name=f"kafka:{batch_id}", by=by)
    await session.execute(update(tables.feed_batches).where(b.batch_id == batch_id)
                          .values(completed_as=report.batch_id, updated_at=func.now()))
    await session.execute(delete(tables.feed_records).where(r.batch_id == batch_id))
    await log(session, "import_batch", report.batch_id, "list_pushed", f"feed:{source}"[:100],
              {"department": batch.department, "feed_batch": batch_id, **report.counts()})

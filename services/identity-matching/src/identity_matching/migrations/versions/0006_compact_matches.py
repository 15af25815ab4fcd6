"""Store each match as its canonical text instead of a JSONB document (a third of the write cost).

Revision ID: 0006
Revises: 0005
"""
import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

FIELD, ITEM, ENTRY = "\x1f", "\x1e", "\x1d"
STUDENT = ("id_number", "name", "school_code", "stage", "enrolment_region", "household_region")
CATEGORY = ("category", "department", "poverty_status", "exit_year")


def _canonical(doc: dict) -> str:
    """``MatchFacts.canonical_text()`` of a stored document (as of revision 0005)."""
    entries = ITEM.join(ENTRY.join("" if c.get(k) is None else str(c[k]) for k in CATEGORY) for c in doc["categories"])
    return FIELD.join([*(doc["student"][k] for k in STUDENT), "1" if doc["name_mismatch"] else "0",
                       ITEM.join(doc.get("other_school_codes", [])), ITEM.join(doc.get("source_batches", [])), entries])


def _document(text: str) -> dict:
    *student, mismatch, others, batches, entries = text.split(FIELD)
    categories = [dict(zip(CATEGORY, e.split(ENTRY), strict=True)) for e in entries.split(ITEM)]
    for c in categories:
        c["poverty_status"] = c["poverty_status"] or None
        c["exit_year"] = int(c["exit_year"]) if c["exit_year"] else None
    others = others.split(ITEM) if others else []
    return {"student": dict(zip(STUDENT, student, strict=True)), "categories": categories,
            "name_mismatch": mismatch == "1", "other_school_codes": others,
            "review": ["repeated_student"] if others else [], "source_batches": batches.split(ITEM) if batches else []}


def upgrade() -> None:
    op.add_column("matches", sa.Column("canonical", sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT student_key, facts::text FROM matches WHERE facts IS NOT NULL")).all()
    for key, facts in rows:
        bind.execute(sa.text("UPDATE matches SET canonical = :c WHERE student_key = :k"),
                     {"c": _canonical(json.loads(facts)), "k": key})
    op.drop_column("matches", "facts")


def downgrade() -> None:
    op.add_column("matches", sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT student_key, canonical FROM matches WHERE canonical IS NOT NULL")).all()
    for key, text in rows:
        bind.execute(sa.text("UPDATE matches SET facts = CAST(:f AS jsonb) WHERE student_key = :k"),
                     {"f": json.dumps(_document(text), ensure_ascii=False), "k": key})
    op.drop_column("matches", "canonical")

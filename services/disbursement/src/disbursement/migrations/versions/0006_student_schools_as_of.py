"""whose student, as of when: a late, older approval or list no longer moves the right to register
a card back to a school the student has left.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("student_schools", sa.Column("as_of", sa.DateTime(timezone=True)))
    op.execute("UPDATE student_schools SET as_of = updated_at")
    op.alter_column("student_schools", "as_of", nullable=False)


def downgrade() -> None:
    op.drop_column("student_schools", "as_of")

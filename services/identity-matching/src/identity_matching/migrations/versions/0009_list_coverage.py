"""each list's coverage (名单覆盖) kept between rounds, with the number of the comparison it was
counted at: a round moves it by what it compared instead of counting the whole list again.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.SmallInteger(), primary_key=True, server_default=sa.text("1")),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_comparisons_one_row"),
    )
    op.execute("INSERT INTO comparisons (id, last) VALUES (1, 0)")
    op.create_table(
        "list_coverage",
        sa.Column("department", sa.String(40), primary_key=True),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("comparison", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("list_coverage")
    op.drop_table("comparisons")

"""matches.match_id without its unique index: new ids are unique by construction (the comparison's
number is part of each, ``domain.bulk_match.match_ids``), and no query looks a match up by its id;
the index cost a province's first round 0.6–1.4 s of its ``COPY``.

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("matches_match_id_key", "matches", type_="unique")


def downgrade() -> None:
    op.create_unique_constraint("matches_match_id_key", "matches", ["match_id"])

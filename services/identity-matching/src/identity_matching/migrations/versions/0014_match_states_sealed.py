"""The matches' states (id, revision, fingerprint, active, school) are kept as sealed parts
(``service_layer/amended.py``, kind ``match_states``) from the first comparison on this revision;
``matches`` keeps only the rows written before, until that comparison moves and deletes them.
Nothing changes in the schema: the revision exists so that going back to code that reads the
states from ``matches`` is refused once they have moved (that code would take every match for a
new one and lose the withdrawn ones' revisions).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the first comparison moves the rows (``amended._fold``)


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM sealed_snapshots WHERE kind = 'match_states'")).scalar():
        raise RuntimeError("the matches' states are sealed parts now and their rows in matches are gone: downgrading "
                           "past 0014 would make every match look new; restore a backup instead")

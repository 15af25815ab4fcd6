"""reporting's state: one progress row per student, aggregated on request.

Live changelog-backed aggregates (faust tables) replace the on-request GROUP BY at
province scale in the reporting issue.
"""

from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, String, Table

from aid_chassis.tables import ChassisTables

metadata = MetaData()
chassis = ChassisTables(metadata)

progress = Table(
    "student_progress", metadata,
    Column("student_key", String(64), primary_key=True),
    Column("enrolment_region", String(6), nullable=False, index=True),
    Column("household_region", String(6), nullable=False, index=True),
    Column("stage", String(20), nullable=False),
    Column("match_revision", Integer, nullable=False),
    Column("matched", Boolean, nullable=False),
    Column("verification", String(30), nullable=False),
    Column("published", Boolean, nullable=False),
    Column("paid_count", Integer, nullable=False),
    Column("paid_fen", BigInteger, nullable=False),
)

"""Fixtures of identity-matching's integration tests: a migrated database, with or without a roster."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from identity_matching.domain.matching import EligibilityPolicy
from identity_matching.service_layer import imports
from tests.factories import FIELDS, id_number

BY = imports.Importer(actor="t", secret=b"test-pseudonym-secret", policy=EligibilityPolicy(year=2026), fields=FIELDS)
ROSTER = "身份证号,姓名,学校代码,学段,学籍所在地,户籍所在地\n" + "".join(
    f"{id_number(i)},学生{i},5201020001,小学,520102,520102\n" for i in range(1, 4))


@pytest.fixture
async def sessions(migrate, engine_for):
    """Sessions on a freshly migrated identity-matching database."""
    return async_sessionmaker(engine_for(migrate("identity_matching")), expire_on_commit=False)


@pytest.fixture
async def with_roster(sessions):
    """The same, with three students of school 5201020001 on the roster."""
    async with sessions() as s, s.begin():
        await imports.import_roster(s, content=ROSTER.encode(), file_name="r.csv", by=BY)
    return sessions

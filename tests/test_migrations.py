"""Each service's migrations produce exactly the tables its code declares."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

PACKAGES = ["identity_matching", "verification", "publicity", "disbursement", "query", "reporting"]


@pytest.mark.parametrize("package", PACKAGES)
def test_migrations_match_the_models(package, migrate):
    url = migrate(package)
    metadata = importlib.import_module(f"{package}.adapters.tables").metadata
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []

"""Each service's migrations produce exactly the tables its code declares."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from aid_chassis import migrations


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


def test_pods_migrating_at_once_take_turns(fresh_database):
    """Three processes upgrade one empty database at the same moment (pods starting together)."""
    code = "import sys; from aid_chassis.migrations import upgrade; upgrade('verification:migrations', sys.argv[1])"
    pods = [subprocess.Popen([sys.executable, "-c", code, fresh_database], stderr=subprocess.PIPE) for _ in range(3)]
    for pod in pods:
        _, err = pod.communicate(timeout=120)
        assert pod.returncode == 0, err.decode()[-2000:]  # none failed on a table another had just created
    engine = create_engine(fresh_database)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_a_migration_waiting_for_a_table_lock_gives_up_and_changes_nothing(fresh_database, monkeypatch):
    """A long read holds query's ``students`` table: migration 0008 (``ALTER TABLE``) waits no
    longer than ``LOCK_TIMEOUT`` instead of holding up every later query of the table behind it,
    applies nothing, and goes through once the read has ended."""
    monkeypatch.setattr(migrations, "LOCK_TIMEOUT", "300ms")
    migrations.upgrade("query:migrations", fresh_database, "0007")
    engine = create_engine(fresh_database)
    try:
        with engine.connect() as reader:
            reader.execute(text("SELECT count(*) FROM students"))  # its transaction stays open: the lock is held
            with pytest.raises(migrations.MigrationLockTimeout, match="300ms"):
                migrations.upgrade("query:migrations", fresh_database)
            with engine.connect() as other:
                assert other.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
        migrations.upgrade("query:migrations", fresh_database)
        with engine.connect() as conn:
            head = ScriptDirectory.from_config(migrations.alembic_config("query:migrations", fresh_database))
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head.get_current_head()
    finally:
        engine.dispose()

"""Each service's migrations produce exactly the tables its code declares."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from aid_chassis import migrations
from aid_chassis.cli import service_main
from aid_local.postgres import create_collated


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
    assert _scalar(fresh_database, "SELECT count(*) FROM alembic_version") == 1


@pytest.mark.timeout(60)  # without the lock timeout the upgrade would wait for the read for ever
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
            with pytest.raises(migrations.MigrationLockTimeout, match="300ms.*ALTER TABLE students"):
                migrations.upgrade("query:migrations", fresh_database)
            assert _scalar(fresh_database, "SELECT version_num FROM alembic_version") == "0007"
    finally:
        engine.dispose()
    migrations.upgrade("query:migrations", fresh_database)
    head = ScriptDirectory.from_config(migrations.alembic_config("query:migrations", fresh_database))
    assert _scalar(fresh_database, "SELECT version_num FROM alembic_version") == head.get_current_head()


@pytest.mark.timeout(60)
def test_a_pod_waits_its_turn_for_as_long_as_another_migrates(fresh_database, monkeypatch):
    """The lock timeout starts only once the pods' turn is taken: a pod whose turn comes after the
    other pod's migration (here: a second longer than the timeout) still migrates."""
    monkeypatch.setattr(migrations, "LOCK_TIMEOUT", "300ms")
    with psycopg.connect(fresh_database.replace("postgresql+psycopg://", "postgresql://", 1)) as other:
        other.execute(migrations.TAKE_TURN)  # another pod's turn
        ends = threading.Timer(1.3, other.rollback)
        ends.start()
        migrations.upgrade("verification:migrations", fresh_database)
        ends.join()
    assert _scalar(fresh_database, "SELECT count(*) FROM alembic_version") == 1


def test_migrate_says_why_it_gave_up_and_exits_1(monkeypatch, capsys):
    def gives_up(*_):
        raise migrations.MigrationLockTimeout("数据库迁移等待锁超过 10s (…)")

    monkeypatch.setattr(migrations, "upgrade", gives_up)
    settings = type("Settings", (), {"database_url": "postgresql+psycopg://unused/db"})
    assert service_main("query", settings, app_factory=None, build_loops=None, argv=["migrate"]) == 1
    assert "数据库迁移等待锁超过" in capsys.readouterr().err


@pytest.mark.parametrize(("settings", "warned"), [
    ({"datlocprovider": "c", "datcollate": "C"}, False),
    ({"datlocprovider": "c", "datcollate": "POSIX"}, False),
    ({"datlocprovider": "b", "datcollate": "C", "datlocale": "C.UTF-8"}, False),  # builtin: code points
    ({"datcollate": "C"}, False),  # a server before 15: no provider column, libc
    ({"datlocprovider": "c", "datcollate": "zh_CN.UTF-8"}, True),
    ({"datlocprovider": "c", "datcollate": "C.utf8"}, True),  # libc's C.UTF-8 still goes through strcoll
    ({"datlocprovider": "i", "datcollate": "C", "datlocale": "zh-CN"}, True),  # ICU whatever datcollate says
])
def test_collation_advice_only_for_a_language_order(settings, warned):
    advice = migrations.collation_advice("query", settings)
    assert (advice is not None) == warned
    if warned:
        shown = settings.get("datlocale") or settings["datcollate"]
        assert f"({shown})" in advice and "LC_COLLATE 'C'" in advice and "query" in advice


@pytest.mark.parametrize(("locale", "advised"), [("C", False), ("C.utf8", True)])
def test_migrating_a_database_that_compares_by_a_locale_says_so(platform, caplog, locale, advised):
    """A database made in byte order gets no advice; one made with a libc locale's order (``C.utf8``,
    which glibc has) gets it, once, when it is migrated — whatever the test server's own default."""
    caplog.set_level(logging.WARNING, logger="aid_chassis.migrations")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = platform.server_url() + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not create_collated(conn, name, locale):
            pytest.skip(f"this machine's C library has no {locale} locale to make such a database with")
    try:
        migrations.upgrade("query:migrations", f"{platform.server_url()}/{name}".replace(
            "postgresql://", "postgresql+psycopg://", 1), "0001")
        advice = [r.getMessage() for r in caplog.records if "LC_COLLATE" in r.getMessage()]
        assert len(advice) == (1 if advised else 0), advice
        assert not advised or f"database {name} compares text by the rules of {locale}" in advice[0]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_compose_deployment_makes_databases_that_compare_bytes(platform):
    """``deploy/compose/init-databases.sh``'s statements, run on the test server for one database:
    they are valid, and the database they make needs no advice."""
    script = (Path(__file__).resolve().parents[1] / "deploy/compose/init-databases.sh").read_text()
    sql = script.split("<<SQL\n", 1)[1].split("\nSQL\n", 1)[0]
    name = f"t_{uuid.uuid4().hex[:12]}"
    statements = [s for s in sql.replace("$AID_DB_PASSWORD", uuid.uuid4().hex).replace("$db", name).split(";\n")
                  if s.strip()]
    assert any(s.startswith("CREATE DATABASE") for s in statements), sql
    with psycopg.connect(platform.server_url() + "/postgres", autocommit=True) as conn:
        try:
            for statement in statements:
                conn.execute(statement)
            row = conn.execute("SELECT to_jsonb(d) FROM pg_database d WHERE datname = %s", (name,)).fetchone()[0]
            assert migrations.collation_advice(name, row) is None, row
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def _scalar(url: str, sql: str):
    """One value, read on a connection of its own."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()

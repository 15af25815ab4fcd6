"""The local PostgreSQL server: unprivileged, loopback only, data kept across restarts."""

from __future__ import annotations

import os

import psycopg
import pytest

from aid_local.postgres import PostgresError, PostgresServer, extra_settings
from conftest import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pg = PostgresServer(tmp_path_factory.mktemp("pg-state"), port=free_port())
    pg.start()
    yield pg
    pg.stop()


def test_databases_are_separate_and_survive_a_restart(server):
    server.ensure_database("svc_a")
    server.ensure_database("svc_b")
    server.ensure_database("svc_a")  # a second time is a no-op
    with psycopg.connect(server.libpq_dsn("svc_a"), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    with psycopg.connect(server.libpq_dsn("svc_b")) as conn:
        assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)
    server.stop()
    assert not server.is_running()
    server.start()
    server.start()  # already running: nothing happens
    with psycopg.connect(server.libpq_dsn("svc_a")) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)


def test_server_runs_unprivileged_and_on_loopback(server):
    with psycopg.connect(server.libpq_dsn("postgres")) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    assert os.stat(data_dir).st_uid != 0 or os.geteuid() != 0


@pytest.mark.parametrize("name", ["Bad-Name", "x; DROP DATABASE postgres", ""])
def test_bad_database_names_are_refused(server, name):
    with pytest.raises(ValueError, match="not a database name"):
        server.ensure_database(name)


def test_extra_settings_reach_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("AID_POSTGRES_SETTINGS", "work_mem=7MB; application_name=aid-probe;")
    pg = PostgresServer(tmp_path, port=free_port())
    pg.start()
    try:
        with psycopg.connect(pg.libpq_dsn("postgres")) as conn:
            assert conn.execute("SHOW work_mem").fetchone() == ("7MB",)
            assert conn.execute("SHOW application_name").fetchone() == ("aid-probe",)
    finally:
        pg.stop()


@pytest.mark.parametrize("text", ["work_mem=1MB $(touch /tmp/x)", "work_mem", "Work-Mem=1MB", "a='b'"])
def test_extra_settings_a_shell_could_misread_are_refused(text):
    with pytest.raises(PostgresError, match="not name=value"):
        extra_settings(text)


@pytest.mark.parametrize("text", ["listen_addresses=0.0.0.0", "work_mem=4MB;port=5432", "archive_command=/bin/true"])
def test_extra_settings_the_server_decides_itself_are_refused(text):
    with pytest.raises(PostgresError, match="the local server's own to set"):
        extra_settings(text)

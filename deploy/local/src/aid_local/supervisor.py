"""Starts, watches and stops the services' processes (one API and one worker per service).

Processes run detached, so ``aidctl up`` may exit and leave them running; each has a pid
file under ``<state>/run`` and a log under ``<state>/logs``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

from aid_local.platform import CONSOLE, PROCESSES, ROLES, SERVICES, Platform, Service


class ProcessFailed(RuntimeError):
    pass


class Supervisor:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def _pid_file(self, service: Service, role: str) -> Path:
        return self.platform.run_dir / f"{service.name}-{role}.pid"

    def log_file(self, service: Service, role: str) -> Path:
        return self.platform.log_dir / f"{service.name}-{role}.log"

    def pid(self, service: Service, role: str) -> int | None:
        """The pid of a live process of this service and role, else None."""
        try:
            pid = int(self._pid_file(service, role).read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if service.package.encode() in cmdline and _alive(pid) else None

    def start(self, service: Service, role: str) -> int:
        if (pid := self.pid(service, role)) is not None:
            return pid
        for d in (self.platform.run_dir, self.platform.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        with self.log_file(service, role).open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", service.package, role], env=self.platform.env_for(service),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._pid_file(service, role).write_text(str(proc.pid))
        return proc.pid

    def signal(self, service: Service, role: str, sig: int) -> bool:
        pid = self.pid(service, role)
        if pid is None:
            return False
        os.kill(pid, sig)
        return True

    def stop(self, service: Service, role: str, timeout: float = 20) -> None:
        pid = self.pid(service, role)
        if pid is None:
            return
        _signal_group(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            _signal_group(pid, signal.SIGKILL)
            _wait_gone(pid, 5)
        self._pid_file(service, role).unlink(missing_ok=True)

    def kill(self, service: Service, role: str) -> None:
        """SIGKILL, as a crash would: no clean shutdown."""
        pid = self.pid(service, role)
        if pid is not None:
            _signal_group(pid, signal.SIGKILL)
            _wait_gone(pid, 10)

    def migrate(self, services: Iterable[Service] = SERVICES) -> None:
        """Upgrade every service's database, in parallel processes."""
        procs = {s: subprocess.Popen([sys.executable, "-m", s.package, "migrate"], env=self.platform.service_env(s),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for s in services}
        for service, proc in procs.items():
            out, _ = proc.communicate(timeout=300)
            if proc.returncode != 0:
                raise ProcessFailed(f"migrating {service.name} failed:\n{out.decode(errors='replace')[-3000:]}")

    def start_all(self) -> None:
        ports = [*((s, p) for s in SERVICES for p in (self.platform.port(s), self.platform.metrics_port(s))),
                 (CONSOLE, self.platform.port(CONSOLE))]
        busy = [p for s, p in ports if self.pid(s, "api") is None and _port_in_use(p)]
        if busy:
            raise ProcessFailed(f"ports already in use by other processes: {busy} (an earlier run still going? "
                                "`aidctl down`, or set AID_HTTP_BASE)")
        for service, role in PROCESSES:
            self.start(service, role)

    def stop_all(self) -> None:
        for service, role in PROCESSES:
            self.stop(service, role)

    def wait_ready(self, services: Iterable[Service] = (*SERVICES, CONSOLE), timeout: float = 90) -> None:
        """Wait until every API answers ``/readyz`` and every process is alive."""
        deadline = time.monotonic() + timeout
        pending = list(services)
        while pending:
            pending = [s for s in pending if not self._ready(s)]
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise ProcessFailed(f"not ready after {timeout:.0f}s: {names} (see {self.platform.log_dir})")
            time.sleep(0.3)

    def _ready(self, service: Service) -> bool:
        for role in (("api",) if service is CONSOLE else ROLES):
            if self.pid(service, role) is None:
                tail = _tail(self.log_file(service, role))
                raise ProcessFailed(f"{service.name} {role} is not running; its log ends:\n{tail}")
        try:
            return httpx.get(self.platform.url(service) + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def is_ready(self, service: Service) -> bool:
        try:
            return self._ready(service)
        except ProcessFailed:
            return False

    def restart_dead(self) -> list[str]:
        """Start again any process that died; returns their names."""
        restarted = []
        for service, role in PROCESSES:
            if self.pid(service, role) is None:
                self.start(service, role)
                restarted.append(f"{service.name}-{role}")
        return restarted


def _signal_group(pid: int, sig: int) -> None:
    """Signal the process and every process it started (each service runs in its own session, so
    an API with several uvicorn workers stops whole, and a crash takes its workers with it)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:  # not a group leader we own: the process alone
        os.kill(pid, sig)


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"

"""A real single-node Apache Kafka broker (KRaft, broker + controller) from Kafka's own jars.

The jars are fetched once with Maven (``deploy/local/kafka/pom.xml``) into a cache; the
broker runs detached, listening on 127.0.0.1 only, with its data, config and pid file under
``<state>/kafka`` and its log in ``<state>/logs/kafka.log``.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"
MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
# A fixed heap, touched at start (-Xms as -Xmx, as in the tuning Kafka's operations docs show): one that
# grew from 256 MB toward its maximum made the broker's memory climb ~10-15% over a load's first
# minutes (bench/load.py), which read as a leak. The 512 MB are resident from the start instead (a
# third less than the old ceiling of 768 MB: bench/read_side.py's broker used no more CPU with it).
HEAP = ("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch")


class KafkaError(RuntimeError):
    pass


def kafka_version(pom: Path = POM) -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom.read_text())
    if not match:
        raise KafkaError(f"no kafka.version in {pom}")
    return match.group(1)


def ensure_kafka_jars(cache_dir: Path, pom: Path = POM) -> Path:
    """The directory of the broker's jars, fetched with Maven on first use."""
    libs = cache_dir / f"kafka-{kafka_version(pom)}" / "libs"
    marker = libs.parent / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise KafkaError("Maven (mvn) is needed to fetch Kafka's jars; install it (Debian: apt-get install maven)")
    shutil.rmtree(libs, ignore_errors=True)
    cmd = ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
           f"-DoutputDirectory={libs}", "-DincludeScope=runtime"]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise KafkaError(f"fetching Kafka with Maven failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    marker.write_text(kafka_version(pom))
    return libs


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java:
        raise KafkaError("Java 17+ is needed to run Kafka; install a JDK (Debian: apt-get install default-jdk-headless)")
    return java


LOG4J2 = """Configuration:
  status: warn
  Appenders:
    Console:
      name: out
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: warn
      AppenderRef: [{ref: out}]
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: info
      - name: kafka.server.BrokerServer
        level: info
"""


class KafkaBroker:
    """One broker+controller node. ``start`` is a no-op while it runs; data survives restarts."""

    def __init__(self, state_dir: Path, port: int = 19092, controller_port: int = 19093,
                 cache_dir: Path | None = None) -> None:
        self.home = state_dir / "kafka"
        self.log_file = state_dir / "logs" / "kafka.log"
        self.port = port
        self.controller_port = controller_port
        self.cache_dir = cache_dir or Path.home() / ".cache" / "aid-platform"
        self._pid_file = self.home / "kafka.pid"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if MAIN.encode() in cmdline else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def _write_config(self) -> Path:
        data = self.home / "data"
        props = {
            "process.roles": "broker,controller", "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER", "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data), "num.partitions": "3", "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1", "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0", "log.retention.hours": "-1",
        }
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.home / "log4j2.yaml").write_text(LOG4J2)
        return path

    def _format_once(self, java: str, classpath: str, config: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = _cluster_id()
        done = subprocess.run([java, "-cp", classpath, STORAGE_TOOL, "format", "-t", cluster_id, "-c", str(config)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise KafkaError(f"formatting Kafka storage failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start(self, timeout: float = 90) -> None:
        if self.is_running():
            return
        libs = ensure_kafka_jars(self.cache_dir)
        java, classpath = _java(), f"{libs}/*"
        config = self._write_config()
        self._format_once(java, classpath, config)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [java, *HEAP, "-XX:+UseG1GC", "-XX:G1HeapRegionSize=16m", "-Djava.awt.headless=true",
                 f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}", "-cp", classpath, MAIN, str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._pid_file.write_text(str(proc.pid))
        self._wait_ready(proc, timeout)

    def _wait_ready(self, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KafkaError(f"Kafka exited with {proc.returncode}; see {self.log_file}")
            if _answers(self.port):
                return
            time.sleep(0.2)
        raise KafkaError(f"Kafka did not start within {timeout:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 30) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _answers(port: int) -> bool:
    """Whether the broker answers an ApiVersions request (not just accepts the connection)."""
    request = b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x05aidctl"  # ApiVersions v0, correlation id 1
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(len(request).to_bytes(4, "big") + request)
            size = int.from_bytes(sock.recv(4), "big")
            body = sock.recv(size)
            return len(body) >= 6 and body[:4] == b"\x00\x00\x00\x01" and body[4:6] == b"\x00\x00"
    except OSError:
        return False


def _cluster_id() -> str:
    """A random cluster id as Kafka makes one (``Uuid.randomUuid``): base64url of 16 random bytes,
    never starting with "-" (the storage tool would read it as an option: one id in 64 did)."""
    while True:
        made = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not made.startswith("-"):
            return made

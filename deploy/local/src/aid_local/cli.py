"""aidctl: run and inspect the whole platform on one machine, without containers."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from aid_chassis.dev_issuer import DevIssuer
from aid_local import accounts, client, demo_data, dlq, flow, infra, lag, traces, witness
from aid_local.platform import PROCESSES, SERVICES, Platform
from aid_local.supervisor import Supervisor

app = typer.Typer(help="Run the precision student-aid platform (精准资助) on one machine.", no_args_is_help=True)
console = Console()
STATE_ENTRIES = {"keys", "kafka", "postgres", "logs", "run", "traces", "demo-accounts.json", "notifications.jsonl"}
StateDir = Annotated[Optional[Path], typer.Option(help="State directory (default: $AID_STATE_DIR or ./.state)")]


def _platform(state_dir: Path | None) -> Platform:
    return Platform.from_env(state_dir)


@app.command()
def up(state_dir: StateDir = None,
       notice_seconds: Annotated[Optional[float], typer.Option(help="Shorten the public notice (demo only)")] = None) -> None:
    """Start Kafka, PostgreSQL and every service's processes; wait until all are ready."""
    platform = _platform(state_dir)
    if notice_seconds is not None:
        platform.extra_env["PUBLICITY_NOTICE_SECONDS"] = str(notice_seconds)
    start_platform(platform)
    console.print(f"[green]platform up[/green]; state in {platform.state_dir}")


def start_platform(platform: Platform) -> Supervisor:
    DevIssuer(platform.keys_dir)
    with console.status("starting Kafka and PostgreSQL (the first run fetches Kafka with Maven)…"):
        infra.start(platform)
    supervisor = Supervisor(platform)
    with console.status("migrating databases…"):
        supervisor.migrate()
    with console.status("starting services…"):
        supervisor.start_all()
        supervisor.wait_ready()
    return supervisor


@app.command()
def down(state_dir: StateDir = None) -> None:
    """Stop every service process, then Kafka and PostgreSQL."""
    platform = _platform(state_dir)
    Supervisor(platform).stop_all()
    infra.stop(platform)
    console.print("platform stopped")


@app.command()
def status(state_dir: StateDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every process, its health, and consumer lag per group."""
    platform = _platform(state_dir)
    supervisor = Supervisor(platform)
    rows = [{"service": s.name, "role": r, "pid": supervisor.pid(s, r), "ready": supervisor.is_ready(s)}
            for s, r in PROCESSES]
    try:
        lags = lag.by_group(asyncio.run(lag.consumer_lag(platform.bootstrap_servers)))
    except Exception as exc:  # noqa: BLE001 - the broker may be down; say so
        lags = {"error": str(exc)}
    if as_json:
        typer.echo(json.dumps({"processes": rows, "lag": lags}, ensure_ascii=False))
        return
    table = Table("service", "process", "pid", "API ready", "consumer lag")
    for row in rows:
        table.add_row(row["service"], row["role"], str(row["pid"] or "-"), "yes" if row["ready"] else "no",
                      str(lags.get(row["service"], "-")) if row["role"] == "worker" else "")
    console.print(table)


@app.command("lag")
def lag_command(state_dir: StateDir = None, as_json: Annotated[bool, typer.Option("--json")] = False,
                watch: Annotated[bool, typer.Option("--watch", help="refresh until interrupted")] = False,
                every: Annotated[float, typer.Option(help="seconds between refreshes", min=0.1)] = 2.0,
                count: Annotated[int | None, typer.Option(help="stop after this many refreshes", min=1)] = None,
                group: Annotated[Optional[list[str]], typer.Option(help="only this consumer group (repeatable)")] = None,
                ) -> None:
    """Consumer lag per group, topic and partition (from the broker's committed offsets)."""
    bootstrap = _platform(state_dir).bootstrap_servers
    shown = 0
    while True:
        rows = asyncio.run(lag.consumer_lag(bootstrap, groups=group or None))
        if as_json:
            typer.echo(json.dumps([{**r.__dict__, "lag": r.lag} for r in rows]))
        else:
            _print_lag(rows, clear=watch)
            if missing := sorted(set(group or ()) - {r.group for r in rows}):
                console.print(f"no committed offsets for {', '.join(missing)} (not a consumer group here?)")
        shown += 1
        if not watch or (count is not None and shown >= count):
            return
        time.sleep(every)


def _print_lag(rows, *, clear: bool) -> None:
    table = Table("group", "topic", "partition", "committed", "end", "lag",
                  title=f"consumer lag {time.strftime('%H:%M:%S')} (total {sum(r.lag for r in rows)})")
    for r in rows:
        table.add_row(r.group, r.topic, str(r.partition), str(r.committed), str(r.end), str(r.lag))
    if clear:
        console.clear()
    console.print(table)


@app.command()
def token(role: Annotated[str, typer.Argument(help="province_bureau, city_bureau, county_bureau, school, department, operator")],
          region: Optional[str] = None, school_code: Optional[str] = None, department: Optional[str] = None,
          subject: str = "dev-user", ttl: int = 3600, state_dir: StateDir = None) -> None:
    """Print a token from the local development issuer."""
    issuer = DevIssuer(_platform(state_dir).keys_dir)
    typer.echo(issuer.issue(subject=subject, role=role, ttl_seconds=ttl, region=region,
                            school_code=school_code, department=department))


@app.command()
def trace(trace_id: str, state_dir: StateDir = None,
          full: Annotated[bool, typer.Option(help="One line per span (by default repeated siblings fold into one line showing the first one's children)")] = False) -> None:
    """Print the span tree of one trace (ids are in the X-Trace-Id response header)."""
    lines = traces.render(traces.load_spans(_platform(state_dir).trace_dir, trace_id), full=full)
    if not lines:
        typer.echo(f"no spans of trace {trace_id} yet (spans are written within a second)", err=True)
        raise typer.Exit(1)
    typer.echo("\n".join(lines))


@app.command()
def demo(students: int = 3000, state_dir: StateDir = None) -> None:
    """Run the walking skeleton on a generated demo province against a running platform."""
    print_result(_platform(state_dir), run_demo(_platform(state_dir), students))


def run_demo(platform: Platform, students: int) -> flow.FlowResult:
    province = demo_data.generate(students)
    school_code, _ = flow.choose_school(province)
    accounts.write(platform, accounts.demo_accounts(school_code, province.schools[school_code][0]))
    with console.status(f"demo province: {students} students, lists from {len(demo_data.DEPARTMENTS)} departments…"):
        return flow.run_flow(platform, province)


def print_result(platform: Platform, result: flow.FlowResult) -> None:
    for name, report in result.import_reports.items():
        console.print(f"import {name}: read {report['read']}, accepted {report['accepted']}, "
                      f"rejected {report['rejected']}, new matches {report['matched_new']}")
    console.print(f"school {result.school_code} verified {result.verified}; list {result.list_id} published and paid")
    console.print("\n[bold]API docs[/bold]")
    for service in SERVICES:
        console.print(f"  {service.name:<18} {platform.url(service)}/docs")
    body = json.dumps(result.lookup_request, ensure_ascii=False)
    console.print("\n[bold]Public lookup (个人查询)[/bold]")
    typer.echo(f"  curl -s -X POST {platform.url(SERVICES[4])}/public/lookup -H 'content-type: application/json' -d '{body}'")
    console.print(json.dumps(result.lookup, ensure_ascii=False, indent=2, default=str))
    console.print("\n[bold]One trace[/bold] of the whole flow, through all six services:")
    typer.echo(f"  .venv/bin/aidctl trace {result.trace_id}")
    console.print(f"\n[bold]Web console (管理与查询平台)[/bold] {platform.console_url}")
    console.print(f"  sign in as (password [bold]{accounts.DEMO_PASSWORD}[/bold], local demo only):")
    for account in json.loads(platform.demo_accounts_file.read_text()) if platform.demo_accounts_file.exists() else []:
        console.print(f"    {account['username']:<11} {account['label']}")
    console.print(f"  public lookup (个人查询), no sign-in: {platform.console_url}/lookup")


@app.command()
def run(students: int = 3000, state_dir: StateDir = None,
        notice_seconds: Annotated[float, typer.Option(help="Public notice length for the demo")] = 3.0,
        keep_state: Annotated[bool, typer.Option(help="Keep the previous run's data instead of a fresh demo")] = False,
        ) -> None:
    """Start a fresh demo province, run the flow, keep running (restarting crashed processes) until Ctrl-C."""
    platform = _platform(state_dir)
    _refuse_second_supervisor(platform)
    if not keep_state:
        fresh_state(platform)
    lock = _hold_supervisor_lock(platform)  # noqa: F841 - held until this process exits
    platform.extra_env["PUBLICITY_NOTICE_SECONDS"] = str(notice_seconds)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        supervisor = start_platform(platform)
        print_result(platform, run_demo(platform, students))
        console.print("\nrunning; press Ctrl-C to stop")
        while not stop:
            for name in supervisor.restart_dead():
                console.print(f"[yellow]restarted {name}[/yellow]")
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping…")
        Supervisor(platform).stop_all()
        infra.stop(platform)


def _lock_path(platform: Platform) -> Path:
    return platform.run_dir / "aidctl-run.lock"


def _refuse_second_supervisor(platform: Platform) -> None:
    """One ``aidctl run`` per state directory: a second would fight the first over the processes."""
    path = _lock_path(platform)
    if not path.exists():
        return
    with path.open() as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise typer.BadParameter(f"another aidctl run supervises {platform.state_dir}; stop it first") from None


def _hold_supervisor_lock(platform: Platform):
    platform.run_dir.mkdir(parents=True, exist_ok=True)
    fh = _lock_path(platform).open("w")
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fh


def fresh_state(platform: Platform) -> None:
    """Stop whatever runs on this state directory and remove its data (the demo starts anew)."""
    if platform.state_dir.exists():
        unknown = {p.name for p in platform.state_dir.iterdir()} - STATE_ENTRIES
        if unknown:
            raise typer.BadParameter(f"{platform.state_dir} holds more than platform state ({', '.join(sorted(unknown))}); "
                                     "not removing it — use --keep-state or another --state-dir")
        Supervisor(platform).stop_all()
        infra.stop(platform)
        shutil.rmtree(platform.state_dir)


import_app = typer.Typer(help="Import the enrolment roster or a department's list (CSV or XLSX).", no_args_is_help=True)
matches_app = typer.Typer(help="The comparison's results (比对结果).", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(matches_app, name="matches")
FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or XLSX file")]


def _print_import(platform: Platform, path: Path, department: str | None) -> None:
    try:
        report = client.upload(platform, path, department=department, show_progress=sys.stderr.isatty())
    except client.ImportFailed as exc:
        typer.echo(f"import refused: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


@import_app.command("roster")
def import_roster(file: FileArg, state_dir: StateDir = None) -> None:
    """Import the enrolment roster (学籍名单); prints the JSON report."""
    _print_import(_platform(state_dir), file, None)


@import_app.command("list")
def import_list(file: FileArg, department: Annotated[str, typer.Option(help="poverty_office, civil_affairs, "
                "disabled_federation or trade_union")], state_dir: StateDir = None) -> None:
    """Import a department's list (部门名单); it replaces that department's previous list."""
    _print_import(_platform(state_dir), file, department)


@import_app.command("lists")
def import_lists(pairs: Annotated[list[str], typer.Argument(help="DEPARTMENT=FILE, one per department")],
                 state_dir: StateDir = None) -> None:
    """Import several departments' lists in one comparison round (一轮比对): one event per student."""
    lists: dict[str, Path] = {}
    for pair in pairs:
        department, _, name = pair.partition("=")
        path = Path(name)
        if not department or not name or not path.is_file():
            raise typer.BadParameter(f"expected DEPARTMENT=FILE with an existing file, got {pair!r}")
        if department in lists:
            raise typer.BadParameter(f"{department} is named twice")
        lists[department] = path
    try:
        report = client.upload_round(_platform(state_dir), lists)
    except client.ImportFailed as exc:
        typer.echo(f"import refused: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


@matches_app.command("export")
def matches_export(fmt: Annotated[str, typer.Option("--format", help="csv")] = "csv",
                   output: Annotated[Optional[Path], typer.Option(help="File to write (default: stdout)")] = None,
                   state_dir: StateDir = None) -> None:
    """Write every match in force as CSV (full ID numbers: keep the file safe)."""
    if fmt != "csv":
        raise typer.BadParameter("only --format csv is supported")
    _download(_platform(state_dir), "/matches/export.csv", output)


@matches_app.command("candidates")
def matches_candidates(fmt: Annotated[str, typer.Option("--format", help="csv")] = "csv",
                       output: Annotated[Optional[Path], typer.Option(help="File to write (default: stdout)")] = None,
                       state_dir: StateDir = None) -> None:
    """Typo'd ID numbers offered for review: department,row,raw_id_number,candidate_id_number,score,reason."""
    if fmt != "csv":
        raise typer.BadParameter("only --format csv is supported")
    _download(_platform(state_dir), "/matches/candidates.csv", output)


REBUILDABLE = ("query", "reporting")


@app.command()
def rebuild(service: Annotated[str, typer.Argument(help="the service whose read models to rebuild: query or reporting")],
            state_dir: StateDir = None) -> None:
    """Rebuild a service's read models from the topics: stop its worker, replay every event, restart it."""
    if service not in REBUILDABLE:
        raise typer.BadParameter(f"only {', '.join(REBUILDABLE)} can be rebuilt")
    platform = _platform(state_dir)
    supervisor = Supervisor(platform)
    target = next(s for s in SERVICES if s.name == service)
    was_running = supervisor.pid(target, "worker") is not None
    supervisor.stop(target, "worker")
    try:
        done = subprocess.run([sys.executable, "-m", target.package, "rebuild"], env=platform.service_env(target),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    finally:
        if was_running:
            supervisor.start(target, "worker")
    if done.returncode != 0:
        typer.echo(f"rebuild of {service} failed (exit {done.returncode})", err=True)
        raise typer.Exit(done.returncode)
    typer.echo(done.stdout.strip())


app.add_typer(dlq.app, name="dlq")
audit_app = typer.Typer(help="The services' hash-chained audit logs (审计日志).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
AUDITED = ("identity-matching", "verification", "publicity", "disbursement", "query")


@audit_app.command("verify")
def audit_verify(services: Annotated[list[str] | None, typer.Argument(help=f"default: {' '.join(AUDITED)}")] = None,
                 state_dir: StateDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Walk each service's audit chain, and find in it the newest entry reporting holds of it (so
    entries cut from the end are found too); exit 1 when an entry was changed or removed."""
    platform, reports = _platform(state_dir), []
    for name in services or AUDITED:
        if name not in AUDITED:
            raise typer.BadParameter(f"{name} keeps no audit log (one of: {', '.join(AUDITED)})")
        target = next(s for s in SERVICES if s.name == name)
        done = subprocess.run([sys.executable, "-m", target.package, "audit-verify"], env=platform.service_env(target),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        lines = done.stdout.strip().splitlines()
        if done.returncode not in (0, 1) or not lines:
            typer.echo(f"{name}: the check could not run (exit {done.returncode})", err=True)
            raise typer.Exit(2)
        reports.append({"service": name, **json.loads(lines[-1])})
    witness.compare_with_reporting(platform, reports)
    if as_json:
        typer.echo(json.dumps(reports, ensure_ascii=False))
    for report in [] if as_json else reports:
        verdict = "完整 (intact)" if not report["problems"] else f"{len(report['problems'])} 处异常 (problems)"
        typer.echo(f"{report['service']:<14} {report['entries']:>8} entries  {verdict}")
        for problem in report["problems"]:
            typer.echo(f"  - {problem['message']}")
    if any(r["problems"] for r in reports):
        raise typer.Exit(1)


outbox_app = typer.Typer(help="Events the outbox relay parked: the broker refuses them for good (搁置的事件).",
                         no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
NAMES = tuple(s.name for s in SERVICES)


def _run_command(platform: Platform, name: str, command: str) -> list[str]:
    """``python -m <service> <command>``'s output lines (the service's own database)."""
    target = next((s for s in SERVICES if s.name == name), None)
    if target is None:
        raise typer.BadParameter(f"no service {name} (one of: {', '.join(NAMES)})")
    done = subprocess.run([sys.executable, "-m", target.package, command], env=platform.service_env(target),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        typer.echo(f"{name}: {command} could not run (exit {done.returncode})", err=True)
        raise typer.Exit(2)
    return done.stdout.strip().splitlines()


@outbox_app.command("parked")
def outbox_parked(services: Annotated[list[str] | None, typer.Argument(help=f"default: {' '.join(NAMES)}")] = None,
                  state_dir: StateDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List each service's parked outbox rows: id, topic, event id, why, since (no key or value)."""
    platform = _platform(state_dir)
    rows = [{"service": name, **json.loads(line)} for name in services or NAMES
            for line in _run_command(platform, name, "outbox-parked")]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(f"{row['service']:<18} #{row['id']:<8} {row['topic']:<28} {row['reason']:<24} {row['created_at']}")
    if not rows:
        typer.echo("没有搁置的事件 (no parked events)")


@outbox_app.command("release")
def outbox_release(service: Annotated[str, typer.Argument(help=" | ".join(NAMES))], state_dir: StateDir = None) -> None:
    """Put a service's parked rows back in its relay's way once the cause is fixed (a row still
    refused is parked again)."""
    [line] = _run_command(_platform(state_dir), service, "outbox-release")
    typer.echo(f"{service}: {json.loads(line)['released']} released")


def _download(platform: Platform, path: str, output: Path | None) -> None:
    with (output.open("w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout)) as out:
        try:
            client.download_csv(platform, path, out)
        except client.ImportFailed as exc:
            typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(1) from None


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()

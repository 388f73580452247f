"""Start and stop the whole mesh locally: ``python -m tools.launcher`` (what ``make run`` calls).

Checks that a broker answers (and says plainly how to get one if not), creates the development PKI
on first run, starts the five services as separate processes with their logs interleaved, waits until
each reports ready, and stops them all on Ctrl-C. Tests and the benchmark start the mesh the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from services.mesh import SERVICES
from shared.demo.population import DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE
from shared.wire.clock import ASTANA, Clock
from shared.wire.topology import DEFAULT_NAMESPACE, LOCAL_BROKER_URL

# Started in this order (each waits for the one before to be ready), on each service's default port.
START_ORDER = ("signature", "gbd_fl", "arm", "portal", "gateway")
SERVICE_PORTS = {name: SERVICES[name].settings.default_port for name in START_ORDER}
ROOT = Path(__file__).resolve().parent.parent


class BrokerUnavailable(RuntimeError):
    pass


def check_broker(amqp_url: str, timeout: float = 5.0) -> None:
    """Raise BrokerUnavailable with advice when nothing accepts AMQP connections at ``amqp_url``."""
    import logging

    import aio_pika

    logging.getLogger("aiormq").setLevel(logging.CRITICAL)  # the advice below replaces its connection noise

    async def probe() -> None:
        connection = await aio_pika.connect(amqp_url, timeout=timeout)
        await connection.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        parsed = urlparse(amqp_url)
        if _refused_login(exc):
            raise BrokerUnavailable(
                f"RabbitMQ at {parsed.hostname}:{parsed.port or 5672} refused the login of user "
                f"'{parsed.username or 'guest'}': the user or password in AMQP_URL is wrong "
                "(or the user may not use that virtual host)."
            ) from None
        raise BrokerUnavailable(
            f"No RabbitMQ answers at {parsed.hostname}:{parsed.port or 5672} ({type(exc).__name__}).\n"
            "Start one, then run again:\n"
            "  * locally:         rabbitmq-server -detached   (Debian/Ubuntu: apt-get install rabbitmq-server)\n"
            "  * with Docker:     make up                     (the whole mesh in docker compose)\n"
            "  * elsewhere:       AMQP_URL=amqp://user:pass@host:5672/ make run"
        ) from None


def _refused_login(exc: BaseException) -> bool:
    from aiormq.exceptions import ProbableAuthenticationError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ProbableAuthenticationError) or "ACCESS_REFUSED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def configured_ports(environ: dict[str, str] | None = None, dotenv: Path = Path(".env")) -> dict[str, int]:
    """Each service's HTTP port: ``EMHANA_<SERVICE>_HTTP_PORT`` from the environment or ``.env``, else the
    default (portal 8101 … signature 8105)."""
    return {
        service: int(setting(f"EMHANA_{service.upper()}_HTTP_PORT", environ, dotenv) or default)
        for service, default in SERVICE_PORTS.items()
    }


def setting(name: str, environ: dict[str, str] | None = None, dotenv: Path = Path(".env")) -> str | None:
    """A setting as the services see it: the environment first, then the ``.env`` file."""
    environ = os.environ if environ is None else environ
    if environ.get(name):
        return environ[name]
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == name and value.split("#")[0].strip():
                return value.split("#")[0].strip()
    return None


def ports_taken(ports: dict[str, int], host: str = "127.0.0.1") -> dict[str, int]:
    """The services whose port something else already listens on."""
    import socket

    taken = {}
    for service, port in ports.items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                taken[service] = port
    return taken


@dataclass
class Mesh:
    """The five services as child processes sharing a var folder, PKI and bus namespace."""

    var_dir: Path
    amqp_url: str = LOCAL_BROKER_URL
    namespace: str = DEFAULT_NAMESPACE
    ports: dict[str, int] = field(default_factory=lambda: dict(SERVICE_PORTS))
    env: dict[str, str] = field(default_factory=dict)
    clock_offset_seconds: float = 0.0
    log_file: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def pki_dir(self) -> Path:
        return self.var_dir / "pki"

    def base_env(self) -> dict[str, str]:
        env = {
            # The local mesh is the demo (and the tests'): its clinics get their demo staff, whose password
            # the README publishes. A deployment never does (services.arm.admin makes its staff).
            "EMHANA_ARM_SEED_DEMO_STAFF": "true",
            # The QR codes of results and slips open this portal's verification page.
            "EMHANA_PORTAL_PUBLIC_URL": self.url("portal"),
            **os.environ,
            "AMQP_URL": self.amqp_url,
            "EMHANA_NAMESPACE": self.namespace,
            "EMHANA_VAR_DIR": str(self.var_dir),
            "EMHANA_PKI_DIR": str(self.pki_dir),
            "PYTHONUNBUFFERED": "1",
            "EMHANA_CLOCK_OFFSET_SECONDS": str(self.clock_offset_seconds),
        }
        env.update(self.env)
        return env

    def bootstrap_pki(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "services.signature.ca", "--dir", str(self.pki_dir), "bootstrap"],
            check=True,
            cwd=ROOT,
            env=self.base_env(),
            stderr=subprocess.DEVNULL,
        )

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start_service(self, name: str) -> None:
        """Start a service's process (``name`` is the service, or one of its replicas: ``gateway#2``)."""
        service = name.partition("#")[0]
        env = self.base_env()
        env[f"EMHANA_{service.upper()}_HTTP_PORT"] = str(self.ports[name])
        output = open(self.log_file, "ab") if self.log_file else None
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}.app"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )

    def start_replica(self, service: str, port: int) -> str:
        """Start one more process of ``service`` on ``port``: a competing consumer of the same queues, as a
        compose replica is. Returns its name (``gateway#2``) for :meth:`wait_ready` and :meth:`stop_service`."""
        name = f"{service}#{1 + sum(1 for each in self.processes if each.partition('#')[0] == service)}"
        self.ports[name] = port
        self.start_service(name)
        return name

    def write_pid(self, service: str) -> None:
        """Record the service's process id, for ``--restart`` from another shell."""
        path = _pid_file(self.var_dir, service)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(self.processes[service].pid))

    def start(self, services: list[str] | None = None) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.bootstrap_pki()
        for service in services or list(self.ports):
            self.start_service(service)

    def wait_ready(self, services: list[str] | None = None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(services or self.processes)
        while pending:
            for service in list(pending):
                process = self.processes.get(service)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{service} exited with code {process.returncode}")
                try:
                    if httpx.get(self.url(service) + "/health/ready", timeout=1.0).status_code == 200:
                        pending.discard(service)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout}s: {', '.join(sorted(pending))}")
            time.sleep(0.2)

    def stop_service(self, service: str, *, kill: bool = False, timeout: float = 15.0) -> None:
        process = self.processes.pop(service, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for service in list(self.processes):
            self.stop_service(service)


def print_demo_citizens(pki_dir: Path) -> None:
    """Who to log in as: the demo citizens that have keys (see README, "Demo")."""
    from shared.demo.people import demo_citizens

    size = int(os.environ.get("EMHANA_POPULATION_SIZE", DEFAULT_POPULATION_SIZE))
    demo = demo_citizens(size, int(os.environ.get("EMHANA_POPULATION_SEED", DEFAULT_POPULATION_SEED)))
    groups = [
        ("Поликлиника № 1", demo.attached_1),
        ("Поликлиника № 4", demo.attached_4),
        ("not attached", demo.unattached),
        ("parent of a minor", [demo.parent]),
    ]
    rows = [
        (person.iin, f"{person.surname} {person.name}", label, f"citizen-{person.iin}.p12")
        for label, people in groups
        for person in people
        if (pki_dir / "issued" / f"citizen-{person.iin}.p12").exists()
    ]
    rows.append((demo.child.iin, f"{demo.child.surname} {demo.child.name}", f"minor child of {demo.parent.iin}", ""))
    say("  demo citizens — register with the key file (key password emhana) and any good password:")
    say_table(rows)


def print_demo_staff(pki_dir: Path) -> None:
    """Who staffs the demo clinics: log in at the АРМ's staff API; each signs with their employee key."""
    from shared.demo.people import demo_staff
    from shared.rules.clinics import load_clinics

    clinics = load_clinics()
    names = {c.bin: c.short_name for c in clinics.clinics}
    password = os.environ.get("EMHANA_ARM_DEMO_STAFF_PASSWORD", "Emhana-Staff-2026")
    say(f"  demo clinic staff — password {password}, key password emhana:")
    rows = [
        (m.iin, f"{m.surname} {m.name}", f"{m.role} of {names[m.clinic_bin]}", f"staff-{m.iin}.p12")
        for m in demo_staff(clinics)
        if (pki_dir / "issued" / f"staff-{m.iin}.p12").exists()
    ]
    say_table(rows)


def say(text: str = "") -> None:
    """A line of the launcher's own, on the terminal (the services' logs go to their file)."""
    print(text, file=sys.stderr, flush=True)


def say_table(rows: list[tuple[str, ...]], indent: str = "    ") -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    for row in rows:
        say(indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


class LogFollower:
    """Follows the services' log file and gives one short line per message a service handled (and every
    warning or error), for the terminal; the file keeps everything."""

    def __init__(self, path: Path) -> None:
        # From now on: what the services logged while starting stays in the file.
        self.path, self.partial = path, b""
        self.position = path.stat().st_size if path.exists() else 0

    def lines(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.position)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self.position += len(chunk)
        *complete, self.partial = (self.partial + chunk).split(b"\n")
        return [line for raw in complete if (line := summary(raw)) is not None]


def summary(raw: bytes) -> str | None:
    """One log record as a terminal line: the messages handled, and whatever is a warning or worse."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    at, service = str(record.get("ts", ""))[11:19], str(record.get("service", "?"))
    if record.get("msg") == "handling":
        return f"{at}  {service:<9}  {record.get('type', '?'):<17}  from {record.get('sender', '?')}"
    if record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
        return f"{at}  {service:<9}  {record['level']}: {record.get('msg', '')}"
    return None


def clock_start(value: str) -> dt.datetime:
    """An ISO instant, or ``HH:MM``: the next working day (Mon–Fri, not a holiday) at that time in Astana."""

    from shared.rules.calendar import WorkCalendar

    if len(value) <= 5 and ":" in value:
        now = dt.datetime.now(ASTANA)
        moment = dt.datetime.combine(now.date(), dt.time.fromisoformat(value), ASTANA)
        calendar = WorkCalendar()
        while moment <= now or not calendar.is_working_day(moment.date()):
            moment += dt.timedelta(days=1)
        return moment
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a UTC offset, e.g. 2026-11-24T10:00+05:00")
    return moment


def operator_token(
    var_dir: Path, environ: dict[str, str] | None = None, dotenv: Path = Path(".env")
) -> tuple[str, str]:
    """The gateway's operator token for the journal API and where it comes from: the environment, the
    ``.env`` file, or — so that ``make run`` works without either — ``<var>/operator-token``, made once
    (random, readable by its owner only)."""
    environ = os.environ if environ is None else environ
    if environ.get("EMHANA_GATEWAY_OPERATOR_TOKEN"):
        return environ["EMHANA_GATEWAY_OPERATOR_TOKEN"], "EMHANA_GATEWAY_OPERATOR_TOKEN"
    from_file = setting("EMHANA_GATEWAY_OPERATOR_TOKEN", {}, dotenv)
    if from_file:
        return from_file, str(dotenv)
    path = var_dir / "operator-token"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip(), str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.launcher", description="Run the whole Emhana mesh locally.")
    parser.add_argument("--var-dir", type=Path, default=Path(os.environ.get("EMHANA_VAR_DIR", "var")))
    parser.add_argument(
        "--clock-start",
        type=clock_start,
        help="run every service's clock from this instant (2026-11-24T16:30+05:00) or from a time of day "
        "on the next working day in Astana (10:00)",
    )
    parser.add_argument(
        "--log",
        default=None,
        help="where the services log: a file (default <var-dir>/log/mesh.log; the terminal then shows one line "
        "per message handled), or 'stderr' for every log line on the terminal",
    )
    parser.add_argument(
        "--restart",
        metavar="SERVICE",
        choices=sorted(SERVICE_PORTS),
        help="restart one service of the mesh running from this var folder, then return",
    )
    args = parser.parse_args(argv)
    if args.restart:
        return restart(args.var_dir.resolve(), args.restart)
    amqp_url = setting("AMQP_URL") or LOCAL_BROKER_URL
    try:
        check_broker(amqp_url)
    except BrokerUnavailable as exc:
        print(exc, file=sys.stderr)
        return 2
    offset = Clock.starting_at(args.clock_start).offset_seconds if args.clock_start else 0.0
    if offset < 0:
        print(
            "note: a clock in the past needs its own --var-dir (certificates there are issued in mesh time)",
            file=sys.stderr,
        )
    if args.clock_start:
        print(f"clocks start at {args.clock_start.isoformat()}", file=sys.stderr)
    ports = configured_ports()
    taken = ports_taken(ports)
    if taken:
        for service, port in taken.items():
            print(
                f"port {port} ({service}) is already in use: stop what listens there (another `make run`?) "
                f"or choose another with EMHANA_{service.upper()}_HTTP_PORT",
                file=sys.stderr,
            )
        return 2
    token, token_source = operator_token(args.var_dir.resolve())
    log_file = None if args.log == "stderr" else Path(args.log or args.var_dir / "log" / "mesh.log").resolve()
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        say(f"starting the mesh; the services log to {log_file}")
    mesh = Mesh(
        var_dir=args.var_dir.resolve(),
        amqp_url=amqp_url,
        namespace=setting("EMHANA_NAMESPACE") or DEFAULT_NAMESPACE,
        ports=ports,
        clock_offset_seconds=offset,
        env={"EMHANA_GATEWAY_OPERATOR_TOKEN": token},
        log_file=log_file,
    )
    # Ctrl-C and SIGTERM stop the mesh even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        mesh.start()
        try:
            mesh.wait_ready(timeout=120)
        except (RuntimeError, TimeoutError) as exc:
            where = f"in {log_file}" if log_file else "above"
            say(f"the mesh did not start: {exc} (its own messages are {where})")
            return 1
        banner(mesh, token_source, log_file)
        return supervise(mesh, LogFollower(log_file) if log_file else None)
    except KeyboardInterrupt:
        print("\nstopping…", file=sys.stderr)
        return 0
    finally:
        mesh.stop()


def _pid_file(var_dir: Path, service: str) -> Path:
    return var_dir / "run" / f"{service}.pid"


def banner(mesh: Mesh, token_source: str, log_file: Path | None) -> None:
    """What a newcomer needs once the mesh is up: where the pages and APIs are, who to log in as."""
    say("\nEmhana is up\n")
    apis = "  ".join(f"{service} :{mesh.ports[service]}" for service in mesh.ports) + "  (/docs on each)"
    rows = [
        ("citizens' pages", f"{mesh.url('portal')}/  (Russian and Kazakh)"),
        ("clinic staff pages", f"{mesh.url('arm')}/"),
        ("APIs, OpenAPI", apis),
        ("key files", f"{mesh.pki_dir / 'issued'}/"),
        ("gateway journal", f"{mesh.url('gateway')}/api/v1/journal — operator token in {token_source}"),
        ("logs", f"{log_file}  (make run LOG=stderr: all of them here)" if log_file else "here, on the terminal"),
    ]
    say_table(rows, indent="  ")
    say()
    print_demo_citizens(mesh.pki_dir)
    print_demo_staff(mesh.pki_dir)
    say('\n  the CLIs: .venv/bin/emhana --help, .venv/bin/emhana-staff --help (README, "Demo")')
    say("  Ctrl-C stops everything; make restart SERVICE=<name> restarts one.\n")
    if log_file:
        say("messages handled (time, service, message, sender):")


def supervise(mesh: Mesh, follower: LogFollower | None = None, *, max_restarts: int = 5, window: float = 60.0) -> int:
    """Keep the services running: one that exits (crashed, or stopped by ``--restart``) is started again;
    one that keeps exiting (``max_restarts`` within ``window`` seconds) stops the mesh with its exit code."""
    exits: dict[str, list[float]] = {service: [] for service in mesh.processes}
    for service in mesh.processes:
        mesh.write_pid(service)
    while True:
        time.sleep(0.5)
        for line in follower.lines() if follower else []:
            say(line)
        for service, process in list(mesh.processes.items()):
            code = process.poll()
            if code is None:
                continue
            now = time.monotonic()
            exits[service] = [t for t in exits[service] if now - t < window] + [now]
            if len(exits[service]) > max_restarts:
                print(f"{service} keeps exiting (code {code}); stopping the mesh", file=sys.stderr)
                return 1
            print(f"{service} exited (code {code}); starting it again", file=sys.stderr)
            mesh.start_service(service)
            mesh.write_pid(service)


def restart(var_dir: Path, service: str) -> int:
    """Ask the launcher running from ``var_dir`` to restart ``service`` (stop it; the launcher starts it)."""
    path = _pid_file(var_dir, service)
    try:
        old = int(path.read_text())
        os.kill(old, signal.SIGTERM)
    except (OSError, ValueError):
        print(f"no running {service} found (is `make run` running from {var_dir}?)", file=sys.stderr)
        return 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with suppress(OSError, ValueError):
            if int(path.read_text()) != old:
                print(f"{service} restarted", file=sys.stderr)
                return 0
    print(f"{service} was stopped but not started again within 60 s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

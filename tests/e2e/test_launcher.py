"""`make run` as an operator meets it: the launcher honours port and namespace settings, restarts one
service on request (and any that dies), says plainly when a port is taken, and tells a wrong broker
password from a missing broker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import AMQP_URL, POPULATION_SEED, POPULATION_SIZE, _delete_queues, free_port
from tests.waiting import until
from tools.launcher import ROOT, SERVICE_PORTS, BrokerUnavailable, check_broker


def launcher_env(ports: dict[str, int], namespace: str) -> dict[str, str]:
    return {
        **os.environ,
        "AMQP_URL": AMQP_URL,
        "EMHANA_NAMESPACE": namespace,
        "EMHANA_POPULATION_SIZE": str(POPULATION_SIZE),
        "EMHANA_POPULATION_SEED": str(POPULATION_SEED),
        **{f"EMHANA_{s.upper()}_HTTP_PORT": str(p) for s, p in ports.items()},
    }


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, int], Path, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("launcher")
    ports = {service: free_port() for service in SERVICE_PORTS}
    namespace = f"launch-{uuid.uuid4().hex[:6]}"
    env = launcher_env(ports, namespace)
    output = folder / "launcher.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.launcher", "--var-dir", str(folder / "var")],
            cwd=folder,  # no .env there: the settings come from the environment
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            yield folder, ports, output, env
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)
            _delete_queues(namespace)


async def launcher_up(output: Path) -> None:
    async def up() -> bool:
        return "Ctrl-C stops everything" in await asyncio.to_thread(output.read_text, errors="replace")

    await until(up, 180, "the launcher's banner, to its last line")


async def ready(port: int) -> bool:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)).status_code == 200


async def test_the_launcher_uses_the_configured_ports_and_restarts_one_service(launched) -> None:  # type: ignore[no-untyped-def]
    folder, ports, output, env = launched

    await launcher_up(output)
    for port in ports.values():
        assert await ready(port)
    # The terminal has the banner; the services' JSON log lines went to their file under var/.
    announced = output.read_text(errors="replace")
    log_file = folder / "var" / "log" / "mesh.log"
    assert str(log_file) in announced and '"level": "INFO"' not in announced
    assert '"service": "gateway"' in log_file.read_text(errors="replace")
    assert "demo citizens" in announced and "citizen-980602300015.p12" in announced
    # The web pages it announces answer as pages.
    for service in ("portal", "arm"):
        url = f"http://127.0.0.1:{ports[service]}/"
        assert url in announced, announced[-2000:]
        async with httpx.AsyncClient(follow_redirects=True) as http:
            page = await http.get(url, headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    pid_file = folder / "var" / "run" / "gbd_fl.pid"
    before = pid_file.read_text()
    restart = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tools.launcher", "--var-dir", str(folder / "var"), "--restart", "gbd_fl"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restart.returncode == 0 and "gbd_fl restarted" in restart.stderr, restart.stderr
    assert pid_file.read_text() != before

    async def back() -> bool:
        return await ready(ports["gbd_fl"])

    await until(back, 90, "gbd_fl ready again")
    log = output.read_text(errors="replace")
    assert "gbd_fl exited (code" in log and "starting it again" in log


async def test_a_taken_port_is_said_plainly(launched) -> None:  # type: ignore[no-untyped-def]
    folder, ports, output, env = launched

    await launcher_up(output)
    second = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tools.launcher", "--var-dir", str(folder / "second")],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert f"port {ports['portal']} (portal) is already in use" in second.stderr
    assert "EMHANA_PORTAL_HTTP_PORT" in second.stderr and "Traceback" not in second.stderr


def test_a_wrong_broker_password_is_not_a_missing_broker() -> None:
    url = urlparse(AMQP_URL)
    wrong = url._replace(netloc=f"{url.username or 'guest'}:not-the-password@{url.hostname}:{url.port or 5672}")
    with pytest.raises(BrokerUnavailable) as refused:
        check_broker(wrong.geturl())
    assert "refused the login" in str(refused.value) and "No RabbitMQ answers" not in str(refused.value)
    with pytest.raises(BrokerUnavailable) as missing:
        check_broker(f"amqp://guest:guest@127.0.0.1:{free_port()}/", timeout=2)
    assert "No RabbitMQ answers" in str(missing.value)

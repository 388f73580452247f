"""The compose deployment's defaults: no secret has a default, little is published, what must restart
does, and the development CA never replaces trust anchors it did not make (see test_outside_ca)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from shared.wire.topology import SERVICES

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_no_secret_has_a_default() -> None:
    text = COMPOSE.read_text()
    assert "change-me" not in text
    for name in (
        "EMHANA_RABBITMQ_PASSWORD",
        "EMHANA_POSTGRES_PASSWORD",
        "EMHANA_GATEWAY_OPERATOR_TOKEN",
        "EMHANA_GRAFANA_PASSWORD",
    ):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses and all(use.startswith(":?") for use in uses), (name, uses)  # required, never defaulted
    assert not re.search(r"(PASSWORD|PASS|TOKEN): [^$\s]", text)  # no literal secret anywhere


def test_only_the_portal_and_the_gateway_publish_ports() -> None:
    services = compose()["services"]
    published = {name: spec.get("ports") for name, spec in services.items() if spec.get("ports")}
    assert set(published) == {"portal", "gateway", "arm", "prometheus", "grafana"}
    for loopback_only in ("arm", "prometheus", "grafana"):  # staff and operators: the host's loopback only
        assert all(port.startswith("127.0.0.1:") for port in published[loopback_only]), loopback_only
    assert "15672" not in COMPOSE.read_text()  # RabbitMQ's management interface is not exposed


def test_the_broker_and_the_database_restart() -> None:
    services = compose()["services"]
    assert services["rabbitmq"]["restart"] == services["postgres"]["restart"] == "unless-stopped"


def test_each_service_mounts_the_public_part_and_its_own_key_only() -> None:
    services = compose()["services"]
    for name in SERVICES:
        spec = services[name]
        assert sorted(spec["volumes"]) == sorted(["pki:/pki:ro", f"keys-{name}:/keys:ro"]), name
        assert spec["environment"]["EMHANA_KEYS_DIR"] == "/keys" and spec["environment"]["EMHANA_PKI_DIR"] == "/pki"
    holders = [name for name, spec in services.items() if any(v.startswith("ca:") for v in spec.get("volumes", []))]
    assert holders == ["pki"]  # the CA's keys live in one container's volume
    assert services["signature"]["environment"]["EMHANA_SIGNATURE_DEV_CA"] == "false"  # `pki` republishes CRLs


def test_the_ca_hands_each_service_its_own_key_and_everyone_the_public_part(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from services.portal.config import PortalSettings
    from services.signature.ca import DevCA, bootstrap, deploy
    from shared.wire.certs import TrustStore
    from shared.wire.clock import Clock
    from shared.wire.envelope import ServiceIdentity, open_envelope, seal

    clock = Clock()
    ca = DevCA(tmp_path / "ca", clock=clock)
    bootstrap(ca, population_size=0)
    public, keys = tmp_path / "public", tmp_path / "keys"
    deploy(ca, public, keys)

    assert (public / "ready").exists() and {p.name for p in (public / "crl").iterdir()} == {
        "root.crl",
        "ca.crl",
        "gost-ca.crl",
    }
    for path in public.rglob("*"):
        assert path.is_dir() or b"PRIVATE KEY" not in path.read_bytes(), path
    ca_keys = {(ca.folder / name).read_bytes() for name in ("root.key.pem", "ca.key.pem")}
    for service in SERVICES:
        files = {p.name for p in (keys / service).iterdir()}
        own = {f"service-{service}.pem", f"service-{service}.key.pem"}
        if service == "arm":
            assert own < files and all(f in own or f.startswith("clinic-") for f in files), files
        else:
            assert files == own, (service, files)
        key_file = keys / service / f"service-{service}.key.pem"
        assert key_file.stat().st_mode & 0o077 == 0  # readable by the service's user only
        assert not ca_keys & {p.read_bytes() for p in (keys / service).iterdir()}

    # a service configured this way signs with its own key, and its peers verify it with the public part only
    settings = PortalSettings(pki_dir=public, keys_dir=keys / "portal")
    portal = ServiceIdentity.from_keys("portal", settings.keys, settings.certificate_name)
    store = TrustStore.from_files(settings.pki / "trust.pem", settings.pki / "crl", clock=clock)
    _, raw = seal(portal, type="ping", recipient="gateway", payload={}, clock=clock)
    opened = open_envelope(raw, store, clock)
    assert opened.signer.service == "portal"
    own_key = serialization.load_pem_private_key((keys / "portal" / "service-portal.key.pem").read_bytes(), None)
    assert own_key.public_key().public_numbers() == portal.chain[0].public_key().public_numbers()


def test_migrations_run_once_before_any_service_starts() -> None:
    services = compose()["services"]
    job = services["migrate"]
    assert job["command"] == ["python", "-m", "services.migrate", "upgrade"] and job["restart"] == "no"
    for name in SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert job["environment"][f"EMHANA_{name.upper()}_DATABASE_URL"].endswith(f"/{name}")


def test_prometheus_scrapes_every_service_and_the_dashboard_shows_real_metrics() -> None:
    import json

    from prometheus_client import REGISTRY

    import shared.platform.metrics  # noqa: F401  (registers every Emhana metric)

    deploy = COMPOSE.parent
    scrape = yaml.safe_load((deploy / "prometheus.yml").read_text())["scrape_configs"]
    targets = {t for job in scrape for group in job["static_configs"] for t in group["targets"]}
    from services.mesh import SERVICES

    ports = {name: entry.settings.default_port for name, entry in SERVICES.items()}  # each one's default
    assert sorted(ports.values()) == [8101, 8102, 8103, 8104, 8105]  # as the README and compose give them
    assert {f"{name}:{port}" for name, port in ports.items()} | {"rabbitmq:15692"} <= targets
    dashboard = json.loads((deploy / "grafana" / "dashboards" / "emhana.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {m for e in expressions for m in re.findall(r"\b(emhana_[a-z_]+?)(?:_bucket|_total)?\b", e)}
    known = {metric.name for metric in REGISTRY.collect()}
    assert used and used <= known | {n.removesuffix("_total") for n in known}, used - known
    provisioning = yaml.safe_load((deploy / "grafana" / "provisioning" / "dashboards" / "emhana.yml").read_text())
    assert provisioning["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in compose()["services"]["grafana"]["volumes"]


def test_every_setting_is_described_and_the_reference_is_current() -> None:
    from services.mesh import settings_of
    from shared.platform.settings import ServiceSettings
    from tools.settings_doc import TARGET, render

    for service in SERVICES:
        fields = type(settings_of(service)).model_fields
        assert all(field.description for field in fields.values()), [n for n, f in fields.items() if not f.description]
    assert all(field.description for field in ServiceSettings.model_fields.values())
    assert TARGET.read_text() == render(), "run python -m tools.settings_doc"


@pytest.mark.parametrize(
    ("module", "field"),
    [
        ("services.portal.config", "long_poll_reread_seconds"),
        ("services.portal.config", "resend_after_seconds"),
        ("services.arm.config", "watch_seconds"),
        ("services.signature.config", "crl_republish_seconds"),
        ("services.gateway.config", "rpc_timeout_seconds"),
    ],
)
def test_a_period_or_wait_of_zero_is_refused_at_start_up(module: str, field: str) -> None:
    """Zero would spin a background loop (or divide by zero) instead of failing where the operator sees it."""
    settings = settings_class(module)
    for value in ("0", "-5"):
        with pytest.raises(ValidationError, match="greater than 0"):
            settings(**{field: value})
    assert getattr(settings(**{field: "2.5"}), field) == 2.5


def settings_class(module: str) -> type:
    """The settings class a service's ``config`` module defines."""
    found = vars(__import__(module, fromlist=["x"])).items()
    return next(v for k, v in found if k.endswith("Settings") and k != "ServiceSettings")


def test_a_deployment_has_no_demo_staff_and_secure_session_cookies() -> None:
    """Demo staff (the password the README publishes) exist only where the local launcher asks for them;
    the compose deployment starts with none, and its pages' session cookies are Secure."""
    from services.arm.config import ArmSettings
    from tools.launcher import Mesh

    services = compose()["services"]
    assert services["arm"]["environment"]["EMHANA_ARM_SEED_DEMO_STAFF"] == "false"
    assert services["arm"]["environment"]["EMHANA_ARM_SECURE_COOKIES"] == "true"
    assert services["portal"]["environment"]["EMHANA_PORTAL_SECURE_COOKIES"] == "true"
    assert ArmSettings.model_fields["seed_demo_staff"].default is False  # off unless asked for
    assert Mesh(var_dir=Path("var")).base_env()["EMHANA_ARM_SEED_DEMO_STAFF"] == "true"  # `make run`, the tests


def test_the_alerting_rules_are_loaded_and_name_metrics_the_services_export() -> None:
    """deploy/alerts.yml is mounted next to prometheus.yml, which loads it; each rule's expression names
    metrics that the services register (a renamed metric would silently never fire)."""
    from prometheus_client import REGISTRY

    import shared.platform.metrics  # noqa: F401 - registers the services' metrics

    deploy = COMPOSE.parent
    for name in ("alerts.yml", "alerts-steps.yml"):
        assert name in yaml.safe_load((deploy / "prometheus.yml").read_text())["rule_files"]
        assert f"./{name}:/etc/prometheus/{name}:ro" in compose()["services"]["prometheus"]["volumes"]
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}  # series before any sample
    exported = {sample for family in REGISTRY.collect() for sample in (family.name, *(s.name for s in family.samples))}
    exported |= {f.name + end for f in REGISTRY.collect() for end in suffixes.get(f.type, ())}
    rules = [
        rule
        for name in ("alerts.yml", "alerts-steps.yml")
        for group in yaml.safe_load((deploy / name).read_text())["groups"]
        for rule in group["rules"]
    ]
    assert {rule["alert"] for rule in rules} >= {"EmhanaDeadLetters", "EmhanaDeadLettersAgeing"}
    for rule in rules:
        named = set(re.findall(r"\b(emhana_[a-z_]+)\b", rule["expr"]))
        assert named and named <= exported, (rule["alert"], named - exported)


def test_the_service_level_rules_follow_the_regulations_table_and_promtool_accepts_and_tests_them() -> None:
    """deploy/alerts-steps.yml is what tools.service_levels makes of the one table of limits (a rule pair
    per step of both tables); promtool checks both rule files, and its unit test feeds a step that breaches
    (the alerts fire) and one that does not (silent): tests/promtool/service_levels_test.yml."""
    import shutil
    import subprocess

    from shared.rules.deadlines import ARM_STEPS, PORTAL_STEPS
    from tools.service_levels import main as service_levels

    assert service_levels(["--check"]) == 0, "run python -m tools.service_levels"
    rules = yaml.safe_load((COMPOSE.parent / "alerts-steps.yml").read_text())["groups"]
    assert sum(len(group["rules"]) for group in rules) == 2 * (len(PORTAL_STEPS) + len(ARM_STEPS))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed: apt-get install prometheus (.ci/run installs it)"
    deploy = COMPOSE.parent
    checked = subprocess.run(
        [promtool, "check", "rules", str(deploy / "alerts.yml"), str(deploy / "alerts-steps.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", str(Path(__file__).parents[1] / "promtool" / "service_levels_test.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr

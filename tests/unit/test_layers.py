"""The layers of the code hold: what each package of ``shared`` may import (shared/README.md), and no
service imports another. Read from the source (every import statement, at any depth), not from a run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IO_FRAMEWORKS = ("aio_pika", "aiormq", "sqlalchemy", "alembic", "fastapi", "starlette", "httpx", "uvicorn")
PLATFORM_BASICS = ("shared.platform.db", "shared.platform.logs", "shared.platform.metrics", "shared.platform.tracing")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(folder: str, allowed: tuple[str, ...], forbidden: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in modules(folder):
        for name in imports(path):
            ours = within(name, "shared", "services", "tools", "clients", "tests")
            if (ours and not within(name, *allowed)) or within(name, *forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return sorted(found)


def test_the_wire_package_stands_alone() -> None:
    """shared.wire — formats, signatures, certificates, contracts, codes — is what a partner could vendor:
    it imports only itself, and no I/O framework."""
    assert violations("shared/wire", ("shared.wire",), IO_FRAMEWORKS) == []


def test_messaging_rests_on_the_wire_and_the_platform_basics_only() -> None:
    assert violations("shared/messaging", ("shared.wire", "shared.messaging", *PLATFORM_BASICS), ("fastapi",)) == []


def test_the_rules_rest_on_the_wire_only() -> None:
    """shared.rules — the calendar, the time limits, guardianship, the clinics — is free of frameworks."""
    assert violations("shared/rules", ("shared.wire", "shared.rules"), IO_FRAMEWORKS) == []


def test_the_demo_people_rest_on_the_wire_and_the_rules() -> None:
    assert violations("shared/demo", ("shared.wire", "shared.rules", "shared.demo"), IO_FRAMEWORKS) == []


def test_the_platform_never_reaches_the_pages() -> None:
    allowed = ("shared.wire", "shared.rules", "shared.demo", "shared.platform", "shared.messaging")
    assert violations("shared/platform", allowed) == []


def test_the_clients_need_nothing_but_the_wire() -> None:
    """The command-line clients speak HTTP and sign locally: a partner could ship them with shared.wire."""
    assert violations("clients", ("clients", "shared.wire"), ("sqlalchemy", "aio_pika", "fastapi")) == []


def test_nothing_in_production_imports_the_tools_or_the_clients() -> None:
    """tools/ (the local launcher, generators) and clients/ are not in the services' image."""
    found = []
    for folder in ("shared", "services"):
        found += [
            v for v in violations(folder, ("shared", "services")) if " imports tools" in v or " imports clients" in v
        ]
    assert found == []


def test_shared_never_imports_a_service() -> None:
    found = [v for v in violations("shared", ("shared",)) if " imports services" in v]
    assert found == []
    # Nor reaches one by name: the services are known in one place, services/mesh.py.
    assert [p for p in modules("shared") if "import_module" in p.read_text()] == []


def test_the_mesh_module_knows_every_service() -> None:
    from services.mesh import SERVICES
    from shared.wire.topology import SERVICES as NAMES

    assert tuple(SERVICES) == NAMES


def test_no_service_imports_another() -> None:
    found = []
    for service in sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()):
        others = [s for s in ("portal", "gateway", "arm", "gbd_fl", "signature") if s != service]
        found += violations(
            f"services/{service}", ("shared", f"services.{service}", "services"), tuple(f"services.{o}" for o in others)
        )
    assert found == []


def test_the_rules_see_imports_at_any_depth() -> None:
    """The reader itself: imports inside functions count, and relative ones are resolved."""
    probe = ROOT / "shared" / "messaging" / "redrive.py"
    assert "shared.wire.topology" in imports(probe)
    assert any(within(name, "shared") for name in imports(ROOT / "shared" / "wire" / "envelope.py"))

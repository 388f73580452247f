"""Reading one process's own Prometheus metrics, as an operator's scraper would."""

from __future__ import annotations

import httpx

from tools.launcher import Mesh


async def metric_total(mesh: Mesh, process: str, metric: str) -> float:
    """The sum of ``metric``'s samples over all its labels, from one process's ``/metrics``."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(mesh.url(process) + "/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith((f"{metric}{{", f"{metric} "))
    )

"""The serving benchmark's Ray Serve rows: RegServe on 1 and 2 Serve replicas beside gunicorn.

Both run the same app on the same bodies; Serve adds its HTTP proxy, its router and the ASGI
adapter in front of each request. With every core busy, a request costs about cores / rate of
CPU, so the difference between Serve's rate and gunicorn's, both using every core, is what
Serve adds per request.
"""

from __future__ import annotations

import sys
from typing import Any

#: Server key -> Serve replicas. ``--servers rayserve`` measures both.
RAY_SERVE = {"rayserve": 1, "rayserve_2": 2}
TITLES = {"rayserve": "RegServe on Ray Serve, 1 replica",
          "rayserve_2": "RegServe on Ray Serve, 2 replicas"}
MODULES = ("ray", "asgiref")


def ray_command(server: str):
    """The launcher's ``command`` for a Ray Serve run: ``python -m server --ray`` on ``bind``."""

    def command(bind: str) -> list[str]:
        host, port = bind.rsplit(":", 1)
        return [sys.executable, "-m", "server", "--ray", "--host", host, "--port", port,
                "--replicas", str(RAY_SERVE[server])]

    return command


def with_both_sizes(servers: list[str]) -> list[str]:
    """``rayserve`` asked for means 1 and 2 replicas, in that order."""
    if "rayserve" in servers and "rayserve_2" not in servers:
        servers = [*servers]
        servers.insert(servers.index("rayserve") + 1, "rayserve_2")
    return servers


def _rate(result: dict[str, Any], server: str, kind: str) -> float | None:
    for run in result["servers"].get(server, {}).get("runs", []):
        if run["kind"] == kind and run["variants"] == "all":
            return run["closed"]["requests_per_second"] or None
    return None


def ray_serve_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per body (all variants): req/s of gunicorn and of each Serve size, their ratio, and the
    CPU ms Serve adds per request (2 replicas against gunicorn's workers, both on every core)."""
    cores = result["machine"]["cores"]
    headers = ["body", "gunicorn req/s", "Serve 1 replica req/s", "Serve 2 replicas req/s",
               "Serve 2 / gunicorn", "Serve's cost per request, CPU ms"]
    rows = []
    kinds = sorted({run["kind"] for key in RAY_SERVE
                    for run in result["servers"].get(key, {}).get("runs", [])})
    for kind in kinds:
        base, one, two = (_rate(result, key, kind) for key in ("regserve", *RAY_SERVE))
        ratio = f"{two / base:.2f}x" if base and two else "-"
        cost = (f"{cores * 1000 / two - cores * 1000 / base:.1f}" if base and two else "-")
        rows.append([kind, *(f"{r:.0f}" if r else "-" for r in (base, one, two)), ratio, cost])
    return headers, rows

"""The serving benchmark's report: both servers' tables, their ratio, first request, targets."""

from __future__ import annotations

from typing import Any

from benchmarks.report import TARGET_HEADERS, Target, machine_line, markdown_table


def serving_targets(result: dict[str, Any]) -> list[Target]:
    """The issue's serving targets, read at the highest concurrency measured."""
    top = max(result["settings"]["concurrency"])
    ours = _phase(result, "regserve", "/predict", top)
    naive = _phase(result, "naive", "/predict", top)
    ratio = (ours["requests_per_second"] / naive["requests_per_second"]
             if ours and naive and naive["requests_per_second"] else None)
    n = len(result["variants"])
    return [
        Target(f"all-{n} throughput / naive at concurrency {top}", ratio, 10, True, "x"),
        Target(f"all-{n} requests/s at concurrency {top}",
               ours and ours["requests_per_second"], 500, True),
        Target(f"all-{n} p99 at concurrency {top}", ours and ours["p99_ms"], 50, False, " ms"),
        Target("first request / median (RegServe)", _first_ratio(result, "regserve"), 5, False,
               "x"),
    ]


def render_serving(result: dict[str, Any]) -> str:
    """The Markdown report: both servers, their ratio, one vs all variants, first call, targets."""
    settings, levels = result["settings"], result["settings"]["concurrency"]
    n, single, servers = len(result["variants"]), result["single_variant"], result["servers"]
    inputs = result["inputs"]
    lines = [
        "## Serving: RegServe vs the naive Flask baseline",
        "",
        machine_line(result["machine"]),
        "",
        f"{settings['workers']} gunicorn worker(s) per server; up to {settings['requests']} "
        f"requests per level after a short warm-up (cap {settings['time_cap']:g} s); "
        f"{inputs['count']} PNGs {inputs['canvas']}x{inputs['canvas']} ({inputs['format']}) "
        f"made from {inputs['source']}; {n} variants; load average before/after "
        f"{result['machine']['load_average']} / {result['machine']['load_average_after']}.",
        "",
    ]
    rows = []
    for server in servers.values():
        for phase in server["phases"]:
            per = f"all {n}" if phase["path"] == "/predict" else f"1 ({single})"
            rows.append([server["title"], per, phase["concurrency"], phase["requests_ok"],
                         phase["errors"], _num(phase["requests_per_second"]),
                         *(_num(phase[f"p{p}_ms"]) for p in (50, 95, 99))])
    lines += [markdown_table(["server", "variants per request", "concurrency", "ok", "errors",
                              "req/s", "p50 ms", "p95 ms", "p99 ms"], rows), ""]
    if "naive" in servers:
        rows = []
        for level in levels:
            ours, naive = (_phase(result, k, "/predict", level) for k in ("regserve", "naive"))
            rows.append([level, _num(ours["requests_per_second"]),
                         _num(naive["requests_per_second"]),
                         _ratio(ours["requests_per_second"], naive["requests_per_second"]),
                         _num(ours["p99_ms"]), _num(naive["p99_ms"])])
        lines += [f"### RegServe / naive, all {n} variants per request", "",
                  markdown_table(["concurrency", "RegServe req/s", "naive req/s",
                                  "RegServe / naive", "RegServe p99 ms", "naive p99 ms"], rows),
                  ""]
    rows = []
    for level in levels:
        every, one = (_phase(result, "regserve", p, level) for p in servers["regserve"]["paths"])
        rows.append([level, _num(every["requests_per_second"]), _num(one["requests_per_second"]),
                     _ratio(one["requests_per_second"], every["requests_per_second"]),
                     _num(every["p50_ms"]), _num(one["p50_ms"])])
    lines += [f"### RegServe: all {n} variants vs one ({single}) per request", "",
              markdown_table(["concurrency", f"all {n} req/s", "one req/s", "one / all",
                              f"all {n} p50 ms", "one p50 ms"], rows), ""]
    rows = [[server["title"], _num(server["ready_seconds"]), _num(server["first"]["latency_ms"]),
             _num(_phase(result, key, "/predict", min(levels))["p50_ms"]),
             _num(_first_ratio(result, key))] for key, server in servers.items()]
    lines += ["### First /predict after /readyz turned 200", "",
              markdown_table(["server", "ready after s", "first request ms",
                              f"median ms at concurrency {min(levels)}", "first / median"], rows),
              "", "### Targets", "",
              markdown_table(TARGET_HEADERS, [t.row() for t in serving_targets(result)])]
    answers = [server["first"]["predictions"] for server in servers.values()]
    if len(answers) == 2 and all(answers):
        same = sum(answers[0].get(name) == answers[1].get(name) for name in result["variants"])
        lines += ["", f"Same models, same input: on the first request the two servers agreed on "
                  f"{same} of {n} variants' predictions."]
    errors = sum(p["errors"] for server in servers.values() for p in server["phases"])
    if errors:
        lines += ["", f"WARNING: {errors} request(s) failed; see error_examples in the JSON."]
    return "\n".join(lines)


def _phase(result: dict[str, Any], key: str, path: str, level: int) -> dict[str, Any] | None:
    for phase in result["servers"].get(key, {}).get("phases", []):
        if phase["path"] == path and phase["concurrency"] == level:
            return phase
    return None


def _first_ratio(result: dict[str, Any], key: str) -> float | None:
    server = result["servers"].get(key)
    base = _phase(result, key, "/predict", min(result["settings"]["concurrency"]))
    if not server or not base or not base["p50_ms"]:
        return None
    return server["first"]["latency_ms"] / base["p50_ms"]


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"

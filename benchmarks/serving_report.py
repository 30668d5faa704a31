"""The serving benchmark's report: one table of every server and body, the floor, targets, sweep."""

from __future__ import annotations

from typing import Any

from benchmarks.floor import implied_limit
from benchmarks.report import TARGET_HEADERS, Target, machine_line, markdown_table
from benchmarks.serving_ray import TITLES as RAY_SERVE_TITLES
from benchmarks.serving_ray import ray_serve_rows

#: Every server the serving benchmark can measure, and its title in the report: the one list.
TITLES = {"regserve": "RegServe", "regserve_tf": "RegServe on TensorFlow",
          "regserve_bare": "RegServe, /predict outside Flask (a layout, not served)",
          "bentoml": "BentoML 1.4 (adaptive batching)", "litserve": "LitServe 0.2 (batching)",
          "naive": "naive Flask (sync workers)", **RAY_SERVE_TITLES}
SERVERS = tuple(TITLES)
BODY_TITLES = {"canvas": "canvas PNG 280x280", "photo": "photo PNG 579x595",
               "pixels": "JSON pixels, preprocessed"}
#: The issue's goals: req/s per body (all variants), p99 ms, RegServe over each peer, achieved
#: over the floor's limit, per-worker memory and the time from start to /readyz.
RATE_GOALS = {"pixels": 1000, "canvas": 700, "photo": 380}
P99_GOALS = {"pixels": 60, "canvas": 60}
PEER_RATIO, FLOOR_RATIO, WORKER_RSS_MIB, READY_SECONDS = 2.0, 0.7, 250, 3.0


def empty_request_ms(result: dict[str, Any]) -> float | None:
    """CPU ms of an empty request (client included): the cores over ``GET /healthz``'s rate."""
    healthz = result["servers"].get("regserve", {}).get("healthz")
    if not healthz or not healthz.get("requests_per_second"):
        return None
    return result["machine"]["cores"] * 1000.0 / healthz["requests_per_second"]


def floor_limit(result: dict[str, Any], kind: str, all_variants: bool,
                server: str = "regserve") -> float | None:
    """Requests/s the cores allow if a request cost only its floor (None without /healthz),
    with the model call of the runtime ``server`` serves with."""
    empty = empty_request_ms(result)
    floor = result.get("floors", {}).get(server) or result.get("floor")
    if empty is None or not floor:
        return None
    body = floor["bodies"][kind]
    model = floor["model_all_ms"] if all_variants else floor["model_one_ms"]
    return implied_limit(result["machine"]["cores"], empty, body["decode_ms"],
                         body["preprocess_ms"], model)


def run_for(result: dict[str, Any], server: str, kind: str, variants: str = "all"):
    """The closed- and open-loop measurements of one scenario, or ``None``."""
    for run in result["servers"].get(server, {}).get("runs", []):
        if run["kind"] == kind and (run["variants"] == variants
                                    or (variants != "all" and run["variants"] != "all")):
            return run
    return None


def serving_targets(result: dict[str, Any]) -> list[Target]:
    """The issue's targets, on RegServe's default run (closed loop, all variants)."""
    c = result["settings"]["connections"]

    def closed(server: str, kind: str, key: str) -> float | None:
        run = run_for(result, server, kind)
        return run["closed"][key] if run else None

    targets = [Target(f"{kind} {_short(kind)}, all variants, c={c}: req/s",
                      closed("regserve", kind, "requests_per_second"), goal, True)
               for kind, goal in RATE_GOALS.items()]
    targets += [Target(f"{kind}, all variants, c={c}: p99", closed("regserve", kind, "p99_ms"),
                       goal, False, " ms") for kind, goal in P99_GOALS.items()]
    # The issue names BentoML; LitServe, where it ran, is held to the same goal.
    for peer in [p for p in ("bentoml", "litserve") if p == "bentoml" or p in result["servers"]]:
        title = TITLES[peer].split(" ")[0]
        targets += [Target(f"{kind}: RegServe / {title} req/s", _div(
            closed("regserve", kind, "requests_per_second"),
            closed(peer, kind, "requests_per_second")), PEER_RATIO, True, "x") for kind in KINDS]
    targets += [Target(f"{kind}: achieved / floor-implied limit", _div(
        closed("regserve", kind, "requests_per_second"), floor_limit(result, kind, True)),
        FLOOR_RATIO, True) for kind in KINDS]
    regserve = result["servers"].get("regserve", {})
    rss = regserve.get("worker_rss_mib_after_load") or regserve.get("worker_rss_mib_ready")
    targets.append(Target("RSS per worker, all variants loaded, after the load", max(rss)
                          if rss else None, WORKER_RSS_MIB, False, " MiB"))
    targets.append(Target("start to /readyz", regserve.get("ready_seconds"), READY_SECONDS,
                          False, " s"))
    return targets


KINDS = ("canvas", "photo", "pixels")


def _short(kind: str) -> str:
    return BODY_TITLES[kind].split(" ", 1)[1] if kind != "pixels" else "JSON"


def runtime_table(result: dict[str, Any]) -> str | None:
    """RegServe on its default runtime against RegServe on TensorFlow, same run: the ratios
    survive a busy machine better than the rates do."""
    servers = result["servers"]
    if "regserve" not in servers or "regserve_tf" not in servers:
        return None
    rows = []
    for kind in KINDS:
        for variants in ("all", result.get("single_variant") or "one"):
            ours, theirs = run_for(result, "regserve", kind, variants), run_for(
                result, "regserve_tf", kind, variants)
            if not ours or not theirs:
                continue
            rows.append([BODY_TITLES[kind], "all" if variants == "all" else f"1 ({variants})",
                         _num(ours["closed"]["requests_per_second"]),
                         _num(theirs["closed"]["requests_per_second"]),
                         _ratio(ours["closed"]["requests_per_second"],
                                theirs["closed"]["requests_per_second"]),
                         _num(ours["closed"]["p99_ms"]), _num(theirs["closed"]["p99_ms"])])
    runtime = servers["regserve"].get("runtime") or "?"
    memory = [[TITLES[key], servers[key].get("runtime") or "?", _num(servers[key].get(
        "ready_seconds")), _num(max(servers[key].get("worker_rss_mib_ready") or [0]) or None),
        _num(max(servers[key].get("worker_rss_mib_after_load") or [0]) or None)]
        for key in ("regserve", "regserve_tf")]
    return "\n\n".join([
        markdown_table(["body", "variants", f"req/s ({runtime})", "req/s (tensorflow)",
                        "ratio", f"p99 ms ({runtime})", "p99 ms (tensorflow)"], rows),
        markdown_table(["server", "runtime", "start to /readyz s", "worker RSS MiB, ready",
                        "worker RSS MiB, after the load"], memory)])


def layout_table(result: dict[str, Any]) -> str | None:
    """RegServe against the same app with /predict answered outside Flask's request cycle
    (benchmarks/bare_predict.py), same run: req/s, p99 and achieved / floor of each."""
    servers = result["servers"]
    if "regserve" not in servers or "regserve_bare" not in servers:
        return None
    rows = []
    for kind in KINDS:
        ours, bare = run_for(result, "regserve", kind), run_for(result, "regserve_bare", kind)
        if not ours or not bare:
            continue
        limit = floor_limit(result, kind, True)
        rates = [ours["closed"]["requests_per_second"], bare["closed"]["requests_per_second"]]
        rows.append([BODY_TITLES[kind], *map(_num, rates), _ratio(rates[1], rates[0]),
                     _num(ours["closed"]["p99_ms"]), _num(bare["closed"]["p99_ms"]),
                     *(_ratio(rate, limit) for rate in rates)])
    return markdown_table(["body", "req/s (Flask)", "req/s (outside Flask)", "ratio",
                           "p99 ms (Flask)", "p99 ms (outside Flask)",
                           "achieved / floor (Flask)", "achieved / floor (outside Flask)"], rows)


def render_serving(result: dict[str, Any]) -> str:
    """The Markdown report."""
    settings, n = result["settings"], len(result["variants"])
    machine = result["machine"]
    generator = next((run["closed"]["generator"] for server in result["servers"].values()
                      for run in server["runs"]), "n/a")
    lines = [
        "## Serving: " + ", ".join(TITLES.get(key, key).split(" (")[0] for key in result["servers"])
        + ": same run, same models, same bodies",
        "",
        machine_line(machine),
        "",
        f"{settings['workers']} worker processes per server; closed loop: {generator}, "
        f"{settings['connections']} connections, {settings['duration']:g} s per row"
        + (f", {settings['rounds']} rounds (every server started in turn each round; each row "
           "is its median round, every round's req/s in the JSON)"
           if settings.get("rounds", 1) > 1 else "") + "; open loop: "
        f"Python, by the clock, at {', '.join(f'{s:.0%}' for s in settings['open_loop'])} of "
        f"that row's peak; {result['inputs']['count']} bodies of each kind from "
        f"{result['inputs']['source']}; {n} variants; load average before/after "
        f"{machine['load_average']} / {machine['load_average_after']}.",
        "",
    ]
    shares = settings["open_loop"]
    by_round = settings.get("rounds", 1) > 1
    rows = []
    for server, measured in result["servers"].items():
        for run in measured["runs"]:
            closed = run["closed"]
            all_variants = run["variants"] == "all"
            limit = floor_limit(result, run["kind"], all_variants, server)
            opened = {entry["share"]: entry for entry in run["open"]}
            rows.append([
                TITLES.get(server, server), BODY_TITLES[run["kind"]],
                f"all {n}" if all_variants else f"1 ({run['variants']})",
                _num(closed["requests_per_second"]), _num(closed["p50_ms"]),
                _num(closed["p99_ms"]), closed["errors"],
                *(_num(opened[s]["p99_ms"]) if s in opened else "-" for s in shares),
                _num(limit), _ratio(closed["requests_per_second"], limit),
                *([" / ".join(f"{rate:,.0f}" for rate in closed.get(
                    "rounds_requests_per_second") or [])] if by_round else []),
            ])
    lines += [markdown_table(
        ["server", "body", "variants", "req/s", "p50 ms", "p99 ms", "errors",
         *(f"p99 ms at {s:.0%} (open)" for s in shares), "floor limit req/s",
         "achieved / floor", *(["req/s of each round"] if by_round else [])], rows), ""]
    ray_headers, ray_rows = ray_serve_rows(result)
    if ray_rows:
        lines += ["### Ray Serve against gunicorn, same run (closed loop, all variants)", "",
                  markdown_table(ray_headers, ray_rows), ""]
    runtimes = runtime_table(result)
    if runtimes:
        lines += ["### RegServe's two runtimes, same run", "", runtimes, ""]
    bare = layout_table(result)
    if bare:
        lines += ["### What Flask's request cycle costs /predict, same run (all variants)", "",
                  bare, ""]
    lines += ["### The floor: CPU per request, each step alone", "", floor_table(result), "",
              "### Targets", "",
              markdown_table(TARGET_HEADERS, [t.row() for t in serving_targets(result)])]
    if result.get("sweep"):
        lines += ["", "### RegServe settings, one changed at a time (closed loop, all variants)",
                  "", sweep_table(result)]
    lines += ["", agreement_line(result)]
    for note in result.get("notes", []):
        lines += ["", f"NOTE: {note}"]
    errors = sum(run["closed"]["errors"] + sum(o["errors"] for o in run["open"])
                 for server in result["servers"].values() for run in server["runs"])
    if errors:
        lines += ["", f"WARNING: {errors} request(s) failed; see the JSON."]
    return "\n".join(lines)


def floor_table(result: dict[str, Any]) -> str:
    """Decode, preprocessing, model and empty request per body, and the limit they imply; one
    block of rows per RegServe run, its model call measured with the runtime it serves with."""
    cores = result["machine"]["cores"]
    empty = empty_request_ms(result)
    floors = result.get("floors") or {"regserve": result["floor"]}
    rows = []
    for server, floor in floors.items():
        for kind, body in floor["bodies"].items():
            for label, model in ((f"all {floor['variants']}", floor["model_all_ms"]),
                                 ("1", floor["model_one_ms"])):
                total = None if empty is None else (
                    empty + body["decode_ms"] + body["preprocess_ms"] + model)
                rows.append([floor.get("runtime", "tensorflow"), BODY_TITLES[kind], label,
                             _ms(body["decode_ms"]), _ms(body["preprocess_ms"]), _ms(model),
                             _ms(empty), _ms(total),
                             _num(floor_limit(result, kind, label != "1", server))])
    batch = next(iter(floors.values()))["batch"]
    return (markdown_table(["runtime", "body", "variants", "decode ms", "preprocess ms",
                            f"model ms/image (batch {batch})", "empty request ms",
                            "sum ms", f"{cores}-core limit req/s"], rows)
            + f"\n\nThe empty request is {cores} cores over `GET /healthz`'s rate under the same "
            "load generator, so it holds the client's share as every measured row does.")


#: The bodies the settings sweep loads (all variants each).
SWEPT_KINDS = ("photo", "canvas", "pixels")


def sweep_table(result: dict[str, Any]) -> str:
    rows = []
    for row in result["sweep"]:
        cells = [row["name"]]
        for kind in SWEPT_KINDS:
            run = row.get(kind)
            cells += [_num(run and run["requests_per_second"]), _num(run and run["p99_ms"])]
        rows.append(cells)
    return markdown_table(["setting", *(f"{kind} {what}" for kind in SWEPT_KINDS
                                        for what in ("req/s", "p99 ms"))], rows)


def agreement_line(result: dict[str, Any]) -> str:
    """Whether the servers' first answers name the same predictions (same models, same input)."""
    answers = {key: server.get("first", {}).get("predictions")
               for key, server in result["servers"].items()}
    base = answers.get("regserve")
    if not base:
        return "RegServe's first answer named no predictions."
    parts = []
    for key, other in answers.items():
        if key != "regserve" and other:
            same = sum(base.get(name) == other.get(name) for name in result["variants"])
            parts.append(f"{TITLES.get(key, key)} agreed on {same} of {len(result['variants'])}")
    return ("Same models, same first input: " + "; ".join(parts) + "."
            if parts else "Only RegServe answered.")


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "n/a"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"

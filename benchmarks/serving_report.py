"""The serving benchmark's report: one table of every server and body, the floor, targets, sweep."""

from __future__ import annotations

from typing import Any

from benchmarks.floor import implied_limit
from benchmarks.report import TARGET_HEADERS, Target, machine_line, markdown_table

#: Every server the serving benchmark can measure, and its title in the report: the one list.
TITLES = {"regserve": "RegServe", "bentoml": "BentoML 1.4 (adaptive batching)",
          "litserve": "LitServe 0.2 (batching)", "naive": "naive Flask (sync workers)"}
SERVERS = tuple(TITLES)
BODY_TITLES = {"canvas": "canvas PNG 280x280", "photo": "photo PNG 579x595",
               "pixels": "JSON pixels, preprocessed"}


def empty_request_ms(result: dict[str, Any]) -> float | None:
    """CPU ms of an empty request (client included): the cores over ``GET /healthz``'s rate."""
    healthz = result["servers"].get("regserve", {}).get("healthz")
    if not healthz or not healthz.get("requests_per_second"):
        return None
    return result["machine"]["cores"] * 1000.0 / healthz["requests_per_second"]


def floor_limit(result: dict[str, Any], kind: str, all_variants: bool) -> float | None:
    """Requests/s the cores allow if a request cost only its floor (None without /healthz)."""
    empty = empty_request_ms(result)
    floor = result["floor"]
    if empty is None:
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
    """The issue's targets, on the closed-loop runs at the measured connection count."""
    c = result["settings"]["connections"]

    def closed(server: str, kind: str, key: str) -> float | None:
        run = run_for(result, server, kind)
        return run["closed"][key] if run else None

    targets = [
        Target(f"photo PNG, all variants, c={c}: req/s", closed("regserve", "photo",
                                                                "requests_per_second"), 380, True),
        Target(f"photo PNG, all variants, c={c}: p99", closed("regserve", "photo", "p99_ms"), 60,
               False, " ms"),
        Target(f"canvas PNG, all variants, c={c}: req/s",
               closed("regserve", "canvas", "requests_per_second"), 700, True),
        Target(f"canvas PNG, all variants, c={c}: p99", closed("regserve", "canvas", "p99_ms"), 40,
               False, " ms"),
        Target(f"pixels, all variants, c={c}: req/s",
               closed("regserve", "pixels", "requests_per_second"), 1000, True),
    ]
    # The issue names BentoML; LitServe, where it ran, is held to the same goal.
    peers = [peer for peer in ("bentoml", "litserve")
             if peer == "bentoml" or peer in result["servers"]]
    for peer in peers:
        title = TITLES[peer].split(" ")[0]
        for kind in ("canvas", "photo", "pixels"):
            ours, theirs = (closed(s, kind, "requests_per_second") for s in ("regserve", peer))
            ours_p99, their_p99 = (closed(s, kind, "p99_ms") for s in ("regserve", peer))
            targets.append(Target(f"{kind}: RegServe / {title} req/s", _div(ours, theirs), 1.5,
                                  True, "x"))
            targets.append(Target(f"{kind}: RegServe p99 / {title} p99",
                                  _div(ours_p99, their_p99), 1.0, False, "x"))
    photo = closed("regserve", "photo", "requests_per_second")
    targets.append(Target("photo PNG: achieved / floor-implied limit",
                          _div(photo, floor_limit(result, "photo", True)), 0.7, True))
    return targets


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
        f"{settings['connections']} connections, {settings['duration']:g} s per row; open loop: "
        f"Python, by the clock, at {', '.join(f'{s:.0%}' for s in settings['open_loop'])} of "
        f"that row's peak; {result['inputs']['count']} bodies of each kind from "
        f"{result['inputs']['source']}; {n} variants; load average before/after "
        f"{machine['load_average']} / {machine['load_average_after']}.",
        "",
    ]
    shares = settings["open_loop"]
    rows = []
    for server, measured in result["servers"].items():
        for run in measured["runs"]:
            closed = run["closed"]
            all_variants = run["variants"] == "all"
            limit = floor_limit(result, run["kind"], all_variants)
            opened = {entry["share"]: entry for entry in run["open"]}
            rows.append([
                TITLES.get(server, server), BODY_TITLES[run["kind"]],
                f"all {n}" if all_variants else f"1 ({run['variants']})",
                _num(closed["requests_per_second"]), _num(closed["p50_ms"]),
                _num(closed["p99_ms"]), closed["errors"],
                *(_num(opened[s]["p99_ms"]) if s in opened else "-" for s in shares),
                _num(limit), _ratio(closed["requests_per_second"], limit),
            ])
    lines += [markdown_table(
        ["server", "body", "variants", "req/s", "p50 ms", "p99 ms", "errors",
         *(f"p99 ms at {s:.0%} (open)" for s in shares), "floor limit req/s",
         "achieved / floor"], rows), ""]
    lines += ["### The floor: CPU per request, each step alone", "", floor_table(result), "",
              "### Targets (issue 13)", "",
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
    """Decode, preprocessing, model and empty request per body, and the limit they imply."""
    floor, cores = result["floor"], result["machine"]["cores"]
    empty = empty_request_ms(result)
    rows = []
    for kind, body in floor["bodies"].items():
        for label, model in ((f"all {floor['variants']}", floor["model_all_ms"]),
                             ("1", floor["model_one_ms"])):
            total = None if empty is None else (empty + body["decode_ms"] + body["preprocess_ms"]
                                                + model)
            rows.append([BODY_TITLES[kind], label, _ms(body["decode_ms"]),
                         _ms(body["preprocess_ms"]), _ms(model), _ms(empty), _ms(total),
                         _num(floor_limit(result, kind, label != "1"))])
    return (markdown_table(["body", "variants", "decode ms", "preprocess ms",
                            f"model ms/image (batch {floor['batch']})", "empty request ms",
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

"""The project's modules import one another without a circle, and every product module is small.

The graph counts every import statement, those inside functions too: a circle that is only
closed at call time still means neither module can be read without the other.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from tests.support import REPO_ROOT

PACKAGES = ("regserve_contracts", "analysis", "trainer", "server", "client", "benchmarks")
PRODUCT = ("regserve_contracts", "analysis", "trainer", "server", "client")
MAX_LINES = 300

#: Known offenders that other work in progress removes; empty each entry once that is merged
#: (the tests below fail on an entry that no longer offends, so the list cannot go stale).
KNOWN_CIRCLES: set[frozenset[str]] = set()
KNOWN_LONG: set[str] = set()


def module_files() -> dict[str, Path]:
    """Every module of the project's packages by dotted name (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file, relative imports resolved.

    ``from package import thing`` counts as an import of ``package.thing`` when that is a
    module, else of ``package``.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@functools.lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_the_graph_sees_imports_inside_functions_and_relative_ones(tmp_path):
    """The graph itself: a function's late import and a relative import are both edges, and a
    circle through them is found (a graph that missed them would pass everything)."""
    graph = import_graph()
    assert "server.app" in graph["server"]  # server/__init__.py imports it inside create_app
    module = tmp_path / "mod.py"
    module.write_text("from . import other\n\ndef late():\n    from ..top import thing\n")
    known = {"pkg.sub.mod": module, "pkg.sub.other": module, "pkg.top": module}
    assert imports_of("pkg.sub.mod", module, known) == {"pkg.sub.other", "pkg.top"}
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(toy) == [frozenset({"a", "b", "c"})]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_the_project_modules():
    found = set(circles(import_graph()))
    assert found - KNOWN_CIRCLES == set(), "import circles"
    assert KNOWN_CIRCLES - found == set(), "fixed: remove these from KNOWN_CIRCLES"


def test_every_product_module_is_under_300_lines():
    lengths = {str(path.relative_to(REPO_ROOT)): len(path.read_text().splitlines())
               for package in PRODUCT for path in (REPO_ROOT / package).rglob("*.py")}
    long = {path for path, count in lengths.items() if count >= MAX_LINES}
    assert long - KNOWN_LONG == set(), {path: lengths[path] for path in long - KNOWN_LONG}
    assert KNOWN_LONG - long == set(), "fixed: remove these from KNOWN_LONG"


def third_party_imports(path: Path) -> set[str]:
    """The dotted names a file imports from outside the project, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
    return found


def test_the_analysis_imports_neither_tensorflow_nor_the_trainer():
    """analysis/ reads models/ through regserve_contracts: no TensorFlow, Keras or trainer."""
    graph = import_graph()
    for name, path in module_files().items():
        if name.partition(".")[0] != "analysis":
            continue
        assert not {t for t in graph[name] if t.partition(".")[0] == "trainer"}, name
        heavy = {m for m in third_party_imports(path) if m.partition(".")[0] in
                 {"tensorflow", "keras", "trainer"}}
        assert not heavy, f"{name} imports {sorted(heavy)}"


def test_the_trainer_leaves_statistics_and_charts_to_the_analysis():
    """No trainer module imports matplotlib or scipy's statistics; reading EMNIST's .mat files
    (scipy.io, in the data sources) is the one scipy use the trainer keeps."""
    for name, path in module_files().items():
        if name.partition(".")[0] != "trainer":
            continue
        banned = {m for m in third_party_imports(path)
                  if m.partition(".")[0] == "matplotlib"
                  or (m.partition(".")[0] == "scipy" and not m.startswith("scipy.io"))}
        assert not banned, f"{name} imports {sorted(banned)}"


def test_no_merge_conflict_marker_is_committed():
    """No tracked text file holds a line starting with a conflict marker (a merge left behind)."""
    import subprocess

    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    markers = ("<<<<<<< ", ">>>>>>> ", "<<<<<<<\n", ">>>>>>>\n")
    found = []
    for name in filter(None, files):
        path = REPO_ROOT / name
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue  # binary or gone: not a text file
        found += [f"{name}:{number}" for number, line in enumerate(text.splitlines(True), 1)
                  if line.startswith(markers)]
    assert found == [], f"conflict markers at {found}"

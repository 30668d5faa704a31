"""The contracts package is the only thing trainer, server and client share."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.support import REPO_ROOT as REPO


def _imported_modules(package: str) -> set[str]:
    """Every module named by an import statement anywhere in ``package`` (lazy imports too)."""
    found = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return found


@pytest.mark.parametrize("package", ["server", "client"])
def test_server_and_client_never_import_the_trainer(package):
    """The server and the clients meet the trainer only through the contracts package."""
    offenders = {m for m in _imported_modules(package) if m.split(".")[0] == "trainer"}
    assert offenders == set()


def test_the_contracts_import_none_of_the_parts():
    """regserve_contracts depends on no part of the project (only numpy and Pillow)."""
    parts = ("trainer", "server", "client", "benchmarks", "tests")
    imported = _imported_modules("regserve_contracts")
    assert {m for m in imported if m.split(".")[0] in parts} == set()


def test_the_contracts_load_without_tensorflow_or_keras():
    """Importing every contract module in a fresh interpreter pulls in no TensorFlow or Keras."""
    modules = sorted(p.stem for p in (REPO / "regserve_contracts").glob("*.py")
                     if p.stem != "__init__")
    code = (
        "import sys\n"
        f"for name in {modules!r}: __import__('regserve_contracts.' + name)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == ""


def test_benchmarks_never_import_the_tests():
    """Tests may use the benchmarks' helpers; the benchmarks run from an install without tests/."""
    imported = _imported_modules("benchmarks")
    assert {m for m in imported if m.split(".")[0] == "tests"} == set()


def test_the_runtime_imports_no_web_framework():
    """server.runtime (loading, selection, inference, batching) knows nothing of HTTP."""
    imported = _imported_modules("server/runtime")
    assert {m for m in imported if m.split(".")[0] in ("flask", "werkzeug")} == set()

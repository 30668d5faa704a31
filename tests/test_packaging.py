"""The Dockerfile, the Makefile, CI and pyproject agree with the code they package."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path

import pytest

from tests.support import REPO_ROOT as REPO


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def instruction(name: str) -> list[str]:
    return [rest for keyword, rest in dockerfile_instructions() if keyword == name]


def test_docker_command_runs_the_app_factory_with_the_projects_gunicorn_config():
    """CMD is ``python -m server`` with arguments it accepts; the launcher turns them into
    gunicorn with a config file the image holds and an app factory that imports."""
    from server.__main__ import parse_args
    from server.launcher import PROJECT_ROOT, gunicorn_command

    command = json.loads(instruction("CMD")[-1])
    assert command[:3] == ["python", "-m", "server"]
    options = parse_args(command[3:])
    assert options.bind == "0.0.0.0:8000" and options.workers is None and not options.dev
    gunicorn = gunicorn_command(options.bind, options.workers)
    assert gunicorn[1:3] == ["-m", "gunicorn"]
    config = Path(gunicorn[gunicorn.index("-c") + 1]).relative_to(PROJECT_ROOT)
    copied = {rest.split()[0] for rest in instruction("COPY")}
    assert config.parts[0] in copied and (REPO / config).is_file()
    module_name, _, call = gunicorn[-1].partition(":")
    assert call.endswith("()")
    factory = getattr(importlib.import_module(module_name), call[:-2])
    assert callable(factory)


def test_docker_copies_every_package_and_ignores_none_of_them():
    """Each package pyproject installs is copied into the image and not excluded by .dockerignore,
    and the wheel holds every subpackage (trainer.data included)."""
    from setuptools import find_packages

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    installed = set(find_packages(str(REPO), include=include))
    roots = {pattern.rstrip("*") for pattern in include}
    on_disk = {str(init.parent.relative_to(REPO)).replace("/", ".")
               for root in roots for init in (REPO / root).rglob("__init__.py")}
    assert on_disk <= installed, f"not installed: {sorted(on_disk - installed)}"
    copied = {rest.split()[0] for rest in instruction("COPY")}
    ignored = set((REPO / ".dockerignore").read_text().split())
    for package in roots:
        assert package in copied, f"{package} is not copied into the image"
        assert package not in ignored
        assert (REPO / package / "__init__.py").is_file()


def test_the_serving_install_and_image_hold_no_tensorflow():
    """[serve] runs the ONNX twins (onnxruntime, onnx) without TensorFlow, which only
    [serve-tf] and [train] bring; the image installs [serve]."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]

    def names(extra: str) -> set[str]:
        return {re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower()
                for requirement in extras[extra]}

    assert "tensorflow" not in names("serve") and {"onnxruntime", "onnx"} <= names("serve")
    assert {"regserve", "tensorflow"} <= names("serve-tf")
    assert {"tensorflow", "onnxruntime", "onnx"} <= names("train")
    installs = [rest for rest in instruction("RUN") if "pip install" in rest]
    assert installs and all("'.[serve]'" in rest for rest in installs)


def test_docker_image_runs_as_a_non_root_user_with_models_as_a_volume():
    """USER is not root, and MODELS_DIR points at the declared volume."""
    user = instruction("USER")[-1]
    assert user not in ("root", "0")
    volume = json.loads(instruction("VOLUME")[-1])
    env = " ".join(instruction("ENV"))
    assert f"MODELS_DIR={volume[0]}" in env


def test_docker_healthcheck_probes_a_route_the_app_serves(tmp_path):
    """The HEALTHCHECK's path is a route of the real app, which answers it with 200."""
    health = instruction("HEALTHCHECK")[-1]
    path = re.search(r"http://127\.0\.0\.1:8000(/\w+)", health).group(1)
    from server import create_app

    app = create_app(models_dir=tmp_path)
    app.testing = True
    assert app.test_client().get(path).status_code == 200


def test_console_scripts_point_at_callables():
    """Every console script in pyproject names a function that exists."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    for name, target in scripts.items():
        module_name, _, attribute = target.partition(":")
        assert callable(getattr(importlib.import_module(module_name), attribute)), name


def test_ci_runs_exactly_the_readme_test_command():
    """.ci/run runs `make test`, and the README's Quickstart gives `make demo` and `make test`."""
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.MULTILINE)
    readme = (REPO / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quickstart and "make test" in quickstart


@pytest.mark.parametrize("target", ["demo", "test"])
def test_makefile_has_the_readme_targets(target):
    """The Makefile defines the two Quickstart targets."""
    assert re.search(rf"^{target}:", (REPO / "Makefile").read_text(), re.MULTILINE)


def test_the_license_is_an_spdx_string_that_the_build_backend_reads():
    """PEP 639's string form (setuptools 77+); the old table form prints deprecation boxes."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    requires = pyproject["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77
               for r in requires), requires


def test_the_demo_installs_only_what_it_runs_and_the_tests_the_rest():
    """`make demo` installs the train and serve extras; `make test` the test extra, one venv."""
    makefile = (REPO / "Makefile").read_text()
    demo = re.search(r"^\$\(VENV\)/\.installed-demo:.*?\n\n", makefile, re.S | re.M).group(0)
    test = re.search(r"^\$\(VENV\)/\.installed-test:.*?\n\n", makefile, re.S | re.M).group(0)
    assert "-e '.[train,serve]'" in demo and "[test]" not in demo
    assert "-e '.[test]'" in test and ".installed-demo" in test
    assert re.search(r"^demo: \$\(VENV\)/\.installed-demo$", makefile, re.M)
    assert re.search(r"^test: \$\(VENV\)/\.installed-test$", makefile, re.M)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    own = [r for r in project["optional-dependencies"]["test"] if r.startswith("regserve[")]
    assert len(own) == 1 and {"train", "serve"} <= set(own[0][len("regserve["):-1].split(","))

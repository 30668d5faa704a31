"""deploy/k8s/: every manifest is what the Kubernetes API accepts (checked against its OpenAPI
models, no cluster), and what it says about the server (ports, probes, settings, memory) is true
of the server."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import requests
import yaml

from server.settings import ConfigError, ServerSettings, load_settings
from tests.support import REPO_ROOT

pytest.importorskip("kubernetes", reason="the manifests are checked with the kubernetes client")
from tests.support.k8s import problems  # noqa: E402

K8S = REPO_ROOT / "deploy" / "k8s"
MANIFESTS = sorted(K8S.rglob("*.yaml"))
TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "regserve.conf.template"
SETTING_NAMES = {spec.metadata["env"] for spec in ServerSettings.__dataclass_fields__.values()}
#: Read by glibc, not by the server (fewer malloc arenas keep RSS flat over reloads).
PROCESS_ENV = {"MALLOC_ARENA_MAX"}
MIB = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}


def objects() -> dict[str, dict]:
    """Every object under deploy/k8s/ by kind."""
    found = {}
    for path in MANIFESTS:
        for manifest in yaml.safe_load_all(path.read_text()):
            found[manifest["kind"]] = manifest
    return found


def quantity(text: str) -> int:
    """A Kubernetes memory quantity in bytes."""
    number, unit = re.fullmatch(r"(\d+)([KMG]i?|k)?", str(text)).groups()
    return int(number) * MIB.get(unit or "", 1)


def regserve_containers() -> list[dict]:
    """The containers that run RegServe: the Deployment's and the KServe predictor's."""
    kinds = objects()
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    return [*(c for c in pod["containers"] if c["name"] == "regserve"),
            *kinds["InferenceService"]["spec"]["predictor"]["containers"]]


def bound_port(container: dict) -> int:
    command = container["command"]
    host, _, port = command[command.index("--bind") + 1].rpartition(":")
    assert command[:3] == ["python", "-m", "server"] and host == "0.0.0.0"
    return int(port)


def probe_port(container: dict, probe: dict) -> int:
    port = probe["httpGet"]["port"]
    named = {p.get("name"): p["containerPort"] for p in container["ports"]}
    return named[port] if isinstance(port, str) else port


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: str(path.relative_to(K8S)))
def test_every_manifest_is_what_the_kubernetes_api_accepts(path):
    manifests = list(yaml.safe_load_all(path.read_text()))
    assert manifests
    for manifest in manifests:
        assert problems(manifest) == []


def test_the_checker_finds_unknown_fields_wrong_types_and_missing_required_ones():
    deployment = yaml.safe_load((K8S / "deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    deployment["spec"]["replicas"] = "2"
    del deployment["spec"]["selector"]
    found = problems(deployment)
    assert any("no field 'pathh'" in p for p in found), found
    assert any("replicas: expected int" in p for p in found), found
    assert any("selector" in p and "None" in p for p in found), found


def test_the_app_answers_every_probe_on_the_port_it_binds(app):
    """Readiness on /readyz (or V2's ready), liveness on /healthz (or V2's live), both on the
    port that `python -m server --bind` listens on, and both routes of the app."""
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    for container in regserve_containers():
        port = bound_port(container)
        assert port in {p["containerPort"] for p in container["ports"]}
        ready, live = container["readinessProbe"], container["livenessProbe"]
        assert ready["httpGet"]["path"] in {"/readyz", "/v2/health/ready"}
        assert live["httpGet"]["path"] in {"/healthz", "/v2/health/live"}
        for probe in (ready, live):
            assert probe["httpGet"]["path"] in routes
            assert probe_port(container, probe) == port


def test_every_environment_variable_is_a_setting_the_server_accepts():
    for container in regserve_containers():
        env = {item["name"]: item["value"] for item in container["env"]}
        assert set(env) - PROCESS_ENV <= SETTING_NAMES, set(env) - PROCESS_ENV - SETTING_NAMES
        try:
            settings = load_settings(environ=env)
        except ConfigError as error:
            pytest.fail(f"{container['name']}: {error}")
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[str(settings.models_dir)]["readOnly"] is True


def test_the_models_volume_is_the_claim_and_is_read_only():
    kinds = objects()
    claim = kinds["PersistentVolumeClaim"]["metadata"]["name"]
    pods = [kinds["Deployment"]["spec"]["template"]["spec"],
            kinds["InferenceService"]["spec"]["predictor"]]
    for pod in pods:
        volume = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
        assert volume["persistentVolumeClaim"] == {"claimName": claim, "readOnly": True}


def test_nginx_beside_the_app_fills_the_template_and_the_service_reaches_it():
    """The sidecar sets every placeholder of the one nginx template, proxies to the app's port,
    mounts the ConfigMap the header's command creates; the Service and the HPA find the pods."""
    kinds = objects()
    deployment = kinds["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    nginx = next(c for c in pod["containers"] if c["name"] == "nginx")
    env = {item["name"]: item["value"] for item in nginx["env"]}
    placeholders = set(re.findall(r"\$\{(REGSERVE_[A-Z_]+)\}", TEMPLATE.read_text()))
    assert {name for name in env if name.startswith("REGSERVE_")} == placeholders
    app = next(c for c in pod["containers"] if c["name"] == "regserve")
    assert env["REGSERVE_UPSTREAM"] == f"127.0.0.1:{bound_port(app)}"
    assert int(env["REGSERVE_LISTEN"]) in {p["containerPort"] for p in nginx["ports"]}
    command = next(line for line in (K8S / "deployment.yaml").read_text().splitlines()
                   if "kubectl create configmap" in line)
    words = shlex.split(command.lstrip("# "))
    config_map = next(v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v)
    assert words[3] == config_map and (REPO_ROOT / words[4].split("=", 1)[1]) == TEMPLATE
    service = kinds["Service"]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"][
        "labels"].items()
    target = service["spec"]["ports"][0]["targetPort"]
    assert target in {p.get("name") for p in nginx["ports"]}
    scaled = kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (scaled["kind"], scaled["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert all("cpu" in c["resources"]["requests"] for c in pod["containers"])  # HPA needs it


@pytest.mark.slow
def test_the_memory_request_covers_a_measured_worker(live_server, png):
    """A gunicorn worker serving every variant, after answering, fits the memory request; the
    limit leaves at least half as much again."""
    for _ in range(20):
        answer = requests.post(live_server.url + "/predict?include=stability", timeout=30,
                               data=png, headers={"Content-Type": "image/png"})
        assert answer.status_code == 200
    (worker,) = live_server.worker_pids()
    status = Path(f"/proc/{worker}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024
    print(f"\nworker RSS {rss / 2**20:.0f} MiB")
    for container in regserve_containers():
        request = quantity(container["resources"]["requests"]["memory"])
        limit = quantity(container["resources"]["limits"]["memory"])
        assert rss <= request and limit >= 1.5 * rss, (rss, request, limit)

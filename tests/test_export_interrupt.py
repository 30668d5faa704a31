"""A trainer killed while exporting leaves no version a server would load; the next run succeeds.

Each child process trains one tiny variant and is SIGKILLed at a chosen point inside
``layout.new_version``: while the SavedModel is half written, or with everything written but
just before the rename. The hooks are monkeypatched in
the child only; production code has no test hooks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from regserve_contracts import layout
from tests.support import REPO_ROOT

VARIANT = "none"
#: A SIGKILL while files are half written, and one with the whole model written but hidden.
DEATHS = ("half-written SavedModel", "before the rename")

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path

    import trainer.train as train
    from trainer.data.synthetic import load_synthetic
    from trainer.train import TrainConfig, train_variant
    from regserve_contracts.variants import get_variant

    models_dir, death, variant = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def die():
        print("DYING", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    def served():
        # The server's own loader, as a fresh server process would run it.
        from server.runtime.registry import ModelRegistry

        registry = ModelRegistry(models_dir, warmup_batch_sizes=(1,))
        registry.refresh()
        snapshot = registry.snapshot
        return {"loaded": {n: v.version for n, v in snapshot.variants.items()},
                "failed": sorted(snapshot.failed)}

    real_export, real_rename = train.export_saved_model, os.rename

    def half_export(model, path):
        real_export(model, path)
        pb = Path(path) / "saved_model.pb"
        pb.write_bytes(pb.read_bytes()[: pb.stat().st_size // 2])
        die()

    def rename_then_die(src, dst, *args, **kwargs):
        if Path(src).name.startswith(".staging-"):
            die()
        return real_rename(src, dst, *args, **kwargs)

    if death == "half-written SavedModel":
        train.export_saved_model = half_export
    elif death == "before the rename":
        os.rename = rename_then_die
    else:
        # The clean run imports while the others die, then waits for the go-ahead.
        sys.stdin.readline()
        print("BEFORE " + json.dumps(served()), flush=True)
    dataset = load_synthetic(train_size=94, test_size=47, seed=1)
    result = train_variant(get_variant(variant), dataset,
                           TrainConfig(epochs=1, batch_size=47, verbose=0), models_dir)
    print("DONE", result.version_dir, flush=True)
    print("AFTER " + json.dumps(served()), flush=True)
    """
)


def run_child(script: Path, models_dir: Path, death: str) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO_ROOT),
           "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(
        [sys.executable, str(script), str(models_dir), death, VARIANT],
        cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )


def finish(child: subprocess.Popen, stdin: str = "", timeout: float = 240) -> str:
    try:
        output, _ = child.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        output, _ = child.communicate()
        pytest.fail(f"the trainer did not finish in {timeout} s:\n{output}")
    return output


def reported(output: str, tag: str) -> dict:
    line = next((line for line in output.splitlines() if line.startswith(tag + " ")), None)
    assert line is not None, f"no {tag} line in:\n{output}"
    return json.loads(line[len(tag) + 1 :])


@pytest.mark.slow
def test_killed_exports_leave_no_version_and_the_next_run_succeeds(models_dir, tmp_path):
    """SIGKILL at two points inside new_version: versions() is unchanged, only hidden staging
    folders remain (one a whole model), the server's loader serves version 1 and ignores
    them, and the next run adds version 2, which the loader then serves."""
    models = tmp_path / "models"
    source = layout.newest_version(models_dir / VARIANT)
    assert source is not None, "the session's models lack the 'none' variant"
    shutil.copytree(source, models / VARIANT / "1")
    script = tmp_path / "dying_trainer.py"
    script.write_text(CHILD)

    clean = run_child(script, models, "none")  # imports meanwhile; trains on "go"
    try:
        check_deaths_and_next_run(script, models, clean)
    finally:
        if clean.poll() is None:
            clean.kill()
            clean.communicate()


def check_deaths_and_next_run(script: Path, models: Path, clean: subprocess.Popen) -> None:
    """Let each dying trainer die, check what it left, then let ``clean`` train and report."""
    children = {death: run_child(script, models, death) for death in DEATHS}
    for death, child in children.items():
        output = finish(child)
        assert child.returncode == -signal.SIGKILL, f"{death}: exit {child.returncode}\n{output}"
        assert "DYING" in output and "DONE" not in output, output

    variant_dir = models / VARIANT
    assert layout.versions(variant_dir) == [1]
    assert layout.newest_version(variant_dir) == variant_dir / "1"
    assert layout.variant_dirs(models) == [variant_dir]
    leftovers = sorted(p.name for p in variant_dir.iterdir()  # config.pbtxt: version 1's, Triton's
                       if p.name not in ("1", "config.pbtxt"))
    assert len(leftovers) == len(DEATHS), leftovers
    assert all(name.startswith(".staging-") for name in leftovers), leftovers
    complete = [name for name in leftovers if layout.is_complete(variant_dir / name)]
    assert len(complete) == 1, "the death before the rename left a whole model, still hidden"

    output = finish(clean, stdin="go\n")
    assert clean.returncode == 0, output
    assert reported(output, "BEFORE") == {"loaded": {VARIANT: 1}, "failed": []}
    assert reported(output, "AFTER") == {"loaded": {VARIANT: 2}, "failed": []}
    assert layout.versions(variant_dir) == [1, 2]
    assert layout.read_metadata(variant_dir / "2")["variant"]["name"] == VARIANT

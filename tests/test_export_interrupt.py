"""A trainer killed while exporting leaves no version a server would load, and the next run succeeds.

Each child process trains one tiny variant and is SIGKILLed at a chosen point inside
``layout.new_version``: while the SavedModel is half written, while metadata.json is half
written, or with everything written but just before the rename. The hooks are monkeypatched in
the child only; production code has no test hooks.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from trainer import layout

REPO_ROOT = Path(__file__).resolve().parents[1]
VARIANT = "none"
DEATHS = ("half-written SavedModel", "half-written metadata", "before the rename")

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    import trainer.layout as layout
    import trainer.train as train
    from trainer.data.synthetic import load_synthetic
    from trainer.train import TrainConfig, train_variant
    from trainer.variants import get_variant

    models_dir, death = Path(sys.argv[1]), sys.argv[2]

    def die():
        print("DYING", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    real_export, real_json, real_rename = train.export_saved_model, layout.write_json_atomic, os.rename

    def half_export(model, path):
        real_export(model, path)
        pb = Path(path) / "saved_model.pb"
        pb.write_bytes(pb.read_bytes()[: pb.stat().st_size // 2])
        die()

    def half_json(path, data):
        # What a dying write leaves: the temporary file, partly written, never renamed.
        (Path(path).parent / f".{Path(path).name}.partial").write_text('{"variant": {"na')
        die()

    def rename_then_die(src, dst, *args, **kwargs):
        if Path(src).name.startswith(".staging-"):
            die()
        return real_rename(src, dst, *args, **kwargs)

    if death == "half-written SavedModel":
        train.export_saved_model = half_export
    elif death == "half-written metadata":
        layout.write_json_atomic = half_json
    elif death == "before the rename":
        os.rename = rename_then_die
    dataset = load_synthetic(train_size=94, test_size=47, seed=1)
    result = train_variant(get_variant(sys.argv[3]), dataset,
                           TrainConfig(epochs=1, batch_size=47, verbose=0), models_dir)
    print("DONE", result.version_dir, flush=True)
    """
)


def run_child(script: Path, models_dir: Path, death: str) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO_ROOT),
           "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(
        [sys.executable, str(script), str(models_dir), death, VARIANT],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def finish(child: subprocess.Popen, timeout: float = 240) -> str:
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        output, _ = child.communicate()
        pytest.fail(f"the trainer did not finish in {timeout} s:\n{output}")
    return output


def serve_once(version_dir: Path) -> np.ndarray:
    """Load a version as the server does (its serving signature) and classify one blank image."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(version_dir))
    outputs = loaded.signatures["serving_default"](image=tf.zeros([1, 28, 28, 1], tf.float32))
    return outputs["probabilities"].numpy()


@pytest.mark.slow
def test_killed_exports_leave_no_version_and_the_next_run_succeeds(models_dir, tmp_path):
    """SIGKILL at three points inside new_version: versions() is unchanged, only hidden staging
    folders remain, the models dir still lists the old version, and a clean run adds N+1."""
    models = tmp_path / "models"
    source = layout.newest_version(models_dir / VARIANT)
    assert source is not None, "the session's models lack the 'none' variant"
    shutil.copytree(source, models / VARIANT / "1")
    script = tmp_path / "dying_trainer.py"
    script.write_text(CHILD)

    children = {death: run_child(script, models, death) for death in DEATHS}
    for death, child in children.items():
        output = finish(child)
        assert child.returncode == -signal.SIGKILL, f"{death}: exit {child.returncode}\n{output}"
        assert "DYING" in output and "DONE" not in output, output

    variant_dir = models / VARIANT
    assert layout.versions(variant_dir) == [1]
    assert layout.newest_version(variant_dir) == variant_dir / "1"
    assert layout.variant_dirs(models) == [variant_dir]
    leftovers = sorted(p.name for p in variant_dir.iterdir() if p.name != "1")
    assert len(leftovers) == len(DEATHS), leftovers
    assert all(name.startswith(".staging-") for name in leftovers), leftovers
    complete = [name for name in leftovers if layout.is_complete(variant_dir / name)]
    assert len(complete) == 1, "the death before the rename left a whole model, still hidden"

    clean = run_child(script, models, "none")
    output = finish(clean)
    assert clean.returncode == 0, output
    assert layout.versions(variant_dir) == [1, 2]
    newest = layout.newest_version(variant_dir)
    assert newest == variant_dir / "2"
    assert layout.read_metadata(newest)["variant"]["name"] == VARIANT
    probabilities = serve_once(newest)
    assert probabilities.shape == (1, 47)
    assert np.isclose(probabilities.sum(), 1.0, atol=1e-4)

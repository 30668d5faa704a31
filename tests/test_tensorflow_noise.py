"""TensorFlow's start-up noise where TensorFlow runs: the trainer and the TensorFlow runtime.

On a machine without a GPU, TensorFlow's probe for CUDA logs a failure that reads as a fault,
and its C++ start-up notes ignore TF_CPP_MIN_LOG_LEVEL. A GPU machine keeps every line
TensorFlow writes (they then say which device trains or serves), so these tests skip there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import pytest

from regserve_contracts.tensorflow_log import has_nvidia_gpu
from server.launcher import child_env, start

pytestmark = pytest.mark.skipif(has_nvidia_gpu(), reason="a machine with a GPU keeps every "
                                "line TensorFlow writes: its device notes are not noise there")

#: A C++ log line (severity, MMDD, time, thread), its prefix stripped to compare messages.
CPP_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ")
ABSL_PREAMBLE = "All log messages before absl::InitializeLog() is called"


def repeated_lines(stderr: str) -> list[str]:
    """TensorFlow's start-up lines (C++ log lines and the absl preamble) written twice or more."""
    lines = [CPP_LINE.sub("", line) for line in stderr.splitlines()
             if CPP_LINE.match(line) or ABSL_PREAMBLE in line]
    return [line for line, count in Counter(lines).items() if count > 1]


@pytest.mark.slow  # trains one variant for one epoch in a real process
def test_the_trainer_writes_tensorflows_start_up_notes_at_most_once(tmp_path):
    """As a user runs it (no TF_CPP_MIN_LOG_LEVEL, no --quiet): its progress lines, no CUDA
    probe failure, and no TensorFlow start-up line twice."""
    env = {key: value for key, value in child_env().items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    process = subprocess.run(
        [sys.executable, "-m", "trainer", "--variant", "none", "--data", "synthetic",
         "--limit", "470", "--epochs", "1", "--models-dir", str(tmp_path / "models")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-2000:]
    assert "[1/1] none: test accuracy" in process.stderr
    assert "failed call to cuInit" not in process.stderr
    assert repeated_lines(process.stderr) == [], process.stderr


@pytest.mark.slow  # starts gunicorn and loads a SavedModel in TensorFlow
def test_the_tensorflow_runtime_keeps_the_gpu_probe_out_of_the_server_log(models_dir, tmp_path):
    """REGSERVE_RUNTIME=tensorflow (the serve-tf extra): TensorFlow is imported in the worker,
    and neither the probe's failure, the absl preamble nor an INFO line reaches the log."""
    env = {"REGSERVE_RUNTIME": "tensorflow", "REGSERVE_VARIANTS": "none",
           "REGSERVE_WARMUP_BATCH_SIZES": "1"}
    with start(tmp_path / "server.log", models_dir=models_dir, env=env) as server:
        log = server.log()
        workers = server.worker_pids()
        assert workers and all(tensorflow_loaded(pid) for pid in workers)
    assert re.search(r"serving 1 model version\(s\) on tensorflow: none ", log), log[-2000:]
    assert "cuInit" not in log and ABSL_PREAMBLE not in log
    assert not re.search(r"^I\d{4} ", log, re.MULTILINE), log


def tensorflow_loaded(pid: int) -> bool:
    """Whether the process has TensorFlow's shared library mapped (it really imported it)."""
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
        return "libtensorflow" in maps.read()


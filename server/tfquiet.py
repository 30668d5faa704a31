"""Import TensorFlow without its GPU-probe noise in the log of a machine that has no GPU.

TensorFlow 2.21 writes its C++ log lines before it reads TF_CPP_MIN_LOG_LEVEL, and on a CPU
machine its device probe logs "failed call to cuInit ... (303)" at error level, which reads as a
fault. The import and the probe run once per process with stderr caught at the file-descriptor
level; every caught line is written back except that noise.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from types import ModuleType

#: The absl preamble before TensorFlow's first C++ log line: meaningless on its own.
ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
#: The probe's error line when no CUDA driver answers.
CUINIT_FAILED = "failed call to cuInit"
#: A C++ INFO line (I, then MMDD): hidden whenever TF_CPP_MIN_LOG_LEVEL asks for no INFO.
INFO_LINE = re.compile(r"^I\d{4} ")
_imported = False


def has_nvidia_gpu() -> bool:
    """Whether this machine shows an NVIDIA device or driver (then nothing is hidden)."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.isdir("/proc/driver/nvidia")


def is_noise(line: str, min_log_level: int) -> bool:
    """Whether a caught stderr line is TensorFlow's probe noise on a machine without a GPU."""
    if ABSL_PREAMBLE in line or CUINIT_FAILED in line:
        return True
    return min_log_level >= 1 and bool(INFO_LINE.match(line))


@contextlib.contextmanager
def filtered_stderr(drop: Callable[[str], bool]) -> Iterator[None]:
    """Catch what is written to file descriptor 2 (C++ code included); write back the rest."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not drop(line):
                    os.write(2, line.encode())


def import_tensorflow() -> ModuleType:
    """TensorFlow, imported and its devices probed once; quietly where there is no GPU."""
    global _imported
    if _imported or has_nvidia_gpu():
        import tensorflow as tf

        return tf
    try:
        level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        level = 0
    with filtered_stderr(lambda line: is_noise(line, level)):
        import tensorflow as tf

        tf.config.list_physical_devices()  # the probe: later calls reuse its answer
    _imported = True
    return tf

"""One place that quiets TensorFlow's start-up log, for the trainer and the server alike.

TensorFlow 2.21 writes its C++ start-up lines (the absl preamble, oneDNN and CUDA notes, twice:
once per shared library it loads) before it reads TF_CPP_MIN_LOG_LEVEL, and on a CPU machine
its device probe logs "failed call to cuInit ... (303)" at error level, which reads as a fault.
So the import and the probe run once per process with stderr caught at the file-descriptor
level; every caught line is written back except that noise (or nothing, for a quiet command).
Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, MutableMapping
from types import ModuleType

#: TensorFlow's own switch, and the level every process of the project runs at unless the user
#: set another: 2 hides C++ INFO and WARNING lines, errors still show (0 brings everything back).
LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
LOG_LEVEL = "2"
#: The absl preamble before TensorFlow's first C++ log line: meaningless on its own.
ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
#: The probe's error line when no CUDA driver answers.
CUINIT_FAILED = "failed call to cuInit"
#: A C++ INFO line (I, then MMDD): hidden whenever TF_CPP_MIN_LOG_LEVEL asks for no INFO.
INFO_LINE = re.compile(r"^I\d{4} ")
_imported = False


def quiet_log_level(environ: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Set :data:`LOG_LEVEL` in ``environ`` (``os.environ`` by default) unless already set."""
    environ = os.environ if environ is None else environ
    environ.setdefault(LOG_LEVEL_VARIABLE, LOG_LEVEL)
    return environ


def has_nvidia_gpu() -> bool:
    """Whether this machine shows an NVIDIA device or driver (then nothing is hidden)."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.isdir("/proc/driver/nvidia")


def is_noise(line: str, min_log_level: int) -> bool:
    """Whether a caught stderr line is TensorFlow's start-up noise on a machine without a GPU."""
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


def import_tensorflow(silent: bool = False) -> ModuleType:
    """TensorFlow, imported and its devices probed once per process, without the start-up
    noise where there is no GPU; ``silent`` drops every line the import writes (``--quiet``
    promises scripts a clean stderr; an import error still raises, with its message)."""
    global _imported
    if _imported or "tensorflow" in sys.modules or (has_nvidia_gpu() and not silent):
        import tensorflow as tf

        _imported = True
        return tf
    try:
        level = int(quiet_log_level().get(LOG_LEVEL_VARIABLE, LOG_LEVEL))
    except ValueError:
        level = 0
    with filtered_stderr(lambda line: silent or is_noise(line, level)):
        import tensorflow as tf

        tf.config.list_physical_devices()  # the probe: later calls reuse its answer
    _imported = True
    return tf

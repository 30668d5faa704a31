"""The server's log reads right: its address and what it serves; which probe lines are noise.

TensorFlow's own start-up noise is tested where TensorFlow runs: tests/test_tensorflow_noise.py.
"""

from __future__ import annotations

import re

from regserve_contracts.tensorflow_log import is_noise


def test_the_log_names_the_address_and_what_serves(live_server):
    log = live_server.log()
    assert f"Listening at: {live_server.url} (a socket per worker)" in log
    assert "Listening at:  (" not in log
    served = re.search(r"serving (\d+) model version\(s\) on (\w+): (.*) \(fused and warmed in "
                       r"[\d.]+ s\); every version found loaded", log)
    assert served, log[-2000:]
    assert served.group(2) in ("onnx", "tensorflow")  # the REGSERVE_RUNTIME names
    assert int(served.group(1)) == len(served.group(3).split(", ")) == 8
    assert "failed: none" not in log


def test_only_the_probe_noise_is_dropped():
    assert is_noise("E0000 00:00:1 12 cuda_platform.cc:52] failed call to cuInit: INTERNAL", 0)
    assert is_noise("I0000 00:00:1 12 cudart_stub.cc:31] Could not find cuda drivers", 2)
    assert not is_noise("I0000 00:00:1 12 cudart_stub.cc:31] Could not find cuda drivers", 0)
    assert not is_noise("E0000 00:00:1 12 some_kernel.cc:9] out of memory", 2)
    assert not is_noise("[INFO] loaded none version 1", 2)


"""`python -m server --ray`: its options, and one clear line with a non-zero exit on bad ones
(nothing here starts Ray)."""

from __future__ import annotations

import pytest

from server.__main__ import main
from server.scale.cli import parse_args


def test_the_options_become_scale_options(tmp_path):
    options = parse_args(["--ray", "--models", str(tmp_path), "--autoscale", "2:5",
                          "--port", "9000", "--address", "10.0.0.1:6379"])
    assert (options.autoscale, options.port, options.address) == ((2, 5), 9000, "10.0.0.1:6379")
    assert parse_args(["--ray"]).replicas == 1 and parse_args(["--ray"]).address is None


@pytest.mark.parametrize("argv, says", [
    (["--replicas", "0"], "--replicas must be at least 1"),
    (["--autoscale", "3:1"], "MIN:MAX"),
    (["--autoscale", "2"], "MIN:MAX"),
    (["--replicas", "2", "--autoscale", "1:2"], "not allowed with"),
    (["--port", "70000"], "--port must lie in"),
])
def test_bad_options_exit_2_naming_the_option(argv, says, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--ray", *argv])
    assert exit_info.value.code == 2
    assert says in capsys.readouterr().err


def test_a_missing_models_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--ray", "--models", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err

"""The trainer's subcommands: each has only its own options, the original flags still mean the
same, compare answers without TensorFlow, and a run's output is readable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from analysis.comparison.document import build_comparison
from analysis.comparison.report import comparison_markdown
from regserve_contracts import layout
from tests.support import REPO_ROOT
from tests.test_comparison import export, right_on
from trainer import commands as c
from trainer.__main__ import build_parser, main, parse_options
from trainer.sweep.plan import SweepOptions

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
SUBCOMMANDS = ("train", "list", "report", "compare", "evaluate", "onnx", "sweep")


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    listed = out.split("commands:")[1].split("examples:")[0]
    assert re.findall(r"^ {4}(\w+) ", listed, re.MULTILINE) == list(SUBCOMMANDS)


@pytest.mark.parametrize(("argv", "expected"), [
    (["--all", "--data", "synthetic", "--epochs", "1", "--limit", "1000"],
     c.TrainOptions(all_variants=True, data="synthetic", epochs=1, limit=1000)),
    (["--variant", "none", "--variant", "l2_activity", "--seeds", "2"],
     c.TrainOptions(variants=("none", "l2_activity"), seeds=2)),
    (["train", "--custom", "l1:activity:1e-4", "--models-dir", "m"],
     c.TrainOptions(custom=("l1:activity:1e-4",), models_dir=Path("m"))),
    (["--list"], c.ListOptions()),
    (["--list", "--custom", "l2:activity:0.05:x"], c.ListOptions(("l2:activity:0.05:x",))),
    (["--report", "--baseline", "l2_activity", "--models-dir", "m"],
     c.ReportOptions(Path("m"), "l2_activity")),
    (["report", "--quiet"], c.ReportOptions(quiet=True)),
    (["compare", "--models-dir", "m"], c.CompareOptions(Path("m"))),
    (["--evaluate", "--data", "x.npz", "--models-dir", "m"],
     c.EvaluateOptions("x.npz", Path("m"))),
    (["--onnx", "--models-dir", "m"], c.OnnxOptions(Path("m"))),
    (["onnx", "--quiet"], c.OnnxOptions(quiet=True)),
])
def test_old_flags_and_subcommands_parse_into_the_same_settings(argv, expected):
    assert parse_options(argv) == expected


def test_sweep_is_a_subcommand_that_remembers_its_command_line():
    options = parse_options(["sweep", "--penalty", "l1", "--lambdas", "1e-4,1e-3", "--seeds", "2"])
    assert isinstance(options, SweepOptions)
    assert (options.penalty, options.lambdas, options.seeds) == ("l1", "1e-4,1e-3", 2)
    assert options.command == "python -m trainer sweep --penalty l1 --lambdas 1e-4,1e-3 --seeds 2"


@pytest.mark.parametrize(("argv", "words"), [
    (["report", "--epochs", "3"], ["report does not take --epochs 3", "report --help"]),
    (["compare", "--quiet"], ["compare does not take --quiet"]),
    (["--report", "--variant", "none"], ["--report trains nothing; drop --variant none"]),
    (["onnx", "--all"], ["onnx trains nothing; drop --all"]),
    (["--list", "--onnx"], ["--list and --onnx are two commands"]),
])
def test_an_option_the_subcommand_does_not_use_is_one_line_and_exit_2(argv, words, tmp_path,
                                                                     capsys):
    assert main([*argv, "--models-dir", str(tmp_path / "m")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    assert all(word in captured.err for word in words), captured.err
    assert not (tmp_path / "m").exists()


def test_each_subcommand_offers_only_its_own_options():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    flags = {name: {flag for action in sub._actions for flag in action.option_strings}
             for name, sub in choices.items()}
    assert set(flags) == set(SUBCOMMANDS)
    assert flags["list"] == {"-h", "--help", "--custom"}
    assert flags["compare"] == {"-h", "--help", "--models-dir", "--baseline", "--margin"}
    assert flags["onnx"] == {"-h", "--help", "--models-dir", "--quiet", "--triton"}
    assert {"--all", "--epochs", "--seeds", "--engine", "--track"} <= flags["train"]
    assert not {"--all", "--epochs", "--engine"} & (flags["report"] | flags["evaluate"])


def test_compare_prints_the_comparison_without_importing_tensorflow(tmp_path):
    """A real process: the comparison.md text of the models on disk, exit 0, and neither
    TensorFlow nor Keras in sys.modules afterwards; nothing is written."""
    export(tmp_path, "none", 1, right_on(100))
    export(tmp_path, "good", 1, right_on(160))
    script = textwrap.dedent("""
        import sys
        from trainer.__main__ import main
        status = main(["compare", "--models-dir", sys.argv[1]])
        heavy = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
        print("\\nEXIT", status, "HEAVY", ",".join(heavy) or "-")
    """)
    process = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=ENV,
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr[-2000:]
    assert process.stdout.rstrip().splitlines()[-1] == "EXIT 0 HEAVY -"
    assert process.stdout.startswith(comparison_markdown(build_comparison(tmp_path)))
    assert "| `good` | good@1 |" in process.stdout and "| needs seeds: 1 seed" in process.stdout
    assert not (tmp_path / layout.REPORTS_DIR).exists()


def test_compare_on_an_empty_folder_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["compare", "--models-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no trained models" in err


@pytest.mark.slow
def test_a_run_prints_tensorflows_start_up_lines_at_most_once_and_names_every_report(tmp_path):
    """A real process on tiny data, without --quiet: TensorFlow's absl, oneDNN and CUDA lines
    appear at most once each (they used to print twice), and the closing message names every
    file in the reports folder."""
    models = tmp_path / "models"
    process = subprocess.run(
        [sys.executable, "-m", "trainer", "--variant", "none", "--data", "synthetic", "--limit",
         "94", "--epochs", "1", "--batch-size", "47", "--models-dir", str(models)],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    for line in ("absl::InitializeLog", "oneDNN custom operations", "cuda drivers"):
        assert process.stderr.count(line) <= 1, process.stderr
    written = sorted(path.name for path in (models / layout.REPORTS_DIR).iterdir())
    assert len(written) >= 10
    closing = process.stdout.split(f"Reports in {models / layout.REPORTS_DIR}")[1]
    assert all(name in closing for name in written), (written, closing)

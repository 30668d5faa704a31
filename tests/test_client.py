"""The command-line client against a real server: tables, JSON, terminal art and clear failures."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from benchmarks.drawing import draw
from client.render import SHADES, agreement_line
from regserve_contracts.labels import LABELS, char_to_label
from regserve_contracts.variants import VARIANT_NAMES
from server.launcher import PROJECT_ROOT, free_port
from tests.support.api import server_message

EXIT_USAGE, EXIT_INPUT, EXIT_UNREACHABLE, EXIT_SERVER = 2, 3, 4, 5


def run_client(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m client ARGS`` as a user would, with no server set in the environment."""
    base = {key: value for key, value in os.environ.items() if key != "REGSERVE_SERVER"}
    return subprocess.run(
        [sys.executable, "-m", "client", *map(str, args)], cwd=PROJECT_ROOT, capture_output=True,
        text=True, timeout=120, env={**base, **(env or {})},
    )


def assert_clean_failure(result: subprocess.CompletedProcess, code: int) -> str:
    """The run failed with ``code``, one line on stderr, nothing on stdout, no traceback."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def character_png(tmp_path_factory, request) -> Path:
    """A PNG of one handwritten 'A': real EMNIST from the shared sample, else one drawn here."""
    path = tmp_path_factory.mktemp("client") / "character.png"
    try:
        sample = request.getfixturevalue("real_sample")
    except pytest.skip.Exception:
        image = draw("A")
    else:
        index = int(np.flatnonzero(sample["y_test"] == char_to_label("A"))[0])
        image = Image.fromarray(sample["x_test"][index])
    image.save(path)
    return path


@pytest.fixture(scope="module")
def answer(live_server, character_png) -> dict:
    """What ``--json`` prints for the character, parsed."""
    result = run_client(character_png, "--server", live_server.url, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_is_the_servers_answer_for_every_variant(answer):
    """--json prints valid JSON with one result per registered variant and its top 3."""
    assert set(answer["variants"]) == set(VARIANT_NAMES)
    for result in answer["variants"].values():
        assert result["prediction"] in LABELS
        assert len(result["top"]) == 3
        assert result["top"][0]["label"] == result["prediction"]
        assert all(0.0 <= item["probability"] <= 1.0 for item in result["top"])
    assert len(answer["input"]["pixels"]) == 28


def test_table_shows_every_variant_its_answer_and_the_agreement(live_server, character_png, answer):
    """The table has a row per variant with its prediction, label, sparsity and a vote line."""
    result = run_client(character_png, "--server", live_server.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name, variant in answer["variants"].items():
        row = next(line for line in lines if line.startswith(name + " "))
        cells = row.split()
        assert cells[1] == variant["prediction"], row
        assert cells[2].endswith("%")
        assert variant["label"] in result.stdout
    header = next(line for line in lines if line.startswith("variant "))
    for layer in answer["variants"]["none"]["activation_sparsity"]:
        assert layer in header
    assert agreement_line(answer) in lines
    counted = answer["agreement"]["counted"]
    assert re.search(rf"(All {counted} variants agree|\d of {counted} variants say|No majority"
                     r"|No vote: every variant asked is at chance)", result.stdout)


def test_top_and_variant_options_reach_the_server(live_server, character_png):
    """--variant (repeatable or comma-separated) and --top K shape the server's answer."""
    result = run_client(character_png, "--server", live_server.url, "--json", "--top", "5",
                        "--variant", "none", "--variant", "l2_activity,l1_activity")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer["variants"]) == {"none", "l2_activity", "l1_activity"}
    assert all(len(variant["top"]) == 5 for variant in answer["variants"].values())


def test_show_input_draws_the_28x28_the_models_saw(live_server, character_png, answer):
    """--show-input prints the answer's 28x28 pixels, framed, one shade per brightness level."""
    result = run_client(character_png, "--server", live_server.url, "--show-input")
    assert result.returncode == 0, result.stderr
    art = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert len(art) == 28
    assert all(len(line) == 2 * 28 + 2 for line in art)
    pixels = answer["input"]["pixels"]
    # Each pixel is two characters of the shade for its brightness, darkest first.
    expected = ["|" + "".join(2 * SHADES[int(v) * len(SHADES) // 256] for v in row) + "|"
                for row in pixels]
    assert art == expected
    assert SHADES[-1] in "".join(art)


def test_server_comes_from_the_environment_unless_given(live_server, character_png):
    """REGSERVE_SERVER is used without --server; --server wins over it."""
    dead = f"http://127.0.0.1:{free_port()}"
    from_env = run_client(character_png, "--json", env={"REGSERVE_SERVER": live_server.url})
    assert from_env.returncode == 0, from_env.stderr
    overridden = run_client(character_png, "--json", "--server", live_server.url,
                            env={"REGSERVE_SERVER": dead})
    assert overridden.returncode == 0, overridden.stderr


def test_a_server_address_without_a_scheme_is_taken_as_http(live_server, character_png):
    """``--server 127.0.0.1:PORT``, as a person types it, reaches the server over http."""
    bare = live_server.url.removeprefix("http://")
    assert "://" not in bare
    result = run_client(character_png, "--json", "--server", bare)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)["variants"]) == set(VARIANT_NAMES)


def test_the_clients_image_limit_is_the_servers(live_server, tmp_path):
    """An image one pixel over the server's limit is refused by the client before any upload,
    with the server's wording of the limit; one at the limit is not refused for its size."""
    over, at = tmp_path / "over.png", tmp_path / "at.png"
    Image.new("1", (2049, 2048), 1).save(over)
    Image.new("1", (2048, 2048), 1).save(at)
    line = assert_clean_failure(run_client(over, "--server", live_server.url), EXIT_INPUT)
    assert "at most 2048 x 2048 pixels are accepted" in line and str(over) in line
    direct = requests.post(f"{live_server.url}/predict", files={"image": over.read_bytes()},
                           timeout=30)
    assert direct.status_code == 413 and "2048 x 2048" in direct.json()["detail"]
    blank_at_limit = run_client(at, "--server", live_server.url)
    assert "pixels are accepted" not in blank_at_limit.stderr  # refused by the server as blank


def test_stopped_server_is_one_clear_line_and_exit_code(character_png):
    """Nothing listening on the port: exit 4 and a message naming the address."""
    url = f"http://127.0.0.1:{free_port()}"
    line = assert_clean_failure(run_client(character_png, "--server", url), EXIT_UNREACHABLE)
    assert "cannot connect" in line and url in line


def test_server_that_never_answers_times_out(character_png):
    """A server that accepts the connection but never answers: exit 4 after --timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel completes the handshake; nobody ever reads or writes
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        result = run_client(character_png, "--server", url, "--timeout", "1")
    line = assert_clean_failure(result, EXIT_UNREACHABLE)
    assert "did not answer within 1 s" in line


def test_text_file_is_refused_before_any_upload(tmp_path):
    """A text file is rejected locally (no server needed): exit 3, the file named."""
    text = tmp_path / "notes.txt"
    text.write_text("this is not a picture of a character\n")
    dead = f"http://127.0.0.1:{free_port()}"
    line = assert_clean_failure(run_client(text, "--server", dead), EXIT_INPUT)
    assert str(text) in line and "not an image" in line


@pytest.mark.slow  # two runs of the client, three files each
def test_every_readable_file_is_classified_and_the_others_reported(live_server, character_png,
                                                                   tmp_path):
    """An image among a text file and a missing one: the image's table is printed, each bad
    file is one line on stderr, a summary line counts them, and the exit code is non-zero."""
    text, missing = tmp_path / "notimage.txt", tmp_path / "nowhere.png"
    text.write_text("not a picture\n")
    result = run_client(character_png, text, missing, "--server", live_server.url)
    assert result.returncode == EXIT_INPUT and "Traceback" not in result.stderr
    assert f"== {character_png} ==" in result.stdout and "variant " in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, result.stderr
    assert str(text) in lines[0] and "not an image" in lines[0]
    assert str(missing) in lines[1] and "no such file" in lines[1]
    assert lines[2].endswith("2 of 3 files could not be classified")
    as_json = run_client(character_png, text, "--server", live_server.url, "--json")
    assert as_json.returncode == EXIT_INPUT
    document = json.loads(as_json.stdout)
    assert [item["file"] for item in document] == [str(character_png), str(text)]
    assert "answer" in document[0] and "not an image" in document[1]["error"]


def test_missing_file_is_one_clear_line(tmp_path):
    """A file that does not exist: exit 3 and 'no such file'."""
    missing = tmp_path / "nowhere.png"
    line = assert_clean_failure(run_client(missing), EXIT_INPUT)
    assert str(missing) in line and "no such file" in line


def test_unknown_variant_shows_the_servers_message(live_server, character_png):
    """The server's 404 for an unknown variant is shown with its own error text: exit 5."""
    expected = requests.post(f"{live_server.url}/predict", params={"variant": "no_such_variant"},
                             files={"image": character_png.read_bytes()}, timeout=60)
    assert expected.status_code == 404
    line = assert_clean_failure(
        run_client(character_png, "--server", live_server.url, "--variant", "no_such_variant"),
        EXIT_SERVER,
    )
    assert "404" in line and server_message(expected) in line


def test_image_the_server_refuses_shows_its_400(live_server, tmp_path):
    """A blank image decodes locally, but the server finds no ink: its 400 text, exit 5."""
    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    expected = requests.post(f"{live_server.url}/predict", files={"image": blank.read_bytes()},
                             timeout=60)
    assert expected.status_code == 400
    line = assert_clean_failure(run_client(blank, "--server", live_server.url), EXIT_SERVER)
    assert "400" in line and server_message(expected) in line


def test_help_documents_the_exit_codes():
    """--help lists every exit code the client uses; bad usage exits 2."""
    result = run_client("--help")
    assert result.returncode == 0
    for code in (EXIT_USAGE, EXIT_INPUT, EXIT_UNREACHABLE, EXIT_SERVER):
        assert re.search(rf"^\s+{code}\s+\S", result.stdout, re.MULTILINE), code
    usage = run_client("--top", "0", "x.png")
    assert usage.returncode == EXIT_USAGE and "Traceback" not in usage.stderr


@pytest.mark.parametrize(
    ("votes", "excluded", "expected"),
    [
        ({"A": 8}, [], "All 8 variants agree: 'A'."),
        ({"A": 5, "4": 3}, [], "5 of 8 variants say 'A'; also: '4' x3."),
        ({"B": 2, "E": 3, "N": 3}, [], "No majority: 'E' and 'N' tie with 3 of 8 votes each; "
                                       "also: 'B' x2."),
        ({"A": 3, "L": 3}, [], "No majority: 'A' and 'L' tie with 3 of 6 votes each."),
        ({"A": 4, "4": 1}, ["l1_activity", "l1_kernel_bias"],
         "4 of 5 variants say 'A'; also: '4' x1. Not counted, at chance: l1_activity, "
         "l1_kernel_bias."),
        ({}, ["none", "l1_activity"], "No vote: every variant asked is at chance (none, "
                                      "l1_activity)."),
    ],
)
def test_agreement_line_reads_as_a_sentence(votes, excluded, expected):
    """The vote line names the majority, the count, every other answer, a tie as a tie, and
    the collapsed variants that were not counted."""
    answer = {"variants": {}, "agreement": {"votes": votes, "excluded": excluded}}
    assert agreement_line(answer) == expected

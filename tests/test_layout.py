"""The models folder: versions appear whole, in order, readable by a server of another user."""

from __future__ import annotations

import stat

import pytest

from regserve_contracts import layout


def test_a_new_version_is_numbered_after_the_last_and_readable_by_others(tmp_path):
    """Versions count up from 1; folder and files are readable by any user (the Docker server)."""
    for expected in (1, 2):
        with layout.new_version(tmp_path, "none") as staged:
            (staged.path / layout.SAVED_MODEL_FILE).write_bytes(b"model")
            layout.write_json_atomic(staged.path / layout.METADATA_FILE, {"n": expected})
        assert staged.final == tmp_path / "none" / str(expected)
    assert layout.versions(tmp_path / "none") == [1, 2]
    newest = layout.newest_version(tmp_path / "none")
    assert layout.read_metadata(newest) == {"n": 2}
    assert stat.S_IMODE(newest.stat().st_mode) & 0o005 == 0o005
    assert stat.S_IMODE((newest / layout.METADATA_FILE).stat().st_mode) & 0o004


def test_a_failed_write_leaves_no_version_and_no_staging_folder(tmp_path):
    """If filling the version raises, nothing numbered appears and the staging folder is gone."""
    with pytest.raises(RuntimeError), layout.new_version(tmp_path, "none") as staged:
        (staged.path / layout.SAVED_MODEL_FILE).write_bytes(b"half")
        raise RuntimeError("export died")
    assert layout.versions(tmp_path / "none") == []
    assert list((tmp_path / "none").iterdir()) == []


def test_atomic_writes_replace_whole_files_and_leave_no_temporaries(tmp_path):
    """write_atomic replaces a file in one step; a failing writer leaves the old file intact."""
    target = tmp_path / "results.md"
    layout.write_atomic(target, lambda handle: handle.write(b"old"))

    def broken(handle):
        handle.write(b"new but half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        layout.write_atomic(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.md"]

"""Which processes listen on which TCP sockets, read from /proc (Linux), for loopback checks."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_V4 = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


@dataclass(frozen=True)
class Listener:
    pid: int
    address: str  # hex, as /proc/net/tcp{,6} writes it
    port: int
    family: str  # tcp | tcp6


def listeners(pids: set[int]) -> list[Listener]:
    """Every TCP socket in LISTEN state that one of ``pids`` holds (one entry per holder)."""
    owners: dict[str, set[int]] = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd) if fd.is_symlink() else ""
                if target.startswith("socket:["):
                    owners.setdefault(target[8:-1], set()).add(pid)
        except OSError:
            continue  # the process ended meanwhile
    found = []
    for family in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{family}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in owners:  # 0A: LISTEN
                address, port = fields[1].split(":")
                found += [Listener(pid, address, int(port, 16), family)
                          for pid in sorted(owners[fields[9]])]
    return found


def descendants(root: int) -> set[int]:
    """``root`` and every process below it, read from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update(children)
        frontier += children
    return found


def gone(pid: int) -> bool:
    """No process ``pid``, or only its zombie (an orphan waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def wait_gone(pid: int, why: str, seconds: float = 5.0) -> None:
    """Wait until ``pid`` is :func:`gone`; fail with ``why`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not gone(pid):
        assert time.monotonic() < deadline, f"process {pid} is still there: {why}"
        time.sleep(0.1)

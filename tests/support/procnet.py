"""Which processes listen on which TCP sockets, read from /proc (Linux), for loopback checks."""

from __future__ import annotations

import os
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

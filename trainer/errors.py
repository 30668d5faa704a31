"""The trainer's command errors and its one error path: usage exits 2, a library error 1."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO


class UsageError(ValueError):
    """The command line asks for something impossible; the message says what to do instead."""


class CommandError(Exception):
    """A library error a command reports as one line and exit status 1 (bad data, a failed
    training, an engine that cannot run); each module subclasses it with its own name."""


def carry_out(action: Callable[[], int], prog: str, err: TextIO, interrupted: str) -> int:
    """Run one command's ``action`` and return its exit status; every error becomes one line
    on ``err`` (2: usage, 1: data, training or reports, 130: interrupted, ``interrupted``
    saying what stays behind)."""
    from analysis.reports import ReportError  # here: importing the errors stays light

    try:
        return action()
    except UsageError as exc:
        err.write(f"{prog}: error: {exc}\n")
        return 2
    except (CommandError, ReportError) as exc:
        err.write(f"{prog}: error: {exc}\n")
        return 1
    except ModuleNotFoundError as exc:  # `pip install regserve` is the client alone
        err.write(f"{prog}: error: {exc.name} is not installed; training needs the train "
                  "extra: pip install 'regserve[train]'\n")
        return 1
    except KeyboardInterrupt:
        err.write(interrupted + "\n")
        return 130

"""The client's work, free of argparse: check every image, ask the server, print the answers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from client.api import ClientError, InputFileError, ServerAnswerError, predict, read_image
from client.render import report

DEFAULT_SERVER = "http://127.0.0.1:8000"
SERVER_ENV = "REGSERVE_SERVER"
#: How the client names itself in its error lines.
PROGRAM = "regserve-client"


@dataclass(frozen=True)
class ClientOptions:
    """What one run of the client does; built from the command line in ``__main__``."""

    images: tuple[Path, ...]
    server: str = DEFAULT_SERVER
    variants: tuple[str, ...] = ()
    top: int = 3
    as_json: bool = False
    show_input: bool = False
    timeout: float = 30.0


def run(options: ClientOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Classify every image that can be read and print its table (or JSON); return the exit code.

    A file that is missing or no image, or that the server refuses, is reported on ``err`` as
    one line and the others are still classified; the exit code is then the first failure's.
    A server that cannot be reached raises :class:`client.api.ServerUnreachableError` (every
    further upload would fail the same way); the caller turns it into one line and its code.
    """
    out, err = out or sys.stdout, err or sys.stderr
    failures: list[ClientError] = []
    results: list[dict[str, Any]] = [{"file": str(path)} for path in options.images]
    # Every file is read before the first upload, so a bad name is reported at once.
    images = {}
    for index, path in enumerate(options.images):
        try:
            images[index] = read_image(path)
        except InputFileError as error:
            failures.append(error)
            results[index]["error"] = str(error)
            print(f"{PROGRAM}: error: {error}", file=err)
    for index, image in images.items():
        try:
            answer = predict(options.server, image, options.variants, options.top,
                             options.timeout)
        except ServerAnswerError as error:
            failures.append(error)
            results[index]["error"] = str(error)
            print(f"{PROGRAM}: error: {image.path}: {error}", file=err)
            continue
        results[index]["answer"] = answer
        if not options.as_json:
            print(report(str(image.path), answer, options.top, options.show_input), file=out)
            if len(options.images) > 1:
                print(file=out)
    if options.as_json and len(results) > 1:
        print(json.dumps(results, indent=2, ensure_ascii=False), file=out)
    elif options.as_json and "answer" in results[0]:
        print(json.dumps(results[0]["answer"], indent=2, ensure_ascii=False), file=out)
    if not failures:
        return 0
    if len(results) > 1:
        print(f"{PROGRAM}: {len(failures)} of {len(results)} files could not be classified",
              file=err)
    return failures[0].exit_code

"""The client's work, free of argparse: check every image, ask the server, print the answers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from client.api import predict, read_image
from client.render import report

DEFAULT_SERVER = "http://127.0.0.1:8000"
SERVER_ENV = "REGSERVE_SERVER"


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


def run(options: ClientOptions, out: TextIO | None = None) -> int:
    """Check all images first, then upload each and print its table (or JSON); return 0.

    Raises a :class:`client.api.ClientError` subclass on the first failure; the caller turns
    it into one line on stderr and the error's exit code.
    """
    out = out or sys.stdout
    # Every file is checked before the first upload, so a typo in the third name does not
    # leave two tables printed and then an error.
    images = [read_image(path) for path in options.images]
    answers = []
    for image in images:
        answer = predict(options.server, image, options.variants, options.top, options.timeout)
        if options.as_json:
            answers.append(answer)
            continue
        print(report(str(image.path), answer, options.top, options.show_input), file=out)
        if len(images) > 1:
            print(file=out)
    if options.as_json:
        if len(images) == 1:
            document: Any = answers[0]
        else:
            document = [{"file": str(image.path), "answer": answer}
                        for image, answer in zip(images, answers, strict=True)]
        print(json.dumps(document, indent=2, ensure_ascii=False), file=out)
    return 0

"""Command line: ``python -m client IMAGE ...`` (also the ``regserve-client`` console script)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from client.api import ClientError, InputFileError, ServerAnswerError, ServerUnreachableError
from client.cli import DEFAULT_SERVER, PROGRAM, SERVER_ENV, ClientOptions, run
from regserve_contracts.labels import NUM_CLASSES

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EPILOG = f"""\
exit codes:
  0  every image was classified
  {EXIT_USAGE}  bad command line (usage error)
  {InputFileError.exit_code}  an input file is missing, unreadable or not an image
  {ServerUnreachableError.exit_code}  the server cannot be reached or did not answer in time
  {ServerAnswerError.exit_code}  the server answered with an error (its message is shown)

Every image that can be read is classified; the others are named on stderr, one line each,
and the exit code is the first failure's.
The server is --server, else ${SERVER_ENV}, else {DEFAULT_SERVER}.
With --json and one image the server's answer is printed as it is; with several images, a
list of {{"file": ..., "answer": ...}} objects ({{"file": ..., "error": ...}} for a refused one).
"""


def _top_k(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= NUM_CLASSES:
        raise argparse.ArgumentTypeError(f"must lie between 1 and {NUM_CLASSES}, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> ClientOptions:
    """Parse the command line into a :class:`ClientOptions` (argparse exits 2 on bad usage)."""
    invoked = Path(sys.argv[0]).name
    parser = argparse.ArgumentParser(
        prog="python -m client" if invoked in ("__main__.py", "-c", "") else invoked,
        description="Ask a RegServe server what every regularizer variant reads in each image.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                        help="image file(s) of one handwritten character (PNG, JPEG, ...)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME",
                        help="ask only this variant (repeatable or comma-separated; "
                             "default: all)")
    parser.add_argument("--server", metavar="URL",
                        help=f"server address (default: ${SERVER_ENV} or {DEFAULT_SERVER})")
    parser.add_argument("--top", type=_top_k, default=3, metavar="K",
                        help=f"likely characters shown per variant, 1-{NUM_CLASSES} (default 3)")
    parser.add_argument("--json", action="store_true", dest="as_json",
                        help="print the server's answer as JSON instead of tables")
    parser.add_argument("--show-input", action="store_true",
                        help="also draw the 28x28 image the models saw, as terminal art")
    parser.add_argument("--timeout", type=_positive_float, default=30.0, metavar="SECONDS",
                        help="seconds to wait for the server's answer (default 30)")
    args = parser.parse_args(argv)
    variants = tuple(name.strip() for item in args.variant for name in item.split(",")
                     if name.strip())
    server = args.server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER
    return ClientOptions(
        images=tuple(args.images), server=server, variants=variants, top=args.top,
        as_json=args.as_json, show_input=args.show_input, timeout=args.timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; every failure is one line on stderr and a documented exit code."""
    options = parse_args(argv)
    try:
        return run(options)
    except ClientError as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` that closed early: not an error worth a traceback. Point
        # stdout at /dev/null so Python's own flush at exit does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``agea-xr`` command line: one module per command group.

Each module in :data:`COMMAND_MODULES` has ``register(subparsers)`` that adds its
sub-command(s) and sets ``func`` (taking the parsed arguments, returning an exit
code) as the default of its parser. The options they share (``--source``,
``--sample``, ``--variant``, ``--gene``, ``--mapping``, ``--progress``) are
defined once, in :mod:`agea_xr.cli._options`. Positions are in millimetres.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

#: Sub-modules of :mod:`agea_xr.cli` that register commands, in help order.
COMMAND_MODULES = (
    "info",
    "genes",
    "demo",
    "plot",
    "export",
    "references",
    "ingest",
    "analysis",
    "modes",
    "maps",
    "download",
)

#: Exit codes: a user error, and an interrupt (128 + SIGINT, as shells report it).
ERROR, INTERRUPTED = 1, 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors point from a bare path to ``--source``."""

    def error(self, message: str):
        if message.startswith("unrecognized arguments: "):
            extra = message.removeprefix("unrecognized arguments: ").split(" ")
            paths = [a for a in extra if "/" in a or os.path.exists(a)]
            if paths:
                message += f" (give the data as --source {paths[0]})"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered.

    Returns
    -------
    argparse.ArgumentParser
    """
    from .. import __version__

    parser = _Parser(
        prog="agea-xr",
        description="The Allen Gene Expression Atlas (IBL release) as an xarray Dataset. "
        "Every command takes its data with --source (a release folder, a URL or an export) "
        "or --sample; positions are in millimetres from bregma.",
    )
    parser.add_argument("--version", action="version", version=f"agea-xr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``agea-xr`` with ``argv`` (default: the process arguments).

    Never prints a traceback: an error is a short message on stderr,
    ``agea-xr COMMAND: error: ...``, in millimetres and option names.

    Parameters
    ----------
    argv : sequence of str, optional

    Returns
    -------
    int
        Exit code: 0 on success, 1 for an error (message on stderr) or a closed
        output pipe (``agea-xr genes | head``, nothing printed), 2 for a usage
        error (raised as SystemExit by argparse), 130 when interrupted (Ctrl-C,
        nothing printed).
    """
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args.command)
            code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe raises here
        return code
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ERROR
    except Exception as err:  # every error is a message, never a traceback
        from ._errors import message_of

        where = f"agea-xr {args.command}" if args is not None else "agea-xr"
        text = message_of(err)
        if not isinstance(err, (OSError, ValueError, LookupError, TypeError, ImportError)):
            text = f"{type(err).__name__}: {text}"
        print(f"{where}: error: {text}", file=sys.stderr)
        return ERROR


def _warning_printer(command: str):
    """``warnings.showwarning`` that prints ``agea-xr COMMAND: warning: ...`` (mm)."""

    def show(message, category, filename, lineno, file=None, line=None):
        from ._errors import for_cli

        print(f"agea-xr {command}: warning: {for_cli(str(message))}", file=sys.stderr)

    return show


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the flush at exit cannot fail again.

    What Python's documentation recommends for SIGPIPE (library/signal.html).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``agea-xr`` command line: one module per command group.

Each module in :data:`COMMAND_MODULES` has ``register(subparsers)`` that adds its
sub-command(s) and sets ``func`` (taking the parsed arguments, returning an exit
code) as the default of its parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

#: Sub-modules of :mod:`agea_xr.cli` that register commands, in help order.
COMMAND_MODULES = ("info", "demo", "plot", "export", "ingest", "analysis", "download")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered.

    Returns
    -------
    argparse.ArgumentParser
    """
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="agea-xr",
        description="The Allen Gene Expression Atlas (IBL release) as an xarray Dataset.",
    )
    parser.add_argument("--version", action="version", version=f"agea-xr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``agea-xr`` with ``argv`` (default: the process arguments).

    Parameters
    ----------
    argv : sequence of str, optional

    Returns
    -------
    int
        Exit code: 0 on success, 1 for a user error (message on stderr), 2 for a
        usage error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, KeyError, OSError, ImportError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"agea-xr {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"agea-xr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

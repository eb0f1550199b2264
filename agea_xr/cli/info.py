"""``agea-xr info --source SOURCE``: summarise a dataset."""

from __future__ import annotations

import argparse

from ..volumes_layout import LEVELS
from . import _options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` command."""
    p = sub.add_parser(
        "info",
        help="summarise a release folder, URL or export",
        description="Print experiments, genes, dims, coordinate ranges (mm), variant, file "
        "sizes and data version of an AGEA dataset: a release folder or URL, an exported "
        ".nc/.zarr, the bundled sample, or (by default) the local cache, which is never "
        "downloaded for this. Example: agea-xr info --source ~/agea",
    )
    _options.add_source(p)
    _options.add_variant(p)
    _options.add_decoding(p)
    _options.add_progress(p)
    p.add_argument(
        "--cell-types",
        metavar="LEVEL",
        choices=LEVELS,
        help="summarise the MERFISH cell types of this level instead (--source: their "
        "merfish/ folder or URL; default: the local caches, else the IBL bucket)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary."""
    from ..summary import summarize

    if args.cell_types is not None:
        from ..volumes import describe, open_cell_types

        print(describe(open_cell_types(args.source, args.cell_types)))
        return 0
    ds = _options.open_source(args, chunks=None, cached_only=True)
    print(summarize(ds))
    if args.source is not None and _options.is_export(args.source):
        size = _options.stored_size(args.source)
        if size is not None:
            print(f"export: {args.source} ({size:,} B)")
    return 0

"""``agea-xr info --source SOURCE``: summarise a dataset (genes, cell types or lipids)."""

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
        "downloaded for this. With --cell-types LEVEL or --lipids, the MERFISH cell types "
        "or the lipids instead. Example: agea-xr info --source ~/agea",
    )
    _options.add_source(p)
    _options.add_variant(p)
    _options.add_decoding(p)
    _options.add_progress(p)
    group = p.add_argument_group("cell types and lipids")
    items = group.add_mutually_exclusive_group()
    items.add_argument(
        "--cell-types",
        metavar="LEVEL",
        choices=LEVELS,
        help="summarise the MERFISH cell types of this level instead (--source: their "
        "merfish/ folder or URL; default: the local caches, else the IBL bucket; "
        "--variant processed: iblatlas' denoised proportions)",
    )
    items.add_argument(
        "--lipids",
        action="store_true",
        help="summarise the Lipid Brain Atlas volumes instead (--source: their lipids/ "
        "folder or URL; default: the local caches, else the IBL bucket)",
    )
    _options.add_min_reliability(group)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary."""
    from ..summary import summarize

    if args.cell_types is not None or args.lipids:
        from ..volumes import describe

        kind = _items_of(args)
        items = _options.open_items(
            args,
            kind,
            args.source,
            level=args.cell_types,
            variant=args.variant,
            min_reliability=args.min_reliability,
        )
        print(describe(items))
        return 0
    if args.min_reliability is not None:
        raise ValueError("--min-reliability selects lipids: it applies to --lipids only.")
    ds = _options.open_source(args, chunks=None, cached_only=True)
    print(summarize(ds))
    if args.source is not None and _options.is_export(args.source):
        size = _options.stored_size(args.source)
        if size is not None:
            print(f"export: {args.source} ({size:,} B)")
    return 0


def _items_of(args: argparse.Namespace) -> str:
    """``cell_types`` or ``lipids``; the genes' options that do not apply are refused."""
    what = "--lipids" if args.lipids else "--cell-types"
    if args.sample:
        raise ValueError(
            f"--sample is the genes' bundled sample; {what} has none: give --source (their "
            "folder or URL) or nothing (the local caches, else the IBL bucket)."
        )
    if not args.mask_and_scale:
        raise ValueError(
            f"--no-mask-and-scale applies to the genes' float16 with -1; {what} volumes hold "
            "NaN where nothing was measured: drop it."
        )
    if args.lipids and args.variant is not None:
        raise ValueError(
            f"--variant {args.variant} chooses the genes' or the cell types' volumes; the "
            "lipids have one: drop it (--min-reliability selects lipids)."
        )
    if not args.lipids and args.min_reliability is not None:
        raise ValueError("--min-reliability selects lipids: it applies to --lipids only.")
    return "lipids" if args.lipids else "cell_types"

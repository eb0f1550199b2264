"""``agea-xr ingest ZIPS... OUT_FOLDER``: an AGEA dataset from Allen grid downloads."""

from __future__ import annotations

import argparse

from . import _options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ingest`` command."""
    p = sub.add_parser(
        "ingest",
        help="build an AGEA dataset (IBL layout or Zarr) from Allen grid zips",
        description="Turn Allen Mouse Brain Atlas grid downloads (GENE_P56_PLANE_ID_200um.zip, "
        "coronal or sagittal; add P56_Mouse_gridAnnotation.zip for region labels) into a "
        "folder that agea_xr.open_dataset opens, or a Zarr store. Gene symbols come from "
        "--table, else from the packaged list of the atlas' coronal experiments. "
        "Example: agea-xr ingest *_200um.zip P56_Mouse_gridAnnotation.zip my-agea",
    )
    p.add_argument("zips", nargs="+", metavar="ZIP", help="Allen grid downloads")
    p.add_argument("out", metavar="OUT_FOLDER", help="folder to create (or *.zarr with --zarr)")
    p.add_argument(
        "--table", help="CSV/TSV/parquet of experiment_id,gene (default: the packaged table)"
    )
    p.add_argument("--zarr", action="store_true", help="write a compact Zarr store instead")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT_FOLDER")
    _options.add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Ingest and print where."""
    from ..ingest import ingest

    _options.output_parent(args.out, "OUT_FOLDER")  # checked before any work
    for name in args.zips:
        _options.input_file(name, "ZIP")
    out = ingest(
        args.zips,
        args.out,
        table=args.table,
        zarr=args.zarr,
        overwrite=args.overwrite,
        progress=args.progress,
    )
    print(f"wrote {out}: open it with agea_xr.{'open_export' if args.zarr else 'open_dataset'}")
    return 0

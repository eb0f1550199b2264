"""``agea-xr references OUT.json --source S``: kerchunk references opening the release as Zarr."""

from __future__ import annotations

import argparse

from . import _options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``references`` command."""
    p = sub.add_parser(
        "references",
        help="write kerchunk references: any Zarr reader opens the release in place",
        description="Write a kerchunk JSON reference file over a release (a folder or a URL): "
        "a Zarr store whose chunks are byte ranges of the release's own files, one per "
        "experiment. Plain xarray (xr.open_dataset(OUT, engine='kerchunk')), fsspec, and Zarr "
        "readers in R, Julia or JavaScript then open the release lazily, without agea-xr and "
        "without downloading it. Example: agea-xr references agea-refs.json "
        "--source s3://ibl-brain-wide-map-public/atlas/agea --anon",
    )
    p.add_argument("out", metavar="OUT", help="the reference file to write (*.json)")
    _options.add_source(
        p,
        exports=False,
        help="release folder or fsspec URL of one (default: the local cache)",
    )
    _options.add_variant(p)
    p.add_argument(
        "--target",
        metavar="URL",
        help="folder or URL the references point at, if not SOURCE (e.g. the https:// "
        "address of the bucket, for readers without an S3 client)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the references and say how to open them."""
    from ..references import references
    from ..sample import sample_path

    _options.output_file(args.out, "OUT")  # its folder exists: checked before any work
    path = references(
        sample_path() if args.sample else args.source,
        args.out,
        variant=args.variant or _options.DEFAULT_VARIANT,
        target=args.target,
        storage_options=_options.storage_options(args) or None,
        overwrite=args.overwrite,
    )
    size = _options.stored_size(path) or 0
    print(f"wrote {path} ({size / 1e6:.2f} MB)")
    print(f'open it with: xr.open_dataset("{path}", engine="kerchunk")')
    return 0

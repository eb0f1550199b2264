"""``agea-xr export OUT.nc|OUT.zarr``: write the dataset, or a subset, to netCDF or Zarr."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` command."""
    p = sub.add_parser(
        "export",
        help="write the dataset (or genes, experiments, regions of it) to netCDF or Zarr",
        description="Write an AGEA dataset to a netCDF file (OUT.nc: float32, lossless, "
        "readable by any netCDF tool) or a Zarr store (OUT.zarr: float16, compact, lazily "
        "readable locally or from object storage), whole or a subset. The file appears "
        "only once complete. Example: agea-xr export pdyn-ca1.nc --genes Pdyn --region CA1",
    )
    p.add_argument("out", metavar="OUT", help="target: *.nc (netCDF) or *.zarr (Zarr)")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--source", help="AGEA folder or fsspec URL to export (default: the local cache)"
    )
    source.add_argument("--sample", action="store_true", help="export the bundled sample")
    p.add_argument("--variant", choices=("raw", "processed"), default="raw")
    p.add_argument("--genes", nargs="+", metavar="GENE", help="keep these genes' experiments")
    p.add_argument(
        "--experiments", nargs="+", type=int, metavar="ID", help="keep these experiment ids"
    )
    p.add_argument(
        "--region",
        nargs="+",
        metavar="REGION",
        help="keep these regions (acronyms or Allen ids): NaN elsewhere, cropped to their box",
    )
    p.add_argument("--mapping", default="Allen", help="region mapping (default Allen)")
    p.add_argument("--hemisphere", choices=("left", "right"), help="one hemisphere only")
    p.add_argument(
        "--no-crop",
        dest="crop",
        action="store_false",
        help="with --region, keep the whole grid instead of the regions' bounding box",
    )
    p.add_argument("--format", choices=("netcdf", "zarr"), help="override the suffix")
    p.add_argument(
        "--engine", choices=("netcdf4", "h5netcdf"), default="netcdf4", help="netCDF writer"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export and print where."""
    from ..api import open_dataset
    from ..export import export
    from ..sample import sample_path

    source = sample_path() if args.sample else args.source
    ds = open_dataset(source, variant=args.variant)
    path = export(
        ds,
        args.out,
        args.format,
        genes=args.genes,
        experiments=args.experiments,
        regions=args.region,
        mapping=args.mapping,
        hemisphere=args.hemisphere,
        crop=args.crop,
        engine=args.engine,
        overwrite=args.overwrite,
        progress=args.progress,
    )
    print(f"wrote {path} ({_size(path) / 1e6:.2f} MB)")
    return 0


def _size(path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size

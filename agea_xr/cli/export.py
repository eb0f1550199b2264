"""``agea-xr export OUT``: the dataset, or a subset, to netCDF, Zarr or a format of viewers."""

from __future__ import annotations

import argparse

from . import _options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` command."""
    p = sub.add_parser(
        "export",
        help="write the dataset (or genes, experiments, regions of it) to netCDF or Zarr",
        description="Write an AGEA dataset to a netCDF file (OUT.nc: float32, lossless, "
        "readable by any netCDF tool) or a Zarr store (OUT.zarr: float32, compressed, lazily "
        "readable locally or from object storage), whole or a subset; or for viewers "
        "(napari, neuroglancer, ITK-SNAP, 3D Slicer, BrainGlobe), placed in the Allen CCF: "
        "OUT.ome.zarr (OME-Zarr, one image per experiment, region labels), OUT.nii.gz "
        "(NIfTI) or OUT.nrrd (NRRD), one volume each. The file appears only once complete. "
        "Example: agea-xr export pdyn-ca1.nc --gene Pdyn --region CA1",
    )
    p.add_argument(
        "out",
        metavar="OUT",
        help="target: *.nc (netCDF), *.zarr (Zarr), *.ome.zarr (OME-Zarr), *.nii[.gz] (NIfTI) "
        "or *.nrrd (NRRD)",
    )
    _options.add_source(p)
    _options.add_variant(p)
    _options.add_genes(p, help="keep this gene's experiments (repeatable)")
    p.add_argument(
        "--experiment",
        action="append",
        dest="experiments",
        type=_options.experiment_id("--experiment"),
        metavar="ID",
        help="keep this experiment id (repeatable)",
    )
    p.add_argument(
        "--region",
        action="append",
        metavar="REGION",
        help="keep this region (acronym or Allen id; repeatable): NaN elsewhere, cropped to "
        "the regions' box",
    )
    _options.add_mapping(p, help="region mapping of --region")
    p.add_argument("--hemisphere", choices=("left", "right"), help="one hemisphere only")
    p.add_argument(
        "--no-crop",
        dest="crop",
        action="store_false",
        help="with --region, keep the whole grid instead of the regions' bounding box",
    )
    p.add_argument(
        "--format",
        choices=("netcdf", "zarr", "ome-zarr", "nifti", "nrrd"),
        help="override the suffix",
    )
    p.add_argument(
        "--origin",
        choices=("bregma", "ccf"),
        help="OME-Zarr, NIfTI, NRRD: positions from bregma or from the CCF corner "
        "(default: ccf for OME-Zarr, bregma for NIfTI and NRRD)",
    )
    p.add_argument(
        "--engine", choices=("netcdf4", "h5netcdf"), default="netcdf4", help="netCDF writer"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    _options.add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export and print where."""
    from ..export import export
    from ..formats import format_of

    format_of(args.out, args.format)  # an unknown suffix is refused before any work
    _options.output_file(args.out, "OUT")  # its folder exists: checked before any work
    _options.check_mapping(args)
    genes, args.genes = args.genes, None  # export selects the genes itself
    ds = _options.open_source(args)
    path = export(
        ds,
        args.out,
        args.format,
        genes=genes,
        experiments=args.experiments,
        regions=args.region,
        mapping=args.mapping,
        hemisphere=args.hemisphere,
        crop=args.crop,
        engine=args.engine,
        origin=args.origin,
        overwrite=args.overwrite,
        progress=args.progress,
    )
    print(f"wrote {path} ({_options.stored_size(path) / 1e6:.2f} MB)")
    return 0

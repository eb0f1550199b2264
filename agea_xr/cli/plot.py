"""``agea-xr plot GENE --ap -2.0 -o fig.png``: one slice of a gene to a picture file.

Positions on the command line are in **millimetres** from bregma (the Python
API takes metres).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "run", "save_slice"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``plot`` command."""
    p = sub.add_parser(
        "plot",
        help="draw a coronal, sagittal or horizontal slice of a gene to a PNG/PDF/SVG",
        description="Draw one slice of a gene's expression (NaN-aware mean of its "
        "experiments) with region boundaries, in mm from bregma. Give exactly one of "
        "--ap (coronal), --ml (sagittal), --dv (horizontal), in millimetres. Example: "
        "agea-xr plot Pdyn --ap 1.0 --sample -o pdyn.png",
    )
    p.add_argument("gene", help="gene symbol (case-sensitive, e.g. Pdyn)")
    plane = p.add_mutually_exclusive_group(required=True)
    plane.add_argument("--ap", type=float, help="coronal plane, mm from bregma (anterior +)")
    plane.add_argument("--ml", type=float, help="sagittal plane, mm from bregma (right +)")
    plane.add_argument("--dv", type=float, help="horizontal plane, mm from bregma (dorsal +)")
    p.add_argument("-o", "--output", required=True, help="picture file (.png, .pdf, .svg)")
    p.add_argument("--source", help="AGEA folder or fsspec URL (default: the local cache)")
    p.add_argument("--sample", action="store_true", help="use the bundled sample")
    p.add_argument("--variant", choices=("raw", "processed"), default="raw")
    p.add_argument(
        "--mapping", default="Beryl", help="region level of the boundaries (default Beryl)"
    )
    p.add_argument("--no-boundaries", action="store_true", help="do not draw region boundaries")
    p.add_argument("--dpi", type=int, default=150, help="resolution of raster files (150)")
    p.set_defaults(func=run)


def save_slice(ds, gene: str, output: str | Path, *, dpi: int = 150, **kwargs) -> Path:
    """Draw :func:`agea_xr.plot.plot_slice` on a new figure and save it (no pyplot state).

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset.
    gene : str
        Gene symbol.
    output : str or pathlib.Path
        File to write; its suffix picks the format.
    dpi : int, default 150
        Resolution of raster formats.
    **kwargs
        Passed to :func:`agea_xr.plot.plot_slice` (``ap``/``ml``/``dv`` in metres,
        ``mapping``, ``boundaries``).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    FileNotFoundError
        If the folder of ``output`` does not exist.
    ImportError
        Without matplotlib.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - matplotlib is in the test env
        raise ImportError("Pictures need matplotlib: pip install 'agea-xr[plot]'.") from err

    from ..plot import FIGSIZE, plot_slice

    dim = next(d for d in ("ap", "ml", "dv") if kwargs.get(d) is not None)
    fig = Figure(figsize=FIGSIZE[dim], layout="constrained")
    plot_slice(ds, gene, ax=fig.add_subplot(), **kwargs)
    output = Path(output)
    if output.parent and not output.parent.is_dir():
        raise FileNotFoundError(
            f"The folder of {str(output)!r} does not exist: create it or choose another path."
        )
    fig.savefig(output, dpi=dpi)
    return output


def run(args: argparse.Namespace) -> int:
    """Draw the slice and print the file's path."""
    from ..api import open_dataset
    from ..sample import sample_path

    if args.sample and args.source:
        raise ValueError("Give --sample or --source, not both.")
    source = sample_path() if args.sample else args.source
    ds = open_dataset(source, variant=args.variant, chunks=None)
    position = {
        d: getattr(args, d) * 1e-3 for d in ("ap", "ml", "dv") if getattr(args, d) is not None
    }
    path = save_slice(
        ds,
        args.gene,
        args.output,
        dpi=args.dpi,
        mapping=args.mapping,
        boundaries=not args.no_boundaries,
        **position,
    )
    print(path)
    return 0

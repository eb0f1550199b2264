"""``agea-xr plot --gene GENE --ap -2.0 -o fig.png``: slices of genes to picture files.

Positions on the command line are in **millimetres** from bregma (the Python
API takes metres).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import _options

__all__ = ["PLANES", "register", "run", "save_slice"]

#: The plane each position option cuts, as named in the output files.
PLANES = {"ap": "coronal", "ml": "sagittal", "dv": "horizontal"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``plot`` command."""
    p = sub.add_parser(
        "plot",
        help="draw a coronal, sagittal or horizontal slice of genes to PNG/PDF/SVG files",
        description="Draw one slice of a gene's expression (NaN-aware mean of its "
        "experiments) with region boundaries, in mm from bregma. Give exactly one of "
        "--ap (coronal), --ml (sagittal), --dv (horizontal), in millimetres. -o names the "
        "picture file, or a folder (existing, or ending with /) that receives "
        "GENE_PLANE.png for each --gene. Example: agea-xr plot --gene Pdyn --ap 1.0 "
        "--sample -o pdyn.png",
    )
    _options.add_genes(
        p, help="gene symbol (case-sensitive, e.g. Pdyn; repeatable with -o DIR)", required=True
    )
    plane = p.add_mutually_exclusive_group(required=True)
    plane.add_argument(
        "--ap",
        type=_options.millimetres("--ap"),
        help="coronal plane, mm from bregma (anterior +)",
    )
    plane.add_argument(
        "--ml", type=_options.millimetres("--ml"), help="sagittal plane, mm from bregma (right +)"
    )
    plane.add_argument(
        "--dv",
        type=_options.millimetres("--dv"),
        help="horizontal plane, mm from bregma (dorsal +)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="picture file (.png, .pdf, .svg), or a folder for GENE_PLANE.png files",
    )
    _options.add_source(p)
    _options.add_variant(p)
    _options.add_mapping(p, help="region level of the boundaries")
    p.add_argument("--no-boundaries", action="store_true", help="do not draw region boundaries")
    p.add_argument(
        "--dpi", type=_options.positive("--dpi"), default=150, help="resolution of raster files"
    )
    _options.add_progress(p)
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
        If the folder of ``output`` does not exist (checked before drawing).
    ImportError
        Without matplotlib.
    """
    output = _options.output_file(output, "the output")
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - matplotlib is in the test env
        raise ImportError("Pictures need matplotlib: pip install 'agea-xr[plot]'.") from err

    from ..plot import FIGSIZE, plot_slice

    dim = next(d for d in PLANES if kwargs.get(d) is not None)
    fig = Figure(figsize=FIGSIZE[dim], layout="constrained")
    plot_slice(ds, gene, ax=fig.add_subplot(), **kwargs)
    fig.savefig(output, dpi=dpi)
    return output


def outputs(output: str, genes: list[str], dim: str) -> dict[str, Path]:
    """The file of each gene, checked (folders made) before any drawing.

    Parameters
    ----------
    output : str
        ``-o``: a picture file, or a folder (an existing one, or a path ending
        with a separator, created here).
    genes : list of str
        The genes to draw.
    dim : {"ap", "ml", "dv"}
        The position given, which names the plane.

    Returns
    -------
    dict of str to pathlib.Path

    Raises
    ------
    ValueError
        For several genes and one file, or a file name whose suffix names no
        picture format matplotlib writes.
    FileNotFoundError
        If the folder of the file does not exist.
    """
    path = Path(output)
    if path.is_dir() or output.endswith(("/", os.sep)):
        folder = _options.output_folder(path, "-o")
        return {gene: folder / f"{gene}_{PLANES[dim]}.png" for gene in genes}
    if len(genes) > 1:
        raise ValueError(
            f"-o {output!r} is one file, but {len(genes)} genes were given: pass a folder "
            f"(-o {path.with_suffix('')}/) to write {genes[0]}_{PLANES[dim]}.png and the others "
            "into it."
        )
    from matplotlib.backend_bases import FigureCanvasBase

    from .._choices import check_choice

    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if not path.suffix:
        raise ValueError(
            f"-o {output!r} has no suffix and is no folder: end it with .png, .pdf or .svg, "
            "or create the folder first (or end it with /)."
        )
    check_choice(
        path.suffix.lstrip(".").lower(),
        formats,
        "picture format",
        hint=f"(the suffix of -o {output!r})",
    )
    return {genes[0]: _options.output_file(path, "-o")}


def run(args: argparse.Namespace) -> int:
    """Draw the slices and print the files' paths, one a line."""
    dim = next(d for d in PLANES if getattr(args, d) is not None)
    files = outputs(args.output, list(dict.fromkeys(args.genes)), dim)
    _options.check_mapping(args)
    ds = _options.open_source(args, chunks=None)
    from tqdm.auto import tqdm

    # a bar over the genes when there are several and they take more than a second
    bar = tqdm(files.items(), desc="plot", unit="gene", delay=1.0, disable=not args.progress)
    for gene, path in bar:
        save_slice(
            ds,
            gene,
            path,
            dpi=args.dpi,
            mapping=args.mapping,
            boundaries=not args.no_boundaries,
            **{dim: getattr(args, dim) * 1e-3},
        )
        bar.write(str(path))
    return 0

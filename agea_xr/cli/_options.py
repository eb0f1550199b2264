"""The options every ``agea-xr`` command spells the same way, and how they are read.

One grammar for all commands:

- ``--source SOURCE`` (or ``--sample``): a release folder, an fsspec URL of one,
  or an exported ``.nc``/``.zarr`` (opened with :func:`agea_xr.api.open_export`);
  without either, the local cache. ``--anon`` and ``--endpoint-url`` serve URLs.
- ``--variant``: one of :data:`agea_xr.layout.VARIANTS` (default ``raw``).
- ``--gene GENE``: repeatable, one gene per flag.
- ``--mapping``: default :data:`MAPPING` for every command.
- ``--progress/--no-progress``: progress bars on stderr (default on).
- ``--no-mask-and-scale``: the stored float16 with -1 for unmeasured voxels.
- ``--min-reliability``: the lipids whose reliability reaches it (:func:`open_items`
  opens the cell types and lipids with the source's ``--anon``/``--endpoint-url``).

Positions are in millimetres from bregma on the command line (the Python API takes
metres); argument types here check numbers before any work starts.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..layout import VARIANTS

__all__ = [
    "MAPPING",
    "add_decoding",
    "add_genes",
    "add_mapping",
    "add_min_reliability",
    "add_progress",
    "add_source",
    "add_variant",
    "count",
    "experiment_id",
    "fraction",
    "millimetres",
    "open_items",
    "open_source",
    "output_file",
    "output_folder",
    "output_parent",
    "positive",
]

#: The default region mapping of every command (that of :func:`region_expression`).
MAPPING = "Beryl"
#: The variant used when ``--variant`` is not given.
DEFAULT_VARIANT = "raw"


# --- argument types: numbers checked by agea_xr._choices, before any work ------------
def _typed(check: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """An argparse type calling ``check``; its message (without the name) becomes the error."""

    def parse(text: str) -> Any:
        try:
            return check(text)
        except (TypeError, ValueError) as err:
            message = str(err)
            raise argparse.ArgumentTypeError(message.removeprefix(f"{name} ")) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def count(name: str) -> Callable[[str], int]:
    """Type of a count option (``--top``): a whole number, at least 0."""
    from .._choices import check_count

    return _typed(lambda text: check_count(text, name), name)


def positive(name: str) -> Callable[[str], int]:
    """Type of a whole number of at least 1 (``--dpi``)."""
    from .._choices import check_integer

    return _typed(lambda text: check_integer(text, name, minimum=1), name)


def experiment_id(name: str = "--experiment") -> Callable[[str], int]:
    """Type of an Allen experiment id: a whole number (``71717084.9`` is refused)."""
    from .._choices import check_integer

    return _typed(lambda text: check_integer(text, name, minimum=0), name)


def millimetres(name: str) -> Callable[[str], float]:
    """Type of a position in mm from bregma: a finite number (``nan`` is refused)."""
    from .._choices import check_finite

    return _typed(lambda text: check_finite(text, name, unit="mm"), name)


def fraction(name: str) -> Callable[[str], float]:
    """Type of a number from 0 to 1 (``--min-reliability``): ``1.5`` and ``nan`` are refused."""

    def check(text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if not 0 <= number <= 1:  # also NaN
            raise ValueError(f"{name} must be a number from 0 to 1, got {text!r}.")
        return number

    return _typed(check, name)


# --- the common options -----------------------------------------------------------------
def add_source(
    p: argparse.ArgumentParser, *, exports: bool = True, sample: bool = True, help: str = ""
) -> None:
    """``--source`` (and ``--sample``), with ``--anon`` and ``--endpoint-url`` for URLs.

    Parameters
    ----------
    p : argparse.ArgumentParser
    exports : bool, default True
        Whether an exported ``.nc``/``.zarr`` is accepted.
    sample : bool, default True
        Whether ``--sample`` is offered.
    help : str, optional
        Help of ``--source`` instead of the standard one.
    """
    group = p.add_argument_group("data source")
    where = group.add_mutually_exclusive_group()
    kinds = "release folder, fsspec URL of one (s3://..., https://...)"
    if exports:
        kinds += " or exported .nc/.zarr"
    where.add_argument(
        "--source",
        metavar="SOURCE",
        help=help or f"the data: {kinds} (default: the local cache)",
    )
    if sample:
        where.add_argument(
            "--sample", action="store_true", help="the bundled real sample (Pdyn, Nrp1; offline)"
        )
    group.add_argument(
        "--anon", action="store_true", help="read an s3:// SOURCE anonymously (no credentials)"
    )
    group.add_argument("--endpoint-url", metavar="URL", help="S3 endpoint of a mirror")


def add_variant(p: argparse.ArgumentParser) -> None:
    """``--variant``, from :data:`agea_xr.layout.VARIANTS`."""
    p.add_argument(
        "--variant",
        choices=tuple(VARIANTS),
        help=f"which volumes: {' or '.join(VARIANTS)} (default {DEFAULT_VARIANT}; "
        "an export has none)",
    )


def add_genes(
    p: argparse.ArgumentParser, help: str = "only this gene (repeatable)", required: bool = False
) -> None:
    """``--gene GENE``, repeatable: one gene per flag (parsed as the list ``genes``)."""
    p.add_argument(
        "--gene", action="append", metavar="GENE", dest="genes", required=required, help=help
    )


def add_mapping(p: argparse.ArgumentParser, help: str = "region mapping") -> None:
    """``--mapping`` with the one default :data:`MAPPING`."""
    p.add_argument(
        "--mapping",
        default=MAPPING,
        help=f"{help}: Allen, Beryl, Cosmos, Swanson, each also -lr (default {MAPPING})",
    )


def add_progress(p: argparse.ArgumentParser) -> None:
    """``--progress/--no-progress`` (default on)."""
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bars on stderr (default: on)",
    )


def add_min_reliability(p: argparse.ArgumentParser) -> None:
    """``--min-reliability R``: only the lipids whose reliability reaches R."""
    p.add_argument(
        "--min-reliability",
        type=fraction("--min-reliability"),
        metavar="R",
        help="only the lipids whose reliability (Pearson r between replicates) is at least "
        "R, from 0 to 1 (default: all)",
    )


def add_decoding(p: argparse.ArgumentParser) -> None:
    """``--no-mask-and-scale``: keep the stored float16 (xarray's ``mask_and_scale``)."""
    p.add_argument(
        "--mask-and-scale",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="decode expression to float32 with NaN for unmeasured voxels (default); "
        "--no-mask-and-scale keeps the stored float16 with -1",
    )


# --- reading them -------------------------------------------------------------------------
def storage_options(args: argparse.Namespace) -> dict[str, Any]:
    """fsspec options from ``--anon`` and ``--endpoint-url``."""
    options: dict[str, Any] = {}
    if getattr(args, "endpoint_url", None):
        options["endpoint_url"] = args.endpoint_url
    if getattr(args, "anon", False):
        options["anon"] = True
    return options


def is_export(source: str | os.PathLike) -> bool:
    """Whether a source names an exported netCDF file or Zarr store (by its suffix)."""
    from ..formats import DATASET_FORMATS, FORMATS

    name = str(source).rstrip("/").lower()
    return any(name.endswith(FORMATS[fmt]) for fmt in DATASET_FORMATS)


def open_source(args: argparse.Namespace, *, chunks: Any = "default", cached_only: bool = False):
    """The dataset named by ``--source``/``--sample``/``--variant`` (and ``--gene``).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_source` and :func:`add_variant` (and, if the
        command has them, :func:`add_genes` and :func:`add_decoding`).
    chunks : optional
        As for :func:`agea_xr.api.open_dataset`; ``"default"`` keeps its default.
    cached_only : bool, default False
        Without a source, describe the local cache but never start a download.

    Returns
    -------
    xarray.Dataset
        Restricted to the ``--gene`` genes when given.

    Raises
    ------
    ValueError
        For ``--variant`` with an export or with the sample.
    """
    from ..api import open_dataset, open_export, open_sample

    kwargs: dict[str, Any] = {} if chunks == "default" else {"chunks": chunks}
    decode = getattr(args, "mask_and_scale", True)
    variant = getattr(args, "variant", None)
    source = getattr(args, "source", None)
    if getattr(args, "sample", False):
        ds = open_sample(variant=variant or DEFAULT_VARIANT, mask_and_scale=decode, **kwargs)
    elif source is not None and is_export(source):
        if variant is not None:
            raise ValueError(
                f"--variant {variant} does not apply to the export {source!r}: an export holds "
                "the variant it was made from (see `agea-xr info --source ...`); drop --variant."
            )
        ds = open_export(
            source,
            mask_and_scale=decode,
            storage_options=storage_options(args) or None,
            **kwargs,
        )
        ds.attrs["source"] = str(source)
    else:
        variant = variant or DEFAULT_VARIANT
        if source is None and cached_only:
            from ..fetch import cached_source

            # describe the local copy; never start a 1.4 GB download just for this
            source = cached_source(variant=variant, progress=getattr(args, "progress", True))
        ds = open_dataset(
            source,
            variant=variant,
            mask_and_scale=decode,
            storage_options=storage_options(args) or None,
            **kwargs,
        )
    genes = getattr(args, "genes", None)
    if genes:
        from ..gene_index import unknown_gene_message
        from ..stacks import names_of

        known = set(ds["gene"].values.tolist())
        for gene in genes:
            if gene not in known:
                raise KeyError(unknown_gene_message(gene, names_of(ds["gene"].values)))
        ds = ds.sel(gene=list(dict.fromkeys(genes)))
    return ds


def open_items(
    args: argparse.Namespace,
    kind: str,
    source: str | None,
    *,
    level: str | None = None,
    variant: str | None = None,
    min_reliability: float | None = None,
):
    """The cell types or lipids at ``source``, read with ``--anon`` and ``--endpoint-url``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_source`.
    kind : {"cell_types", "lipids"}
    source : str or None
        Their folder or URL; None: the local caches, else the IBL bucket.
    level, variant : str, optional
        Of the cell types (``variant`` None: ``raw``).
    min_reliability : float, optional
        Of the lipids.

    Returns
    -------
    xarray.Dataset
        As :func:`agea_xr.open_cell_types` or :func:`agea_xr.open_lipids` opens it.
    """
    from ..volumes import open_cell_types, open_lipids

    options = storage_options(args) or None
    if kind == "cell_types":
        variant = variant or DEFAULT_VARIANT
        return open_cell_types(source, level, variant, storage_options=options)
    return open_lipids(source, min_reliability, storage_options=options)


def check_mapping(args: argparse.Namespace) -> None:
    """Refuse an unknown ``--mapping`` before any data is read."""
    from ..regions import check_mapping as check

    args.mapping = check(args.mapping)


# --- outputs: checked before any work -------------------------------------------------------
def output_file(path: str | os.PathLike, option: str) -> Path:
    """A file to write later: its folder must exist now.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist, naming the option.
    IsADirectoryError
        If ``path`` is an existing folder.
    """
    path = Path(path)
    if path.is_dir() and not str(path).endswith((".zarr", ".zarr/")):
        raise IsADirectoryError(f"{option} {str(path)!r} is a folder: give a file name inside it.")
    return output_parent(path, option)


def output_parent(path: str | os.PathLike, option: str) -> Path:
    """A file or folder to create later: the folder that will hold it must exist now.

    Raises
    ------
    FileNotFoundError
        If that folder does not exist, naming the option.
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(
            f"The folder {str(parent)!r} of {option} {str(path)!r} does not exist: create it "
            "first (mkdir -p) or choose another path."
        )
    return path


def input_file(path: str | os.PathLike, what: str) -> Path:
    """A local file to read: it must exist and be a file.

    Raises
    ------
    FileNotFoundError
        If it does not exist, or is a folder.
    """
    path = Path(path)
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"{what} {str(path)!r} {state}: check the path.")
    return path


def output_folder(path: str | os.PathLike, option: str) -> Path:
    """A folder to write into: created now (with its parents) if missing.

    Raises
    ------
    NotADirectoryError
        If ``path`` exists and is not a folder.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"{option} {str(path)!r} exists and is not a folder: choose a folder."
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def stored_size(path: str | os.PathLike) -> int | None:
    """Bytes of a local file, or of every file in a local folder (a Zarr store).

    Returns
    -------
    int or None
        None for a URL or a missing path.
    """
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return None

"""Reference-store rows: the release opened through kerchunk references by plain xarray.

Opening the release through :func:`agea_xr.references` (a Zarr store whose chunks
are byte ranges of the binary) with ``xr.open_dataset(..., engine="kerchunk")``,
against :func:`agea_xr.open_dataset`; then one experiment read through each, and
the writing of the references itself.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import xarray as xr

from agea_xr import open_dataset, references
from benchmarks.common import Case


def _refs(folder: Path) -> str:
    """The references of ``folder``, written once per process (not timed)."""
    out = Path(tempfile.gettempdir()) / f"agea-bench-refs-{folder.name}.json"
    references(folder, out, overwrite=True)
    return str(out)


def _open_refs(refs: str) -> xr.Dataset:
    return xr.open_dataset(refs, engine="kerchunk", chunks={})


def _one_refs(ds: xr.Dataset):
    return ds.expression.isel(experiment=ds.sizes["experiment"] // 2).values


def _one_ours(ds: xr.Dataset):
    return ds.expression.isel(experiment=ds.sizes["experiment"] // 2).values


def _write_refs(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        references(folder, Path(tmp) / "refs.json")


CASES = [
    Case("references: open, agea_xr.open_dataset", run=open_dataset, repeat=7),
    Case(
        "references: open, plain xarray over kerchunk references",
        run=_open_refs,
        setup=_refs,
        baseline="references: open, agea_xr.open_dataset",
        repeat=7,
    ),
    Case(
        "references: one experiment, agea_xr (lazy, chunks=None)",
        run=_one_ours,
        setup=lambda f: open_dataset(f, chunks=None),
        repeat=20,
    ),
    Case(
        "references: one experiment, plain xarray over references",
        run=_one_refs,
        setup=lambda f: xr.open_dataset(_refs(f), engine="kerchunk"),
        baseline="references: one experiment, agea_xr (lazy, chunks=None)",
        repeat=20,
        note="float16 with NaN (agea_xr: float32)",
    ),
    Case(
        "references: write the references (agea_xr.references)",
        run=_write_refs,
        baseline="references: open, agea_xr.open_dataset",
        repeat=3,
    ),
]

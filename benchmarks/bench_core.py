"""Core rows: open, read one experiment, full-pass mean; numpy memmap baselines."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from agea_xr import layout, open_dataset
from benchmarks.common import Case, full_pass_mean, memmap


def _open_iblatlas_style(folder):
    # what iblatlas.genomics.agea.load() does once its files are cached
    table = pd.read_parquet(folder / layout.TABLE_FILE)
    label = np.load(folder / layout.LABEL_FILE)
    image = np.load(folder / layout.IMAGE_FILE)
    return table, memmap(folder), label, image


def _open_iblatlas(folder):
    # the peer itself: iblatlas.genomics.agea.load() on the same (full-size) folder
    from iblatlas.genomics import agea

    return agea.load(folder_cache=folder)


def _open_xr(folder):
    return open_dataset(folder)


def _one_memmap(mm):
    v = np.array(mm[mm.shape[0] // 2], dtype=np.float32)
    v[v == -1] = np.nan
    return v


def _one_xr(ds):
    return ds.expression.isel(experiment=ds.sizes["experiment"] // 2).values


def _one_lazy(ds):
    return ds.expression.isel(experiment=ds.sizes["experiment"] // 2).values


def _mean_xr(ds):
    return ds.expression.mean("experiment").values


def _fresh_python(code: str):
    """A case body: run ``code`` in a fresh interpreter (import costs are per process)."""

    def run(_folder):
        subprocess.run([sys.executable, "-c", code], check=True)

    return run


#: What xarray does when it lists engines; the baseline imports xarray alone.
_XARRAY = "import xarray"
_LIST_ENGINES = "import xarray; xarray.backends.list_engines()"
_IMPORT_PACKAGE = "import xarray, agea_xr; agea_xr.open_dataset"

CASES = [
    Case("import: xarray alone (fresh interpreter)", run=_fresh_python(_XARRAY), repeat=7),
    Case(
        "import: xarray.backends.list_engines() (loads the agea engine)",
        run=_fresh_python(_LIST_ENGINES),
        baseline="import: xarray alone (fresh interpreter)",
        repeat=7,
    ),
    Case(
        "import: agea_xr.open_dataset (first public name)",
        run=_fresh_python(_IMPORT_PACKAGE),
        baseline="import: xarray alone (fresh interpreter)",
        repeat=7,
    ),
    Case("open: np.memmap", run=memmap, repeat=7),
    Case("open: iblatlas-style (parquet + npy + memmap)", run=_open_iblatlas_style, repeat=7),
    Case("open: iblatlas.genomics.agea.load()", run=_open_iblatlas, repeat=7),
    Case(
        "open: agea_xr.open_dataset",
        run=_open_xr,
        baseline="open: iblatlas.genomics.agea.load()",
        repeat=7,
    ),
    Case("one experiment: np.memmap + decode", run=_one_memmap, setup=memmap, repeat=20),
    Case(
        "one experiment: dask (default chunks)",
        run=_one_xr,
        setup=open_dataset,
        baseline="one experiment: np.memmap + decode",
        repeat=20,
    ),
    Case(
        "one experiment: lazy (chunks=None)",
        run=_one_lazy,
        setup=lambda f: open_dataset(f, chunks=None),
        baseline="one experiment: np.memmap + decode",
        repeat=20,
    ),
    Case("full-pass mean: np.memmap", run=full_pass_mean, setup=memmap, repeat=3),
    Case(
        "full-pass mean: agea_xr (dask)",
        run=_mean_xr,
        setup=open_dataset,
        baseline="full-pass mean: np.memmap",
        repeat=3,
    ),
]

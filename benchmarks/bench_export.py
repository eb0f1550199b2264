"""Export rows: write the full dataset to netCDF and Zarr; read one experiment back.

The exports are written under ``<data folder>/exports``; each export row's note
gets the size on disk of what it wrote. Reading rows open the export once (not
timed) and read one experiment, next to the raw binary (``np.memmap`` + decode).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from agea_xr import export, layout, open_dataset, open_export
from benchmarks.common import Case, memmap

#: name -> keyword arguments of agea_xr.export
TARGETS = {
    "full.nc": {},
    "full.zarr": {},
    "full-unsharded.zarr": {"shards": None},
    "full-float16.zarr": {"dtype": "float16"},
}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _count(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file()) if path.is_dir() else 1


def _target(folder: Path, name: str) -> Path:
    out = folder / "exports"
    out.mkdir(exist_ok=True)
    return out / name


class ExportRow(Case):
    """Export the whole dataset; the note reports the size on disk."""

    def __init__(self, name: str, target: str, note: str) -> None:
        super().__init__(name=name, run=self._run, setup=self._setup, repeat=2, note=note)
        self.target = target
        self.base_note = note

    def _setup(self, folder: Path):
        return open_dataset(folder), _target(folder, self.target)

    def _run(self, state) -> None:
        ds, path = state
        export(ds, path, overwrite=True, **TARGETS[self.target])
        self.note = (
            f"{self.base_note}; {_size(path) / 1e6:,.0f} MB in {_count(path):,} file(s) "
            f"(raw binary {ds.sizes['experiment'] * layout.VOLUME_BYTES / 1e6:,.0f} MB)"
        )


def _open(name: str):
    def setup(folder: Path):
        path = _target(folder, name)
        if not path.exists():
            tmp = _target(folder, "." + name)
            shutil.rmtree(tmp, ignore_errors=True)
            export(open_dataset(folder), path, **TARGETS[name])
        return open_export(path)

    return setup


def _one_memmap(mm) -> np.ndarray:
    v = np.array(mm[mm.shape[0] // 2], dtype=np.float32)
    v[v == -1] = np.nan
    return v


def _one(ds) -> np.ndarray:
    return ds.expression.isel(experiment=ds.sizes["experiment"] // 2).values


CASES = [
    ExportRow("export: netCDF (float32, zlib 4)", "full.nc", "agea_xr.export(ds, 'x.nc')"),
    ExportRow(
        "export: Zarr (float32, zstd, shards of 32)", "full.zarr", "agea_xr.export(ds, 'x.zarr')"
    ),
    ExportRow("export: Zarr (float32, zstd, unsharded)", "full-unsharded.zarr", "shards=None"),
    ExportRow(
        "export: Zarr (float16, zstd, shards of 32)", "full-float16.zarr", "dtype='float16'"
    ),
    Case("one experiment (export rows): raw binary", run=_one_memmap, setup=memmap, repeat=20),
    Case(
        "one experiment: netCDF export",
        run=_one,
        setup=_open("full.nc"),
        baseline="one experiment (export rows): raw binary",
        repeat=20,
    ),
    Case(
        "one experiment: Zarr export (sharded)",
        run=_one,
        setup=_open("full.zarr"),
        baseline="one experiment (export rows): raw binary",
        repeat=20,
    ),
    Case(
        "one experiment: Zarr export (unsharded)",
        run=_one,
        setup=_open("full-unsharded.zarr"),
        baseline="one experiment (export rows): raw binary",
        repeat=20,
    ),
]

"""Coronal slices of Pdyn and Nrp1 with region boundaries, drawn with plain matplotlib.

Run: ``python examples/coronal_slice_numpy.py --out figures/`` (offline; ``--source
FOLDER`` for a full release). Writes
``coronal_slices.png``: the two genes of the bundled sample at 1.0 mm anterior to
bregma, in millimetres (dorsal up, right hemisphere on the right), with the Beryl
region boundaries of the label volume and unmeasured voxels in grey.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import agea_xr
from agea_xr.regions import region_ids

#: Figures this script writes into ``--out`` (the docs build runs it to draw them).
FIGURES = ("coronal_slices.png",)
AP = 1.0e-3  # metres from bregma (anterior positive): striatum and nucleus accumbens


def edges_mm(centres_m: np.ndarray) -> np.ndarray:
    """Voxel edges in mm from voxel centres in metres (a regular grid)."""
    step = centres_m[1] - centres_m[0]
    return np.append(centres_m - step / 2, centres_m[-1] + step / 2) * 1e3


def boundary_segments(ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> list:
    """Line segments on the voxel edges where neighbouring region ids differ.

    ``ids`` is (nx, ny); ``x`` and ``y`` are the voxel edges (nx + 1, ny + 1).
    """
    segments = []
    for i, j in zip(*np.nonzero(ids[1:, :] != ids[:-1, :]), strict=True):
        segments.append([(x[i + 1], y[j]), (x[i + 1], y[j + 1])])
    for i, j in zip(*np.nonzero(ids[:, 1:] != ids[:, :-1]), strict=True):
        segments.append([(x[i], y[j + 1]), (x[i + 1], y[j + 1])])
    return segments


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    parser.add_argument(
        "--source",
        help="a release folder or URL, e.g. the full release (default: the bundled sample)",
    )
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    ds = agea_xr.open_dataset(args.source) if args.source else agea_xr.open_sample()
    coronal = ds.sel(ap=AP, method="nearest")  # one AP plane: dims (experiment, ml, dv)
    regions = region_ids(coronal.label.values, "Beryl")  # (ml, dv) Allen structure ids
    x, y = edges_mm(ds.ml.values), edges_mm(ds.dv.values)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    for ax, gene in zip(axes, ["Pdyn", "Nrp1"], strict=True):
        values = coronal.expression.sel(gene=gene).isel(experiment=0).values  # (ml, dv)
        vmax = np.nanpercentile(values, 99.5)
        ax.set_facecolor("0.8")  # NaN voxels (no measurement) are left unpainted
        mesh = ax.pcolormesh(x, y, values.T, cmap="magma", vmin=0, vmax=vmax)
        ax.add_collection(
            LineCollection(boundary_segments(regions, x, y), colors="w", linewidths=0.4)
        )
        ax.set_aspect("equal")
        ax.set_title(f"{gene}, ap = {float(coronal.ap) * 1e3:+.1f} mm (coronal)")
        ax.set_xlabel("ml (mm from bregma, right +)")
        ax.set_ylabel("dv (mm from bregma, dorsal +)")
        fig.colorbar(mesh, ax=ax, shrink=0.8, label="expression energy")
    data = "full release" if args.source else "bundled sample"
    fig.suptitle(f"Allen ISH ({data}); white: Beryl region boundaries; grey: no data")
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / FIGURES[0], dpi=110)
    print(f"wrote {args.out / FIGURES[0]}")


if __name__ == "__main__":
    main()

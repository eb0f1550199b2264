"""The common tasks done the iblatlas way (numpy memmap) and the agea_xr way, checked equal.

Run: ``python examples/iblatlas_side_by_side.py`` (offline). On the full release,
``df, expression, atlas = iblatlas.genomics.agea.load()`` gives the table, the
memmap and the atlas; here the same three objects are built from the bundled
sample exactly as ``load()`` and ``load_atlas()`` build them (the sample has 2
experiments, not 4,345, and no ``image.npy``, so ``load()`` itself cannot open it).
Each task is then done both ways and the results are compared value for value.
``--source FOLDER`` runs the same on a local copy of the full release.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import agea_xr
from agea_xr.regions import region_ids

GENE = "Pdyn"
AP = -2.0e-3  # a coronal plane 2 mm posterior to bregma, in metres
XYZ = np.array([[-1.5e-3, -2.0e-3, -3.5e-3], [2.0e-3, 1.0e-3, -3.4e-3]])  # IBL x, y, z


def load_like_iblatlas(folder: Path):
    """What ``iblatlas.genomics.agea.load(folder)`` returns, for a folder of any size."""
    from iblatlas import atlas

    df_genes = pd.read_parquet(folder / "gene-expression.pqt")
    expression = np.memmap(
        folder / "gene-expression.bin",
        dtype=np.float16,
        mode="r",
        shape=(len(df_genes), 58, 41, 67),
    )
    label = np.load(folder / "label.npy")
    atlas_agea = atlas.BrainAtlas(
        image=np.zeros(label.shape, np.float32),  # load_atlas() reads image.npy here
        label=label,
        dxyz=200 / 1e6 * np.array([1, -1, -1]),
        regions=atlas.BrainRegions(),
        iorigin=atlas.ALLEN_CCF_LANDMARKS_MLAPDV_UM["bregma"] / 200,
        dims2xyz=[0, 2, 1],
        xyz2dims=[0, 2, 1],
    )
    return df_genes, expression, atlas_agea


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="unused: no figure")
    parser.add_argument(
        "--source",
        type=Path,
        help="a local release folder, e.g. the full release (default: the bundled sample)",
    )
    args = parser.parse_args(argv)

    folder = args.source or agea_xr.sample_path()
    df_genes, expression, atlas_agea = load_like_iblatlas(folder)
    ds = agea_xr.open_dataset(folder)

    # 1. One gene's volume(s), -1 -> NaN ------------------------------------------
    rows = np.flatnonzero(df_genes["gene"] == GENE)
    vol_np = expression[rows].astype(np.float32)  # (n_experiments, ml, dv, ap)
    vol_np[vol_np == -1] = np.nan
    vol_xr = ds.expression.sel(gene=GENE)  # lazy until .values
    np.testing.assert_array_equal(vol_np, vol_xr.values)
    print(f"1. {GENE}: {vol_np.shape[0]} experiment(s), identical volumes")

    # 2. A coronal slice at an AP coordinate ----------------------------------------
    iap = atlas_agea.bc.y2i(AP)
    slice_np = vol_np[:, :, :, iap]  # (n, ml, dv)
    slice_xr = vol_xr.sel(ap=AP, method="nearest")
    np.testing.assert_array_equal(slice_np, slice_xr.values)
    print(f"2. coronal slice at ap={float(slice_xr.ap) * 1e3:+.1f} mm (index {iap}): identical")

    # 3. Mean expression per Beryl region (measured voxels only) --------------------
    beryl_np = atlas_agea.regions.id[atlas_agea.regions.mappings["Beryl"][atlas_agea.label]]
    values = vol_np[0]
    ok = np.isfinite(values)
    ids, inverse = np.unique(beryl_np[ok], return_inverse=True)
    means_np = np.bincount(inverse, weights=values[ok]) / np.bincount(inverse)

    # the label volume with its coordinates, holding Beryl region ids instead of indices
    regions = ds.label.copy(data=region_ids(ds.label.values, "Beryl")).rename("region")
    means_xr = vol_xr.isel(experiment=0).load().groupby(regions).mean()
    np.testing.assert_array_equal(ids, means_xr.region.values)
    np.testing.assert_allclose(means_np, means_xr.values, rtol=1e-5)
    top = means_xr.sortby(means_xr, ascending=False).region.values[:3]
    names = [atlas_agea.regions.id2acronym(r)[0] for r in top]
    print(f"3. {ids.size} regions, same means; highest: {', '.join(names)}")

    # 4. Values and regions at points (e.g. probe channels), metres from bregma ------
    ixyz = atlas_agea.bc.xyz2i(XYZ)  # (n_points, 3) indices in x, y, z order
    at_np = expression[rows][:, ixyz[:, 0], ixyz[:, 2], ixyz[:, 1]]  # volume is (ml, dv, ap)
    at_np = np.where(at_np == -1, np.nan, at_np.astype(np.float32))
    labels_np = atlas_agea.get_labels(XYZ, mapping="Beryl")

    points = {
        dim: xr.DataArray(XYZ[:, k], dims="point") for k, dim in enumerate(("ml", "ap", "dv"))
    }
    at_xr = vol_xr.sel(points, method="nearest")  # (experiment, point)
    labels_xr = regions.sel(points, method="nearest").values
    np.testing.assert_array_equal(at_np, at_xr.values)
    np.testing.assert_array_equal(labels_np, labels_xr)
    print(f"4. {len(XYZ)} points: same values {at_xr.values.ravel()} and regions {labels_xr}")


if __name__ == "__main__":
    main()

"""Your own map onto the AGEA grid: a synthetic striatal effect as NIfTI, read and decoded.

Run: ``python examples/own_map.py --out figures/`` (offline). Writes
``own_map_resampling.png``: a coronal plane of a synthetic effect in the right
caudoputamen, as written at 50 µm in the Allen CCF (NIfTI, RAS+ mm from bregma), and
the same plane after :func:`agea_xr.read_map` averaged it onto the 200 µm grid, with
the fraction of each voxel the file covers; and ``own_map_decoded.png``: the regions
holding the map's highest values (``ds.agea.decode``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import agea_xr
from agea_xr.spaces import CCF_SHAPES, Placement, xyz_to_ccf_um

#: Figures this script writes into ``--out`` (the docs build runs it to draw them).
FIGURES = ("own_map_resampling.png", "own_map_decoded.png")
#: The effect: centred 2 mm right of, 0.5 mm anterior to and 3 mm below bregma (metres).
CENTRE = (2.0e-3, 0.5e-3, -3.0e-3)
RES = 50  # um


def synthetic_effect() -> np.ndarray:
    """A Gaussian blob (sigma 0.4 mm) in the right caudoputamen, Allen's (ap, dv, ml), 50 um."""
    shape = CCF_SHAPES[RES]
    ap, dv, ml = np.meshgrid(*(np.arange(n) * float(RES) for n in shape), indexing="ij")
    c_ap, c_dv, c_ml = xyz_to_ccf_um(CENTRE, "apdvml")
    d2 = (ap - c_ap) ** 2 + (dv - c_dv) ** 2 + (ml - c_ml) ** 2
    return np.exp(-d2 / (2 * 400.0**2)).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import nibabel as nib

    effect = synthetic_effect()
    affine = Placement.from_orientation("asl", RES, effect.shape).affine("bregma")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "effect_50um.nii.gz"
        nib.save(nib.Nifti1Image(effect, affine), path)
        grid_map = agea_xr.read_map(path)
    ds = agea_xr.open_sample()
    found = ds.agea.decode(grid_map)

    # the coronal plane through the centre, in both
    plane = grid_map.sel(ap=CENTRE[1], method="nearest")
    fine_ap = round(float(xyz_to_ccf_um(CENTRE, "apdvml")[0]) / RES)
    fine = effect[fine_ap]  # (dv, ml): rows DV, columns ML
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    half = RES / 2e3
    ml_mm = (np.array([0, effect.shape[2] - 1]) * RES - 5739.0) / 1e3
    dv_mm = -(np.array([0, effect.shape[1] - 1]) * RES - 332.0) / 1e3
    extent = (ml_mm[0] - half, ml_mm[1] + half, dv_mm[1] - half, dv_mm[0] + half)
    axes[0].imshow(fine, extent=extent, cmap="magma", vmin=0, vmax=1)
    axes[0].set_title("as written: 50 µm NIfTI (CCF)")
    grid_extent = (-5.839, 5.761, -7.768, 0.432)
    image = axes[1].imshow(
        plane.transpose("dv", "ml").values, extent=grid_extent, cmap="magma", vmin=0, vmax=1
    )
    axes[1].set_title("read_map: mean onto the 200 µm grid")
    fig.colorbar(image, ax=axes[:2], shrink=0.8, label="effect")
    cover = axes[2].imshow(
        plane.coverage.transpose("dv", "ml").values,
        extent=grid_extent,
        cmap="Greys",
        vmin=0,
        vmax=1,
    )
    axes[2].set_title("coverage (fraction of each voxel)")
    fig.colorbar(cover, ax=axes[2], shrink=0.8)
    for ax in axes:
        ax.axvline(-0.039, color="tab:cyan", lw=0.8, ls="--")  # the midline, 5,700 um CCF
        ax.set_xlabel("ML (mm from bregma, right +)")
        ax.set_ylabel("DV (mm)")
    fig.suptitle(f"Synthetic right-striatal effect, coronal plane AP {CENTRE[1] * 1e3:+.1f} mm")
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / FIGURES[0], dpi=110)
    plt.close(fig)

    top = found.regions.head(8).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    ax.barh(top["acronym"], top["mean"], color="tab:purple")
    ax.set_xlabel("mean of the map over the region's voxels")
    genes = ", ".join(
        f"{g} r={r:.2f}" for g, r in zip(found.genes.gene, found.genes.r, strict=True)
    )
    ax.set_title(f"decode: regions (Beryl); genes: {genes}", fontsize=9)
    fig.savefig(args.out / FIGURES[1], dpi=110)
    plt.close(fig)
    print(f"read {path.name}: {grid_map.attrs['placed_by']}; {grid_map.attrs['resampling']}")
    print(found)
    print(f"wrote {', '.join(str(args.out / f) for f in FIGURES)}")


if __name__ == "__main__":
    main()

"""read_map on real data: the Allen grid annotation through every format and orientation."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout

from .conftest import SHAPES, upsample


#: Allen's (ap, dv, ml) array -> RAS+ mm from bregma, written by hand (not by agea_xr).
def allen_affine(res: float) -> np.ndarray:
    mm = res / 1e3
    return np.array(
        [
            [0.0, 0.0, mm, -5.739],  # ml: right, from the left edge
            [-mm, 0.0, 0.0, 5.4],  # ap: posterior
            [0.0, -mm, 0.0, 0.332],  # dv: ventral
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def write_allen_nrrd(path, array, res):
    import nrrd

    # Allen's own header: a nominal LPS space with identity directions, in micrometres
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([float(res)] * 3),
        "space origin": np.zeros(3),
        "kinds": ["domain"] * 3,
        "encoding": "raw",
    }
    nrrd.write(str(path), array, header)


def write_allen_mhd(path, array, res):
    kinds = {np.dtype("uint16"): "MET_USHORT", np.dtype("float32"): "MET_FLOAT"}
    n = array.shape
    path.with_suffix(".raw").write_bytes(np.ascontiguousarray(array.transpose(2, 1, 0)).tobytes())
    path.write_text(
        "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
        "CompressedData = False\nTransformMatrix = 1 0 0 0 1 0 0 0 1\nOffset = 0 0 0\n"
        "CenterOfRotation = 0 0 0\nAnatomicalOrientation = RAI\n"
        f"ElementSpacing = {res} {res} {res}\nDimSize = {n[0]} {n[1]} {n[2]}\n"
        f"ElementType = {kinds[array.dtype]}\nElementDataFile = {path.with_suffix('.raw').name}\n"
    )


def test_allen_annotation_25um_in_every_format(tmp_path, fine25, codes):
    nifti = nib.Nifti1Image(fine25, allen_affine(25))
    nifti.header.set_xyzt_units("mm")
    nib.save(nifti, tmp_path / "a.nii")
    write_allen_nrrd(tmp_path / "a.nrrd", fine25, 25)
    write_allen_mhd(tmp_path / "a.mhd", fine25, 25)
    for name in ("a.nii", "a.nrrd", "a.mhd"):
        m = agea_xr.read_map(tmp_path / name, kind="labels")
        assert m.dims == layout.GRID_DIMS
        assert m.dtype == np.uint16
        np.testing.assert_array_equal(m.values, codes, err_msg=name)
        (tmp_path / name).unlink()
    np.testing.assert_array_equal(agea_xr.read_map(fine25, kind="labels", resolution_um=25), codes)


def test_coverage_is_the_fraction_of_the_voxel_inside_the_volume(tmp_path, fine25):
    crop = np.ascontiguousarray(fine25[:, :, :8])  # the leftmost 200 um of the CCF
    nib.save(nib.Nifti1Image(crop, allen_affine(25)), tmp_path / "crop.nii")
    m = agea_xr.read_map(tmp_path / "crop.nii", kind="labels")
    # only ML voxels 0 (half: 4 of 8 CCF voxels) and 1 (the other 4) are covered
    ml = np.zeros(58)
    ml[:2] = 0.5
    dv = np.ones(41)
    dv[[0, -1]] = 0.5
    ap = np.ones(67)
    ap[[0, -1]] = 0.5
    np.testing.assert_allclose(m.coverage, ml[:, None, None] * dv[None, :, None] * ap, atol=0)


#: transforms of Allen's (ap, dv, ml) axes: (new axis order, axes flipped)
ORIENTATIONS = {
    "lsa": ((2, 1, 0), ()),
    "asr": ((0, 1, 2), (2,)),
    "rpi": ((2, 0, 1), (0, 1, 2)),
    "pil": ((0, 1, 2), (0, 1)),
}


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_other_orientations(tmp_path, fine25, codes, orientation):
    axes, flips = ORIENTATIONS[orientation]
    array = np.flip(fine25.transpose(axes), flips)
    # an array with its brainglobe-space letters
    m = agea_xr.read_map(array, kind="labels", resolution_um=25, orientation=orientation)
    np.testing.assert_array_equal(m.values, codes)
    # a NIfTI whose affine nibabel reorients (inv_ornt_aff), not agea_xr
    # new axis k holds old axis axes[k]; nibabel's transform maps old axes to new ones
    old_to_new = np.zeros((3, 2))
    for new, old in enumerate(axes):
        old_to_new[old] = [new, -1 if new in flips else 1]
    affine = allen_affine(25) @ nib.orientations.inv_ornt_aff(old_to_new, fine25.shape)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(array), affine), tmp_path / "o.nii")
    m = agea_xr.read_map(tmp_path / "o.nii", kind="labels")
    assert m.attrs["orientation"] == orientation
    np.testing.assert_array_equal(m.values, codes)


def test_left_right_follow_the_affine(tmp_path, fine25, codes):
    flipped = np.ascontiguousarray(fine25[:, :, ::-1])
    said = allen_affine(25).copy()
    said[0, 2] *= -1  # the affine says: ML index grows to the left
    said[0, 3] = -5.739 + (456 - 1) * 0.025
    nib.save(nib.Nifti1Image(flipped, said), tmp_path / "said.nii")
    np.testing.assert_array_equal(agea_xr.read_map(tmp_path / "said.nii", kind="labels"), codes)
    nib.save(nib.Nifti1Image(flipped, allen_affine(25)), tmp_path / "unsaid.nii")
    mirrored = agea_xr.read_map(tmp_path / "unsaid.nii", kind="labels").values
    np.testing.assert_array_equal(mirrored, codes[::-1])
    assert not np.array_equal(codes[::-1], codes)  # the annotation is not symmetric


def write_ome_zarr(path, array, axes, transforms):
    import zarr

    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.create_array("0", data=array)
    group.attrs["ome"] = {
        "version": "0.5",
        "multiscales": [
            {"axes": axes, "datasets": [{"path": "0", "coordinateTransformations": transforms}]}
        ],
    }


def test_unilateral_map_stays_on_its_side(tmp_path, left_map):
    import nrrd
    import tifffile

    fine = upsample(left_map, 50)
    left = xr.DataArray(left_map, dims=layout.GRID_DIMS)
    results = {}
    nib.save(nib.Nifti1Image(fine, allen_affine(50)), tmp_path / "b.nii.gz")
    results["nifti bregma"] = agea_xr.read_map(tmp_path / "b.nii.gz")
    corner = allen_affine(50)
    corner[:3, 3] = 0.0
    nib.save(nib.Nifti1Image(fine, corner), tmp_path / "c.nii")
    results["nifti corner"] = agea_xr.read_map(tmp_path / "c.nii")
    write_allen_nrrd(tmp_path / "a.nrrd", fine, 50)
    results["nrrd allen"] = agea_xr.read_map(tmp_path / "a.nrrd")
    ras = {"space": "right-anterior-superior", "space units": ["mm"] * 3}
    ras["space directions"] = allen_affine(50)[:3, :3].T
    ras["space origin"] = allen_affine(50)[:3, 3]
    nrrd.write(str(tmp_path / "r.nrrd"), fine, ras)
    results["nrrd ras"] = agea_xr.read_map(tmp_path / "r.nrrd")
    write_allen_mhd(tmp_path / "a.mhd", fine, 50)
    results["metaimage"] = agea_xr.read_map(tmp_path / "a.mhd")
    tifffile.imwrite(tmp_path / "s.tif", fine)
    results["tiff"] = agea_xr.read_map(tmp_path / "s.tif", resolution_um=50)
    np.save(tmp_path / "a.npy", np.flip(fine, 2))
    results["npy asr"] = agea_xr.read_map(tmp_path / "a.npy", resolution_um=50, orientation="asr")
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in ("ap", "dv", "ml")]
    scale = [{"type": "scale", "scale": [50.0] * 3}]
    write_ome_zarr(tmp_path / "z.ome.zarr", fine, axes, scale)
    results["ome-zarr"] = agea_xr.read_map(tmp_path / "z.ome.zarr")
    for how, m in results.items():
        assert float(m.isel(ml=slice(29, None)).sum()) == 0.0, how
        np.testing.assert_array_equal(m.fillna(0).values, left.values, err_msg=how)


def test_on_grid_inputs_pass_through(tmp_path):
    import nrrd

    from agea_xr.spaces import grid_affine, ngff_axes, nrrd_header

    ds = agea_xr.open_sample()
    pdyn = ds.expression.sel(gene="Pdyn").squeeze(drop=True).compute()
    assert agea_xr.read_map(pdyn) is not None
    xr.testing.assert_identical(agea_xr.read_map(pdyn), pdyn.transpose("ml", "dv", "ap"))
    values = pdyn.values.astype(np.float32)
    for origin in ("bregma", "ccf"):
        nib.save(nib.Nifti1Image(values, grid_affine(origin)), tmp_path / f"{origin}.nii")
        back = agea_xr.read_map(tmp_path / f"{origin}.nii")
        assert back.attrs["resampling"] == "none (on the grid)"
        np.testing.assert_array_equal(back.values, values)
        nrrd.write(str(tmp_path / f"{origin}.nrrd"), values, nrrd_header(origin))
        np.testing.assert_array_equal(agea_xr.read_map(tmp_path / f"{origin}.nrrd"), values)
        axes, transforms = ngff_axes(origin)
        write_ome_zarr(tmp_path / f"{origin}.ome.zarr", values, axes, transforms)
        back = agea_xr.read_map(tmp_path / f"{origin}.ome.zarr", origin=origin)
        np.testing.assert_array_equal(back.values, values)
        np.testing.assert_array_equal(back.coverage, np.isfinite(values))


def test_continuous_mean_is_nan_aware(tmp_path):
    rng = np.random.default_rng(1)
    fine = rng.normal(size=SHAPES[50]).astype(np.float32)
    fine[rng.random(fine.shape) < 0.3] = np.nan
    m = agea_xr.read_map(fine, resolution_um=50)
    # reference: xarray's coarsen over blocks of 4, after the 2 CCF voxels before voxel 0
    padded = np.pad(fine, 2, constant_values=np.nan)
    ref = (
        xr.DataArray(padded, dims=("ap", "dv", "ml"))
        .coarsen(ap=4, dv=4, ml=4)
        .mean()
        .transpose("ml", "dv", "ap")
    )
    np.testing.assert_allclose(m.values, ref.values, rtol=1e-5, atol=1e-6)
    finite = np.isfinite(padded).astype(float)
    count = xr.DataArray(finite, dims=("ap", "dv", "ml")).coarsen(ap=4, dv=4, ml=4).sum()
    np.testing.assert_allclose(m.coverage, count.transpose("ml", "dv", "ap") / 64, atol=1e-7)


def test_mask_kind():
    fine = np.zeros(SHAPES[50], dtype=bool)
    fine[:, :, :114] = True  # the left half of the CCF
    m = agea_xr.read_map(fine, resolution_um=50)
    assert m.dtype == bool and m.attrs["kind"] == "mask"
    assert m.isel(ml=slice(None, 29)).all() and not m.isel(ml=slice(29, None)).any()


def test_refusals(tmp_path):
    with pytest.raises(ValueError, match="brainreg"):
        agea_xr.read_map(
            np.zeros((512, 1024, 512), np.uint8), resolution_um=21.5, orientation="asl"
        )
    with pytest.raises(ValueError, match="resolution_um"):
        agea_xr.read_map(np.zeros((10, 10, 10)))
    with pytest.raises(ValueError, match="orientation="):
        agea_xr.read_map(np.zeros((100, 80, 60)), resolution_um=25)
    with pytest.raises(ValueError, match="brainreg"):
        agea_xr.read_map(np.zeros((100, 80, 60)), resolution_um=25, orientation="asl")
    with pytest.raises(ValueError, match="brainglobe-space letters"):
        agea_xr.read_map(np.zeros(SHAPES[50]), resolution_um=50, orientation="abc")
    # 30 um voxels do not divide the grid's 200 um
    nib.save(
        nib.Nifti1Image(np.zeros((100, 100, 100), np.float32), allen_affine(30)),
        tmp_path / "w.nii",
    )
    with pytest.raises(ValueError, match="divide 200 um"):
        agea_xr.read_map(tmp_path / "w.nii")
    with pytest.raises(ValueError, match="labels"):
        agea_xr.read_map(np.zeros(SHAPES[50], np.float32), resolution_um=50, kind="labels")
    with pytest.raises(ValueError, match="kind"):
        agea_xr.read_map(np.zeros(SHAPES[50]), resolution_um=50, kind="label")
    (tmp_path / "x.csv").write_text("1")
    with pytest.raises(ValueError, match="unknown map format"):
        agea_xr.read_map(tmp_path / "x.csv")
    with pytest.raises(FileNotFoundError):
        agea_xr.read_map(tmp_path / "none.nii")

"""NIfTI and NRRD exports, read back with nibabel and pynrrd: values and voxel positions."""

from __future__ import annotations

import nibabel as nib
import nrrd
import numpy as np
import pytest
from iblatlas.regions import BrainRegions
from nibabel.affines import apply_affine

import agea_xr
from agea_xr import layout


@pytest.fixture(scope="module")
def sample():
    return agea_xr.open_sample()


def ibl_mm(da, index):
    """IBL xyz (ml, ap, dv) in mm of voxel ``index`` = (i_ml, i_dv, i_ap), from the coordinates."""
    i, j, k = index
    return 1e3 * np.array([da.ml.values[i], da.ap.values[k], da.dv.values[j]])


VOXELS = [(0, 0, 0), (3, 7, 5), (28, 20, 30), (29, 20, 30), (57, 40, 66)]


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_holds_the_values_and_puts_voxels_at_their_xyz(sample, tmp_path, suffix):
    pdyn = sample.agea.gene("Pdyn")
    path = agea_xr.export(pdyn, tmp_path / f"pdyn{suffix}")
    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    assert data.dtype == np.float32 and data.shape == layout.GRID_SHAPE
    np.testing.assert_array_equal(data, pdyn.values)  # NaN where nothing was measured
    assert image.header.get_xyzt_units()[0] == "mm"
    assert int(image.header["sform_code"]) == int(image.header["qform_code"]) == 2
    for voxel in VOXELS:  # origin at bregma: world = IBL xyz in mm (RAS+)
        np.testing.assert_allclose(
            apply_affine(image.affine, voxel), ibl_mm(pdyn, voxel), atol=1e-6
        )
        np.testing.assert_allclose(
            apply_affine(image.get_qform(), voxel), ibl_mm(pdyn, voxel), atol=1e-6
        )


def test_ccf_origin_counts_from_the_ccf_corner(sample, tmp_path):
    pdyn = sample.agea.gene("Pdyn")
    path = agea_xr.export(pdyn, tmp_path / "ccf.nii.gz", origin="ccf")
    affine = nib.load(str(path)).affine
    bregma = np.array([layout.BREGMA_UM["ml"], -layout.BREGMA_UM["ap"], -layout.BREGMA_UM["dv"]])
    for voxel in VOXELS:  # RAS+ mm from the corner: bregma's CCF µm added back
        np.testing.assert_allclose(
            apply_affine(affine, voxel), ibl_mm(pdyn, voxel) + bregma / 1e3, atol=1e-6
        )
    np.testing.assert_allclose(apply_affine(affine, (0, 0, 0)), [0, 0, 0], atol=1e-6)


def test_a_one_hemisphere_map_stays_on_its_side(sample, tmp_path):
    pdyn = sample.agea.gene("Pdyn")
    brain = sample.agea.region_mask("root").values
    left = np.arange(layout.GRID_SHAPE[0]) <= layout.LEFT_ML_MAX_INDEX  # the midline landmark
    for side, sign, keep in (("left", -1, left), ("right", 1, ~left)):
        path = agea_xr.export(pdyn, tmp_path / f"{side}.nii.gz", regions="root", hemisphere=side)
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj)
        measured = np.argwhere(np.isfinite(data))
        x = apply_affine(image.affine, measured)[:, 0]  # RAS+: x < 0 is left
        assert measured.size and (np.sign(x) == sign).all()
        # the same voxels as that half of the whole volume
        half = np.where(brain & keep[:, None, None], pdyn.values, np.nan)
        assert np.isfinite(half).sum() == len(measured)
        np.testing.assert_array_equal(
            np.sort(data[np.isfinite(data)]), np.sort(half[np.isfinite(half)])
        )


def test_nrrd_label_is_allen_ids_with_directions_and_colour_tables(sample, tmp_path):
    path = agea_xr.export(sample.label, tmp_path / "label.nrrd")
    data, header = nrrd.read(str(path))
    br = BrainRegions()
    ids = np.abs(br.id[sample.label.values])
    assert data.dtype == np.int32
    np.testing.assert_array_equal(data, ids)
    assert header["space"] == "right-anterior-superior"
    directions, origin = header["space directions"], header["space origin"]
    for voxel in VOXELS:
        np.testing.assert_allclose(
            origin + np.asarray(voxel) @ directions, ibl_mm(sample, voxel), atol=1e-9
        )
    # colour tables beside it: every region present, with its acronym and colour
    slicer = (tmp_path / "label.ctbl").read_text().splitlines()[1:]
    rows = {int(line.split()[0]): line.split()[1:] for line in slicer}
    assert set(rows) == set(np.unique(ids).tolist())
    for value in (int(ids[30, 20, 30]), int(ids[10, 15, 40])):
        k = np.flatnonzero(br.id == value)[0]
        assert rows[value][0] == br.acronym[k].replace(" ", "_")
        assert [int(c) for c in rows[value][1:4]] == br.rgb[k].tolist()
    itk = (tmp_path / "label.label.txt").read_text()
    assert f'"{br.acronym[k]}: {br.name[k]}"' in itk


def test_read_map_of_every_viewer_export_is_the_identity(sample, tmp_path):
    nrp1 = sample.agea.gene("Nrp1")
    cases = (("b.nrrd", None), ("c.nrrd", "ccf"), ("m.nii.gz", "ccf"), ("o.ome.zarr", None))
    for name, origin in cases:
        path = agea_xr.export(nrp1, tmp_path / name, origin=origin)
        back = agea_xr.read_map(path)
        assert back.dims == layout.GRID_DIMS
        np.testing.assert_array_equal(back.values, nrp1.values)
    data, _ = nrrd.read(str(tmp_path / "b.nrrd"))
    np.testing.assert_array_equal(data, nrp1.values.astype(np.float32))


def test_cropped_export_keeps_voxels_in_place(sample, tmp_path):
    pdyn = sample.agea.gene("Pdyn")
    path = agea_xr.export(pdyn, tmp_path / "acb.nii", regions="ACB")
    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    assert data.shape != layout.GRID_SHAPE
    mask = sample.agea.region_mask("ACB").values
    first = [int(a.min()) for a in np.nonzero(mask)]
    np.testing.assert_allclose(
        apply_affine(image.affine, (0, 0, 0)), ibl_mm(pdyn, first), atol=1e-6
    )
    back = agea_xr.read_map(path)
    np.testing.assert_array_equal(back.values, pdyn.where(mask).values)


def test_several_volumes_are_refused_with_the_remedy(sample, tmp_path):
    with pytest.raises(ValueError, match=r"holds one volume.*OME-Zarr"):
        agea_xr.export(sample, tmp_path / "two.nii.gz")
    with pytest.raises(ValueError, match="float16"):
        agea_xr.export(sample.agea.gene("Pdyn"), tmp_path / "h.nrrd", dtype="float16")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", ["nrrd", "nii.gz", "ome.zarr"])
def test_label_export_reads_back_as_the_allen_ids(sample, tmp_path, suffix):
    path = agea_xr.export(sample.label, tmp_path / f"label.{suffix}")
    back = agea_xr.read_map(str(path), kind="labels")
    allen = sample.agea.regions("Allen")
    np.testing.assert_array_equal(back.values, allen.values)
    assert int((back.values != 0).sum()) == 62_529  # the annotation's brain voxels

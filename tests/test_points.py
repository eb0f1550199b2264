"""Points and the iblatlas bridge, against the real iblatlas BrainAtlas."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr
from iblatlas import atlas as ibl_atlas

import agea_xr
from agea_xr import layout
from agea_xr.layout import DXYZ, XYZ0
from agea_xr.points import i2xyz, plane_position, voxel_positions, xyz2i
from agea_xr.regions import MAPPINGS, brain_regions

from .test_regions import dataset_with_label, random_label, voxel_centres


def load_atlas_like_iblatlas(image: np.ndarray, label: np.ndarray):
    """The BrainAtlas exactly as iblatlas.genomics.agea.load_atlas builds it (no download)."""
    return ibl_atlas.BrainAtlas(
        image=image,
        label=label,
        dxyz=200 / 1e6 * np.array([1, -1, -1]),
        regions=ibl_atlas.BrainRegions(),
        iorigin=ibl_atlas.ALLEN_CCF_LANDMARKS_MLAPDV_UM["bregma"] / 200 + np.array([0, 0, 0]),
        dims2xyz=[0, 2, 1],
        xyz2dims=[0, 2, 1],
    )


@pytest.fixture(scope="module")
def sample() -> xr.Dataset:
    return agea_xr.open_sample()


@pytest.fixture(scope="module")
def synthetic(synthetic_dir) -> xr.Dataset:
    return agea_xr.open_dataset(synthetic_dir)


@pytest.fixture(scope="module")
def random_ds(tmp_path_factory) -> xr.Dataset:
    return dataset_with_label(tmp_path_factory.mktemp("pts") / "agea", random_label(2))


def random_points(n: int, seed: int, margin: float = 0.0) -> np.ndarray:
    """Points spread over the grid (``margin`` m beyond its voxel centres on each side)."""
    rng = np.random.default_rng(seed)
    lo = np.minimum(XYZ0, XYZ0 + (np.array([58, 67, 41]) - 1) * DXYZ) - margin
    hi = np.maximum(XYZ0, XYZ0 + (np.array([58, 67, 41]) - 1) * DXYZ) + margin
    return rng.uniform(lo, hi, size=(n, 3))


# --- the bridge -------------------------------------------------------------------------
def test_layout_bregma_is_iblatlas_bregma():
    np.testing.assert_array_equal(
        ibl_atlas.ALLEN_CCF_LANDMARKS_MLAPDV_UM["bregma"],
        [layout.BREGMA_UM["ml"], layout.BREGMA_UM["ap"], layout.BREGMA_UM["dv"]],
    )


@pytest.mark.parametrize("which", ["sample", "synthetic"])
def test_to_brain_atlas_is_load_atlas(which, sample, synthetic, synthetic_dir):
    ds = sample if which == "sample" else synthetic
    ba = ds.agea.to_brain_atlas()
    assert isinstance(ba, ibl_atlas.BrainAtlas)
    if which == "sample":  # no image.npy: a zero image of the grid's shape
        assert ba.image.shape == layout.GRID_SHAPE and not ba.image.any()
    else:
        np.testing.assert_array_equal(ba.image, np.load(synthetic_dir / layout.IMAGE_FILE))
    np.testing.assert_array_equal(ba.label, ds.label.values)
    ref = load_atlas_like_iblatlas(ba.image, ba.label)
    for attr in ("x0", "y0", "z0", "dx", "dy", "dz", "nx", "ny", "nz"):
        assert getattr(ba.bc, attr) == getattr(ref.bc, attr), attr
    np.testing.assert_array_equal(ba.dims2xyz, ref.dims2xyz)
    np.testing.assert_array_equal(ba.xyz2dims, ref.xyz2dims)
    np.testing.assert_array_equal(ba.regions.id, ref.regions.id)
    # the grid coordinates are the atlas' voxel centres
    np.testing.assert_allclose(ba.bc.xscale, ds.ml.values, atol=1e-12)
    np.testing.assert_allclose(ba.bc.yscale, ds.ap.values, atol=1e-12)
    np.testing.assert_allclose(ba.bc.zscale, ds.dv.values, atol=1e-12)


def test_iblatlas_tools_work_on_the_atlas(sample):
    ba = sample.agea.to_brain_atlas()
    coronal = ba.slice(1.0e-3, axis=1, volume="annotation", mapping="Beryl")
    assert coronal.shape == (58, 41, 3)  # (ml, dv) RGB
    value = ba.slice(1.0e-3, axis=1, volume="volume", region_values=sample.expression.values[0])
    np.testing.assert_array_equal(value, sample.expression.values[0][:, :, 22])


def test_to_brain_atlas_needs_the_whole_grid(sample):
    with pytest.raises(ValueError, match="not the whole AGEA grid"):
        sample.isel(ml=slice(1, None)).agea.to_brain_atlas()
    with pytest.raises(ValueError, match="no 'label' coordinate"):
        sample.expression.agea.to_brain_atlas()


def test_from_brain_atlas_round_trip(synthetic):
    back = agea_xr.from_brain_atlas(synthetic.agea.to_brain_atlas())
    xr.testing.assert_equal(back.label, synthetic.label.reset_coords(drop=True).compute())
    np.testing.assert_array_equal(back.image.values, synthetic.image.values)
    xr.testing.assert_identical(back.ml, synthetic.ml)
    xr.testing.assert_equal(back.agea.region_mask("CP"), synthetic.agea.region_mask("CP"))


def test_from_brain_atlas_rejects_other_geometry(sample):
    ba = sample.agea.to_brain_atlas()
    other = ibl_atlas.BrainAtlas(
        image=ba.image, label=ba.label, dxyz=DXYZ, regions=brain_regions()
    )  # default axis order and origin: another geometry
    with pytest.raises(ValueError, match="not on the AGEA grid"):
        agea_xr.from_brain_atlas(other)
    with pytest.raises(ValueError, match="Expected an iblatlas.atlas.BrainAtlas"):
        agea_xr.from_brain_atlas(np.zeros(3))


def test_wrap_volume(synthetic_raw, synthetic):
    da = agea_xr.wrap_volume(synthetic_raw, name="raw")
    assert da.dims == ("experiment", "ml", "dv", "ap")
    assert np.shares_memory(da.values, synthetic_raw)
    xr.testing.assert_identical(da.ap, synthetic.ap)
    one = agea_xr.wrap_volume(synthetic_raw[0])
    assert one.dims == ("ml", "dv", "ap")
    two = agea_xr.wrap_volume(np.zeros((2, 3, 58, 41, 67)), dims=("a", "b"))
    assert two.dims == ("a", "b", "ml", "dv", "ap")
    with pytest.raises(ValueError, match=r"not on the AGEA grid.*\(ml, dv, ap\)"):
        agea_xr.wrap_volume(np.zeros((67, 58, 41)))
    with pytest.raises(ValueError, match="names 1 leading axes, but the array has 2"):
        agea_xr.wrap_volume(np.zeros((2, 3, 58, 41, 67)), dims=("a",))


# --- indices ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["raise", "clip"])
def test_xyz2i_and_i2xyz_equal_iblatlas(sample, mode):
    bc = sample.agea.to_brain_atlas().bc
    points = random_points(2000, 1, margin=0.0 if mode == "raise" else 3e-3)
    np.testing.assert_array_equal(xyz2i(points, mode=mode), bc.xyz2i(points, mode=mode))
    centres = voxel_centres().reshape(-1, 3)
    np.testing.assert_array_equal(xyz2i(centres), bc.xyz2i(centres))
    ijk = np.random.default_rng(0).integers(0, [58, 67, 41], size=(100, 3))
    np.testing.assert_array_equal(i2xyz(ijk), bc.i2xyz(ijk))
    assert xyz2i([0.0, -2.0e-3, -3.0e-3]).tolist() == [[29, 37, 17]]


def test_xyz2i_errors():
    with pytest.raises(ValueError, match="outside the AGEA grid"):
        xyz2i([0.0, 0.0, 0.01])
    with pytest.raises(ValueError, match="not finite"):
        xyz2i([np.nan, 0.0, 0.0], mode="clip")
    with pytest.raises(ValueError, match=r"\(n, 3\) array"):
        xyz2i(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="Unknown mode 'nan'"):
        xyz2i([0.0, 0.0, 0.0], mode="nan")


# --- region_at ----------------------------------------------------------------------------
@pytest.mark.parametrize("mapping", MAPPINGS)
@pytest.mark.parametrize("which", ["sample", "random"])
def test_region_at_every_voxel_centre_equals_get_labels(which, mapping, sample, random_ds):
    ds = sample if which == "sample" else random_ds
    ba = ds.agea.to_brain_atlas()
    centres = voxel_centres().reshape(-1, 3)
    got = ds.agea.region_at(centres, mapping=mapping)
    np.testing.assert_array_equal(got.values, ba.get_labels(centres, mapping=mapping))
    np.testing.assert_array_equal(got.values, ds.agea.regions(mapping).values.reshape(-1))
    # and anywhere inside the grid, not only at centres
    points = random_points(3000, 7)
    np.testing.assert_array_equal(
        ds.agea.region_at(points, mapping=mapping).values,
        ba.get_labels(points, mapping=mapping),
    )


def test_region_at_coordinates_and_acronyms(sample):
    points = np.array([[2.0e-3, 1.0e-3, -3.5e-3], [-2.0e-3, 1.0e-3, -3.5e-3]])
    got = sample.agea.region_at(points, mapping="Beryl-lr")
    assert got.dims == ("point",)
    assert got.values.tolist() == [672, -672]
    assert got.acronym.values.tolist() == ["CP", "CP"]
    np.testing.assert_array_equal(got.x.values, points[:, 0])
    np.testing.assert_array_equal(got.z.values, points[:, 2])
    np.testing.assert_allclose(got.ml.values, [2.061e-3, -1.939e-3], atol=1e-12)
    np.testing.assert_allclose(got.ap.values, [1.0e-3, 1.0e-3], atol=1e-12)


@pytest.mark.parametrize("mapping", ["Allen", "Cosmos-lr"])
def test_region_at_out_of_grid_follows_mode(sample, mapping):
    ba = sample.agea.to_brain_atlas()
    points = random_points(500, 3, margin=4e-3)
    scaled = np.round((points - XYZ0) / DXYZ)
    outside = ((scaled < 0) | (scaled >= [58, 67, 41])).any(axis=1)
    assert 50 < outside.sum() < 450
    with pytest.raises(ValueError, match="lie outside the AGEA grid"):
        sample.agea.region_at(points, mapping=mapping)
    with pytest.raises(ValueError):
        ba.get_labels(points, mapping=mapping)  # iblatlas raises too
    clipped = sample.agea.region_at(points, mapping=mapping, mode="clip")
    np.testing.assert_array_equal(clipped.values, ba.get_labels(points, mapping, mode="clip"))
    nan = sample.agea.region_at(points, mapping=mapping, mode="nan")
    assert (nan.values[outside] == 0).all()
    assert (nan.acronym.values[outside] == "void").all()
    assert np.isnan(nan.ml.values[outside]).all() and not np.isnan(nan.ml.values[~outside]).any()
    np.testing.assert_array_equal(nan.values[~outside], clipped.values[~outside])


# --- at ---------------------------------------------------------------------------------
@pytest.mark.parametrize("chunks", [None, "default"])
def test_at_equals_indexing_at_xyz2i(synthetic_dir, synthetic_raw, chunks):
    kwargs = {} if chunks == "default" else {"chunks": chunks}
    ds = agea_xr.open_dataset(synthetic_dir, **kwargs)
    bc = ds.agea.to_brain_atlas().bc
    points = np.r_[random_points(1500, 11), voxel_centres().reshape(-1, 3)[::97]]
    got = ds.agea.at(points)
    assert got.dims == ("point", "experiment")
    assert (chunks == "default") == dask.is_dask_collection(got.data)
    i, j, k = bc.xyz2i(points).T  # x (ml), y (ap), z (dv)
    expected = synthetic_raw[:, i, k, j].T.astype(np.float32)
    expected[expected == -1] = np.nan
    np.testing.assert_array_equal(got.values, expected)
    np.testing.assert_array_equal(got.x.values, points[:, 0])
    np.testing.assert_array_equal(got.y.values, points[:, 1])
    np.testing.assert_array_equal(got.z.values, points[:, 2])
    np.testing.assert_allclose(
        np.c_[got.ml.values, got.ap.values, got.dv.values], bc.i2xyz(np.c_[i, j, k]), atol=1e-12
    )
    assert got.gene.values.tolist() == ds.gene.values.tolist()
    assert got.experiment.values.tolist() == ds.experiment.values.tolist()


def test_at_out_of_grid_follows_mode(synthetic, synthetic_raw):
    bc = synthetic.agea.to_brain_atlas().bc
    points = random_points(400, 5, margin=4e-3)
    scaled = np.round((points - XYZ0) / DXYZ)
    outside = ((scaled < 0) | (scaled >= [58, 67, 41])).any(axis=1)
    assert 30 < outside.sum() < 370
    with pytest.raises(ValueError, match=r"point\(s\) lie outside the AGEA grid.*mode='clip'"):
        synthetic.agea.at(points)
    clipped = synthetic.agea.at(points, mode="clip").values
    i, j, k = bc.xyz2i(points, mode="clip").T
    expected = synthetic_raw[:, i, k, j].T.astype(np.float32)
    expected[expected == -1] = np.nan
    np.testing.assert_array_equal(clipped, expected)
    nan = synthetic.agea.at(points, mode="nan")
    assert np.isnan(nan.values[outside]).all()
    np.testing.assert_array_equal(nan.values[~outside], expected[~outside])
    assert np.isnan(nan.dv.values[outside]).all()
    np.testing.assert_array_equal(nan.x.values, points[:, 0])  # asked points always kept


def test_at_non_finite_points(synthetic):
    points = np.array([[0.0, 0.0, -3.0e-3], [np.nan, 0.0, -3.0e-3]])
    for mode in ("raise", "clip"):
        with pytest.raises(ValueError, match="not finite"):
            synthetic.agea.at(points, mode=mode)
    got = synthetic.agea.at(points, mode="nan").values
    assert np.isnan(got[1]).all() and not np.isnan(got[0]).all()


def test_at_one_point_and_a_dataarray(sample):
    one = sample.agea.at([2.0e-3, 1.0e-3, -3.5e-3])
    assert one.sizes == {"point": 1, "experiment": 2}
    pdyn = sample.agea.gene("Pdyn")
    volume = pdyn.agea.at([[2.0e-3, 1.0e-3, -3.5e-3]])
    assert volume.dims == ("point",)
    assert float(volume[0]) == float(one.sel(experiment=71717084)[0])
    assert float(volume[0]) > 2  # Pdyn is expressed in the caudoputamen


def test_at_on_a_selection(synthetic, synthetic_raw):
    part = synthetic.isel(ml=slice(20, 40), ap=slice(None, None, -1))
    inside = np.array([[0.0, -2.0e-3, -3.0e-3], [1.0e-3, 1.0e-3, -1.0e-3]])
    np.testing.assert_array_equal(part.agea.at(inside).values, synthetic.agea.at(inside).values)
    outside = np.array([[-4.0e-3, 0.0, -3.0e-3]])  # in the grid, not in the selection
    with pytest.raises(ValueError, match="outside this selection of the AGEA grid"):
        part.agea.at(outside)
    assert np.isnan(part.agea.at(outside, mode="nan").values).all()
    clipped = part.agea.at(outside, mode="clip")
    assert float(clipped.ml[0]) == pytest.approx(float(part.ml[0]))


def test_at_errors(synthetic):
    with pytest.raises(ValueError, match="Unknown mode 'wrap'"):
        synthetic.agea.at([0.0, 0.0, 0.0], mode="wrap")
    with pytest.raises(ValueError, match=r"\(n, 3\) array of x, y, z in metres"):
        synthetic.agea.at([[0.0, 0.0]])
    with pytest.raises(ValueError, match="needs the 'ap' dimension"):
        synthetic.isel(ap=3).agea.at([0.0, 0.0, 0.0])
    shifted = synthetic.assign_coords(ml=synthetic.ml + 1e-5)
    with pytest.raises(ValueError, match="does not lie on the AGEA 200 um grid"):
        shifted.agea.at([0.0, 0.0, -3.0e-3])


# --- issue 10 case 5: one nearest-voxel rule, iblatlas' ---------------------------------
def half_way_points(bc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every point half-way between two neighbouring voxel centres along one axis.

    57 along x (ML), 66 along y (AP), 40 along z (DV): 163 positions, each written
    twice: as a person types it (decimal metres) and as iblatlas computes it
    (``bc.i2x(k + 0.5)``). The other two coordinates sit on a voxel centre.
    Returns the points, the axis (0, 1, 2 = x, y, z) of each, and the index k.
    """
    rows, axes, ks = [], [], []
    centre = bc.i2xyz(np.array([[29.0, 37.0, 17.0]]))[0]
    for axis, n in enumerate((bc.nx, bc.ny, bc.nz)):
        k = np.arange(n - 1)
        ibl = bc.i2xyz(np.c_[k, k, k] + 0.5)[:, axis]
        typed = np.round(ibl * 1e4, 6) / 1e4  # e.g. -0.0021, -0.005639
        for values in (typed, ibl):
            pts = np.tile(centre, (k.size, 1))
            pts[:, axis] = values
            rows.append(pts)
            axes.append(np.full(k.size, axis))
            ks.append(k)
    return np.concatenate(rows), np.concatenate(axes), np.concatenate(ks)


def test_half_way_points_get_iblatlas_voxel_everywhere(synthetic, synthetic_raw):
    ba = synthetic.agea.to_brain_atlas()  # iblatlas' own BrainAtlas
    points, axes, _ = half_way_points(ba.bc)
    assert points.shape == (2 * 163, 3)
    expected = ba.bc.xyz2i(points)  # iblatlas' answer
    centres = ba.bc.i2xyz(expected)
    np.testing.assert_array_equal(xyz2i(points), expected)
    # at: the value and the voxel centre of iblatlas' voxel
    got = synthetic.agea.at(points)
    np.testing.assert_allclose(
        np.c_[got.ml.values, got.ap.values, got.dv.values], centres, rtol=0, atol=1e-12
    )
    i, j, k = expected.T
    values = synthetic_raw[:, i, k, j].T.astype(np.float32)
    values[values == -1] = np.nan
    np.testing.assert_array_equal(got.values, values)
    # region_at: iblatlas' get_labels, under a lateralised mapping too
    for mapping in ("Allen", "Beryl-lr"):
        np.testing.assert_array_equal(
            synthetic.agea.region_at(points, mapping=mapping).values,
            ba.get_labels(points, mapping=mapping),
        )
    # the positions the seed lookup and the picture use
    positions, inside = voxel_positions(synthetic, points)
    assert inside.all()
    np.testing.assert_array_equal(positions["ml"], i)
    np.testing.assert_array_equal(positions["ap"], j)
    np.testing.assert_array_equal(positions["dv"], k)
    for row in range(points.shape[0]):
        axis = axes[row]
        dim = ("ml", "ap", "dv")[axis]
        assert plane_position(synthetic, dim, points[row, axis]) == expected[row, axis]


def test_half_way_rule_on_a_reversed_selection(synthetic):
    ba = synthetic.agea.to_brain_atlas()
    points = half_way_points(ba.bc)[0]
    expected = ba.bc.i2xyz(ba.bc.xyz2i(points))
    flipped = synthetic.isel(ml=slice(None, None, -1), ap=slice(None, None, -1))
    got = flipped.agea.at(points)
    np.testing.assert_allclose(
        np.c_[got.ml.values, got.ap.values, got.dv.values], expected, rtol=0, atol=1e-12
    )


def test_plane_position_refuses_what_it_cannot_place(synthetic):
    with pytest.raises(ValueError, match=r"ap must be a finite number \(in m\), got nan"):
        plane_position(synthetic, "ap", float("nan"))
    with pytest.raises(ValueError, match="ml must be a finite number.*inf"):
        plane_position(synthetic, "ml", np.inf)
    with pytest.raises(TypeError, match="dv must be a number"):
        plane_position(synthetic, "dv", "deep")
    with pytest.raises(ValueError, match=r"ap=0\.1 m \(\+100\.000 mm\) lies outside the grid"):
        plane_position(synthetic, "ap", 0.1)
    part = synthetic.isel(ap=slice(0, 10))
    with pytest.raises(ValueError, match="lies outside this selection of the grid"):
        plane_position(part, "ap", -2.0e-3)
    with pytest.raises(ValueError, match="Unknown dimension 'x'"):
        plane_position(synthetic, "x", 0.0)


def test_points_that_are_not_numbers(synthetic):
    with pytest.raises(ValueError, match="Points must be numbers"):
        synthetic.agea.at([["a", "b", "c"]])
    for bad in (np.inf, -np.inf, np.nan):
        with pytest.raises(ValueError, match="not finite"):
            synthetic.agea.region_at([[0.0, bad, -3.0e-3]])
        with pytest.raises(ValueError, match="not finite"):
            voxel_positions(synthetic, [0.0, 0.0, bad])


def test_sel_nearest_on_half_way_points_is_iblatlas_rule(synthetic):
    bc = synthetic.agea.to_brain_atlas().bc
    points, axes, _ = half_way_points(bc)
    expected = bc.i2xyz(bc.xyz2i(points))
    for row in range(points.shape[0]):
        dim = ("ml", "ap", "dv")[axes[row]]
        got = float(synthetic[dim].sel({dim: points[row, axes[row]]}, method="nearest"))
        assert got == pytest.approx(expected[row, axes[row]], abs=1e-12), (dim, row)

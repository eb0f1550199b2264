"""plot_overview: three sections through one point, chosen by iblatlas' xyz2i rule."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

import agea_xr
from agea_xr.plot import plot_overview
from agea_xr.points import xyz2i

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def ds():
    return agea_xr.open_sample()


@pytest.fixture(scope="module")
def pdyn(ds):
    return ds.agea.gene("Pdyn").transpose("ml", "dv", "ap").values.astype(np.float64)


def drawn(ax) -> np.ndarray:
    return np.ma.filled(ax.images[0].get_array().astype(np.float64), np.nan)


def expected_sections(values: np.ndarray, i_ml: int, i_ap: int, i_dv: int):
    """The three sections as plot_slice orients them, from plain numpy indexing.

    Stored order: ml ascending, dv and ap descending; images have rows bottom-up
    (ascending y) and columns ascending x.
    """
    coronal = values[:, :, i_ap].T[::-1, :]  # rows dv, columns ml
    sagittal = values[i_ml, :, :][::-1, ::-1]  # rows dv, columns ap
    horizontal = values[:, i_dv, :].T[::-1, :]  # rows ap, columns ml
    return coronal, sagittal, horizontal


@pytest.mark.parametrize(
    "xyz",
    [(2.5e-3, 0.5e-3, -3.5e-3), (-1.0e-3, -2.1e-3, -2.3e-3)],  # the 2nd: half-way planes
)
def test_planes_by_xyz2i_and_values_drawn(ds, pdyn, xyz):
    fig, axes = plot_overview(ds, "Pdyn", xyz=xyz, fig=Figure())
    assert len(axes) == 3 and all(ax.figure is fig for ax in axes)
    ((i_ml, i_ap, i_dv),) = xyz2i(xyz)
    for ax, want, name in zip(
        axes,
        expected_sections(pdyn, i_ml, i_ap, i_dv),
        ("coronal", "sagittal", "horizontal"),
        strict=True,
    ):
        assert f"{name} section" in ax.get_title()
        np.testing.assert_array_equal(drawn(ax), want)
    # the positions in the titles are those of the picked voxel planes
    ml, ap, dv = np.reshape(agea_xr.points.i2xyz([i_ml, i_ap, i_dv]), -1) * 1e3
    assert f"AP {ap:+.2f} mm" in axes[0].get_title()
    assert f"ML {ml:+.2f} mm" in axes[1].get_title()
    assert f"DV {dv:+.2f} mm" in axes[2].get_title()


def test_default_point_is_the_maximum_and_artists(ds, pdyn):
    _, axes = plot_overview(ds, "Pdyn", fig=Figure())
    i_ml, i_dv, i_ap = np.unravel_index(np.nanargmax(pdyn), pdyn.shape)
    for ax, want in zip(axes, expected_sections(pdyn, i_ml, i_ap, i_dv), strict=True):
        np.testing.assert_array_equal(drawn(ax), want)
        gids = {c.get_gid() for c in ax.collections}
        assert {"region boundaries", "brain outline", "planes"} <= gids
    peak = float(np.nanmax(pdyn))
    assert all(np.nanmax(drawn(ax)) == peak for ax in axes)  # the maximum is in every plane
    # one colour scale, one colour bar (on the horizontal section)
    assert len({ax.images[0].get_clim() for ax in axes}) == 1
    assert [len(ax.child_axes) for ax in axes] == [0, 0, 1]
    # the plane markers cross at the point: coronal marks ML and DV of the maximum
    (vertical, horizontal) = [
        s for c in axes[0].collections if c.get_gid() == "planes" for s in c.get_segments()
    ]
    np.testing.assert_allclose(vertical[0, 0], ds.ml.values[i_ml] * 1e3)
    np.testing.assert_allclose(horizontal[0, 1], ds.dv.values[i_dv] * 1e3)


def test_any_volume_and_the_accessor(ds):
    import pandas as pd

    v = ds.agea.region_map(pd.Series({"CP": -1.0, "ACB": 0.5}), "Beryl")
    point = (-2.5e-3, 0.5e-3, -3.5e-3)
    _, axes = v.agea.plot_overview(xyz=point, fig=Figure())
    assert axes[0].images[0].get_clim() == (-1.0, 1.0)  # signed: symmetric about 0
    values = v.transpose("ml", "dv", "ap").values
    ((i_ml, i_ap, i_dv),) = xyz2i(point)
    for ax, want in zip(axes, expected_sections(values, i_ml, i_ap, i_dv), strict=True):
        np.testing.assert_array_equal(drawn(ax), want)
        assert "region boundaries" in {c.get_gid() for c in ax.collections}  # its label coord


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"xyz": (0.0, 0.0)}, "one point"),
        ({"xyz": (0.0, 0.0, 1.0)}, "outside"),
    ],
)
def test_bad_point(ds, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_overview(ds, "Pdyn", fig=Figure(), **kwargs)

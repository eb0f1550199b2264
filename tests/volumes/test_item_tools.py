"""The point, plot and gene tools on cell types and lipids.

Values at points and drawn sections equal the file's numbers at the voxel
iblatlas' ``xyz2i`` picks; the gene tools say they are gene tools and what to
use instead.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

import agea_xr
from agea_xr import layout
from agea_xr.points import xyz2i

matplotlib.use("Agg")

#: Two points inside the grid, x, y, z in metres (ML, AP, DV).
XYZ = np.array([[-2.0e-3, 1.0e-3, -3.5e-3], [1.4e-3, -2.2e-3, -1.0e-3]])


@pytest.fixture(scope="module")
def ct(root):
    """The class level (8 types)."""
    return agea_xr.open_cell_types(root / "merfish", "class")


@pytest.mark.parametrize("which", ["ct", "lp"])
def test_values_at_points_are_the_file_values_at_iblatlas_voxel(request, which):
    ds = request.getfixturevalue(which)
    (name,) = [v for v in ds.data_vars if v != "label"]
    item = next(d for d in ds[name].dims if d not in layout.GRID_DIMS)
    out = ds.agea.at(XYZ)
    assert out.dims == ("point", item)
    assert out[item].values.tolist() == ds[item].values.tolist()
    stack = ds[name].values
    for k, (i, j, m) in enumerate(xyz2i(XYZ)):  # (ml, ap, dv) voxel of each point
        expected = stack[:, i, m, j].astype(np.float64)
        np.testing.assert_array_equal(out.values[k].astype(np.float64), expected)
    assert out.values.std() > 0  # the points hold data, not a constant


def test_a_cell_type_is_drawn_by_name_with_its_own_values(ct):
    name = str(ct.cell_type.values[2])
    ax = ct.agea.plot_slice(name, ap=1.0e-3, boundaries=False)
    (image,) = ax.get_images()
    j = int(xyz2i([[0.0, 1.0e-3, 0.0]])[0, 1])
    section = ct.density.sel(cell_type=name).isel(ap=j).transpose("dv", "ml")
    section = section.sortby(["dv", "ml"]).values.astype(np.float64)
    drawn = np.ma.filled(image.get_array().astype(np.float64), np.nan)
    np.testing.assert_array_equal(drawn, np.where(np.isnan(section), np.nan, section))
    assert ct.agea.plot_overview(name)[0] is not None


def test_which_item_to_draw_is_asked_with_the_names(ct):
    with pytest.raises(ValueError, match=r"Which cell_type\? This dataset holds 8 .*gene="):
        ct.agea.plot_slice(ap=1.0e-3)
    wrong = str(ct.cell_type.values[0])[:-1]
    with pytest.raises(KeyError, match=rf"No cell_type '{wrong}'.*Closest matches: "):
        ct.agea.plot_slice(wrong, ap=1.0e-3)


@pytest.mark.parametrize(
    "call",
    [
        lambda ds: ds.agea.gene("Pdyn"),
        lambda ds: ds.agea.genes(),
        lambda ds: ds.agea.search_genes("Pd"),
    ],
)
def test_gene_tools_say_they_are_gene_tools(ct, lp, call):
    for ds, words in ((ct, "'density' over 'cell_type'"), (lp, "over 'lipid'")):
        with pytest.raises(ValueError, match=rf"This is a gene tool.*{words}.*\.sel\("):
            call(ds)

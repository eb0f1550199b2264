"""Pictures: slices in mm, orientation, missing voxels, boundaries; the plot CLI and demo PNG."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

import agea_xr
from agea_xr.plot import boundary_segments
from agea_xr.regions import region_ids

matplotlib.use("Agg")

ML_MM = agea_xr.layout.ml_coords() * 1e3
DV_MM = agea_xr.layout.dv_coords() * 1e3
AP_MM = agea_xr.layout.ap_coords() * 1e3


@pytest.fixture(scope="module")
def ds():
    return agea_xr.open_sample()


def new_ax():
    return Figure(figsize=(6, 4), layout="constrained").add_subplot()


def collections(ax) -> dict[str, LineCollection]:
    return {c.get_gid(): c for c in ax.collections if isinstance(c, LineCollection)}


def test_coronal_slice_axes_orientation_and_values(ds):
    ax = ds.agea.plot_slice("Pdyn", ap=-2.0e-3, ax=new_ax())
    # mm from bregma, voxel edges at the border, dorsal up, left hemisphere on the left
    np.testing.assert_allclose(ax.get_xlim(), (ML_MM[0] - 0.1, ML_MM[-1] + 0.1))
    np.testing.assert_allclose(ax.get_ylim(), (DV_MM[-1] - 0.1, DV_MM[0] + 0.1))
    assert ax.get_xlim()[0] < ax.get_xlim()[1] and ax.get_ylim()[0] < ax.get_ylim()[1]
    assert ax.get_aspect() == 1.0
    assert ax.get_xlabel() == "ML from bregma (mm)"
    assert ax.get_ylabel() == "DV from bregma (mm)"
    assert "coronal section, AP -2.00 mm" in ax.get_title()
    assert "71717084" in ax.get_title()
    texts = {t.get_text(): t for t in ax.texts}
    assert texts["L"].get_position()[0] < texts["R"].get_position()[0]

    (image,) = ax.images
    assert image.get_label() == "expression"
    assert image.origin == "lower"
    np.testing.assert_allclose(
        image.get_extent(), (ML_MM[0] - 0.1, ML_MM[-1] + 0.1, DV_MM[-1] - 0.1, DV_MM[0] + 0.1)
    )
    shown = image.get_array()
    k = int(np.argmin(np.abs(AP_MM + 2.0)))
    plane = ds.expression.values[0][:, :, k]  # (ml, dv)
    expected = plane.T[::-1]  # rows from ventral (bottom, origin lower) to dorsal
    np.testing.assert_array_equal(shown.mask, np.isnan(expected))
    np.testing.assert_array_equal(shown.filled(np.nan), expected)
    assert shown.mask.any() and (~shown.mask).any()
    # a left voxel shows on the left half: column 0 is ml = -5.739 mm
    assert shown.shape == (41, 58)


def test_missing_voxels_are_grey_and_colour_bar_has_units(ds):
    ax = ds.agea.plot_slice("Pdyn", ap=1.0e-3, ax=new_ax())
    (image,) = ax.images
    assert image.cmap.get_bad() == pytest.approx(to_rgba("lightgrey"))
    assert image.norm.vmin == 0.0
    k = int(np.argmin(np.abs(AP_MM - 1.0)))
    finite = ds.expression.values[0][:, :, k]
    assert image.norm.vmax == pytest.approx(np.percentile(finite[np.isfinite(finite)], 99))
    bars = ax.child_axes  # the colour bar, exactly as tall as the section
    assert len(bars) == 1
    assert bars[0].get_position().height == pytest.approx(ax.get_position().height)
    assert bars[0].get_ylabel() == "ISH gene expression energy (a.u.)"
    legend = bars[0].get_legend()
    assert legend is not None and "measurement" in legend.get_texts()[0].get_text()
    assert legend.legend_handles[0].get_facecolor() == pytest.approx(to_rgba("lightgrey"))


def test_sagittal_slice_has_anterior_on_the_left_and_dorsal_up(ds):
    ax = ds.agea.plot_slice("Nrp1", ml=-2.0e-3, ax=new_ax())
    x0, x1 = ax.get_xlim()
    assert (x0, x1) == pytest.approx((AP_MM[0] + 0.1, AP_MM[-1] - 0.1))  # 5.5 .. -7.9
    assert x0 > x1
    y0, y1 = ax.get_ylim()
    assert (y0, y1) == pytest.approx((DV_MM[-1] - 0.1, DV_MM[0] + 0.1))
    assert ax.get_xlabel() == "AP from bregma (mm)"
    assert "sagittal section, ML -1.94 mm" in ax.get_title()  # the nearest voxel plane
    texts = {t.get_text() for t in ax.texts}
    assert {"anterior", "posterior"} <= texts
    shown = ax.images[0].get_array()
    i = int(np.argmin(np.abs(ML_MM + 2.0)))
    plane = ds.expression.values[1][i]  # (dv, ap), ap decreasing
    # columns run with ascending AP, the x axis is inverted: anterior drawn on the left
    np.testing.assert_array_equal(shown.filled(np.nan), plane[::-1, ::-1])


def test_horizontal_slice_has_anterior_up(ds):
    ax = ds.agea.plot_slice("Pdyn", dv=-4.0e-3, ax=new_ax())
    assert ax.get_xlim() == pytest.approx((ML_MM[0] - 0.1, ML_MM[-1] + 0.1))
    assert ax.get_ylim() == pytest.approx((AP_MM[-1] - 0.1, AP_MM[0] + 0.1))
    assert ax.get_ylabel() == "AP from bregma (mm)"
    assert {"L", "R"} <= {t.get_text() for t in ax.texts}
    k = int(np.argmin(np.abs(DV_MM + 4.0)))
    plane = ds.expression.values[0][:, k, :]  # (ml, ap)
    np.testing.assert_array_equal(ax.images[0].get_array().filled(np.nan), plane.T[::-1])


def test_boundaries_follow_the_label(ds):
    ax = ds.agea.plot_slice("Pdyn", ap=1.0e-3, ax=new_ax(), mapping="Beryl")
    lines = collections(ax)
    assert set(lines) == {"region boundaries", "brain outline"}
    assert lines["region boundaries"].get_label() == "region boundaries (Beryl)"
    k = int(np.argmin(np.abs(AP_MM - 1.0)))
    ids = region_ids(ds.label.values[:, :, k], "Beryl").T[::-1]  # as drawn
    changes = int((ids[:, 1:] != ids[:, :-1]).sum() + (ids[1:] != ids[:-1]).sum())
    inner = lines["region boundaries"].get_segments()
    outline = lines["brain outline"].get_segments()
    assert len(inner) + len(outline) == changes
    assert len(inner) > 50 and len(outline) > 50
    # every segment lies on voxel edges: ML edges at -5.839 + 0.2 n, DV edges at -7.768 + 0.2 n
    ends = np.concatenate([np.asarray(s) for s in inner + outline])
    for column, first_edge in ((0, ML_MM[0] - 0.1), (1, DV_MM[-1] - 0.1)):
        steps = (ends[:, column] - first_edge) / 0.2
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    # a finer mapping draws more boundaries
    allen = collections(ds.agea.plot_slice("Pdyn", ap=1.0e-3, ax=new_ax(), mapping="Allen"))
    assert len(allen["region boundaries"].get_segments()) > len(inner)
    assert not collections(ds.agea.plot_slice("Pdyn", ap=1.0e-3, ax=new_ax(), boundaries=False))


def test_boundary_segments_small():
    ids = np.array([[0, 5, 5], [0, 5, 7]])
    inner, outline = boundary_segments(ids, np.arange(4.0), np.arange(3.0))
    assert sorted(map(lambda s: s.tolist(), inner)) == [
        [[2.0, 1.0], [2.0, 2.0]],  # between 5 and 7, second row
        [[2.0, 1.0], [3.0, 1.0]],  # between 5 (row 0) and 7 (row 1), third column
    ]
    assert sorted(map(lambda s: s.tolist(), outline)) == [
        [[1.0, 0.0], [1.0, 1.0]],
        [[1.0, 1.0], [1.0, 2.0]],
    ]


def test_plot_a_gene_volume_dataarray(ds):
    pdyn = ds.agea.gene("Pdyn")  # carries the label: boundaries work
    ax = pdyn.agea.plot_slice(ap=1.0e-3, ax=new_ax())
    assert set(collections(ax)) == {"region boundaries", "brain outline"}
    assert ax.get_title().startswith("Pdyn: coronal")
    with pytest.raises(ValueError, match=r"no 'label' coordinate.*on the Dataset"):
        ds.expression.agea.plot_slice("Pdyn", ap=1.0e-3, ax=new_ax(), boundaries=True)
    # without a label, the default draws the section alone instead of failing
    ax = ds.expression.agea.plot_slice("Pdyn", ap=1.0e-3, ax=new_ax())
    assert not collections(ax)
    assert len(ax.images) == 1
    ax = ds.agea.plot_slice("Pdyn", ap=1.0e-3, ax=new_ax(), boundaries=False)
    assert not collections(ax)


def test_expression_keeps_a_sequential_colour_map(ds):
    ax = ds.agea.plot_slice("Pdyn", ap=1.0e-3, ax=new_ax())
    (image,) = ax.images
    assert image.cmap.name.startswith("magma") and image.norm.vmin == 0.0
    assert collections(ax)["brain outline"].get_color()[0] == pytest.approx(to_rgba("white"))


def test_region_tools_work_on_the_label_volume_itself(ds):
    # ds.label is a DataArray without a 'label' coordinate: it is the label
    xyz = [[2.0e-3, 1.0e-3, -3.5e-3]]
    np.testing.assert_array_equal(
        ds.label.agea.region_at(xyz, mapping="Beryl").values,
        ds.agea.region_at(xyz, mapping="Beryl").values,
    )
    assert int(ds.label.agea.region_mask("CP").sum()) == int(ds.agea.region_mask("CP").sum())


def test_correlation_map_is_drawn_diverging_around_zero(ds):
    from agea_xr.analysis import seed_correlation

    r = seed_correlation(ds, [-1.5e-3, 0.5e-3, -3.5e-3], min_experiments=2).compute()
    ax = r.agea.plot_slice(ap=0.5e-3, ax=new_ax())  # needs the label r now carries
    (image,) = ax.images
    assert image.cmap.name.startswith("RdBu_r")
    assert (image.norm.vmin, image.norm.vmax) == (-1.0, 1.0)  # r's valid range, centred on 0
    assert image.cmap.get_bad() == pytest.approx(to_rgba("0.6"))  # not white (r = 0)
    (bar,) = ax.child_axes
    assert bar.get_ylabel() == "Pearson r"  # dimensionless: no "(a.u.)"
    title = ax.get_title()
    assert title.startswith("r: coronal section, AP +0.60 mm")
    assert "Pearson r with the voxel at x=-1.539" in title
    lines = collections(ax)
    assert set(lines) == {"region boundaries", "brain outline"}
    assert lines["brain outline"].get_color()[0] == pytest.approx(to_rgba("0.15"))
    k = int(np.argmin(np.abs(AP_MM - 0.6)))
    np.testing.assert_array_equal(
        image.get_array().filled(np.nan), r.values[:, :, k].T[::-1].astype(float)
    )
    # explicit choices win; one limit is mirrored
    ax = r.agea.plot_slice(ap=0.5e-3, ax=new_ax(), cmap="PuOr", vmax=0.5)
    assert ax.images[0].cmap.name.startswith("PuOr")
    assert (ax.images[0].norm.vmin, ax.images[0].norm.vmax) == (-0.5, 0.5)


def test_signed_expression_is_centred_on_zero(synthetic_dir):
    processed = agea_xr.open_dataset(synthetic_dir, variant="processed")
    ax = processed.agea.plot_slice("Pdyn", ap=-2.0e-3, ax=new_ax())
    (image,) = ax.images
    k = int(np.argmin(np.abs(AP_MM + 2.0)))
    plane = processed.expression.sel(gene="Pdyn").values[0][:, :, k]
    assert plane.min() < 0 < plane.max()
    assert image.cmap.name.startswith("RdBu_r")
    vmax = np.percentile(np.abs(plane), 99)
    assert (image.norm.vmin, image.norm.vmax) == pytest.approx((-vmax, vmax))
    assert ax.child_axes[0].get_ylabel() == "ISH gene expression energy (a.u.)"


def test_colour_bar_label_uses_long_name_and_units(ds):
    base = ds.agea.gene("Pdyn")
    density = base.assign_attrs(long_name="cell density", units="cells/mm3")
    ax = density.agea.plot_slice(ap=1.0e-3, ax=new_ax())
    assert ax.child_axes[0].get_ylabel() == "cell density (cells/mm3)"
    plain = base.copy()
    plain.attrs = {"long_name": "z-score"}
    ax = plain.agea.plot_slice(ap=1.0e-3, ax=new_ax())
    assert ax.child_axes[0].get_ylabel() == "z-score"


def test_plot_with_pyplot_figure(ds):
    import matplotlib.pyplot as plt

    ax = ds.agea.plot_slice("Pdyn", ap=1.0e-3)
    try:
        assert ax.figure.get_layout_engine() is not None
        assert len(ax.child_axes) == 1  # the colour bar
    finally:
        plt.close(ax.figure)


def test_plot_errors(ds):
    with pytest.raises(ValueError, match="exactly one of ap=, ml=, dv="):
        ds.agea.plot_slice("Pdyn", ax=new_ax())
    with pytest.raises(ValueError, match="exactly one of ap=, ml=, dv="):
        ds.agea.plot_slice("Pdyn", ap=0.0, ml=0.0, ax=new_ax())
    with pytest.raises(ValueError, match=r"ap=-2\.0 m .* lies outside the grid.*metres"):
        ds.agea.plot_slice("Pdyn", ap=-2.0, ax=new_ax())
    with pytest.raises(ValueError, match="Which gene\\? This dataset holds 2 genes"):
        ds.agea.plot_slice(ap=0.0, ax=new_ax())
    with pytest.raises(KeyError, match="Closest matches: Pdyn"):
        ds.agea.plot_slice("pdyn", ap=0.0, ax=new_ax())
    with pytest.raises(ValueError, match="Unknown region mapping"):
        ds.agea.plot_slice("Pdyn", ap=0.0, mapping="Berly", ax=new_ax())


# --- command line ---------------------------------------------------------------------


def test_demo_writes_the_pdyn_png(demo_run):
    out = demo_run.stdout
    path = demo_run.out_dir / "agea-demo-Pdyn.png"
    assert f"with Beryl region boundaries: {path}\n" in out
    assert "Top 10 Beryl regions by mean Pdyn" in out  # the text demo is still there
    picture = matplotlib.image.imread(path)
    assert picture.shape[0] > 300 and picture.shape[1] > picture.shape[0]
    assert picture[..., :3].std() > 0.05
    assert "AP +1.40 mm" in out  # the plane where Pdyn's top regions express it most


# --- issue 10: non-finite planes, half-way planes, a user's subplot grid -------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_plane_draws_nothing_and_says_why(ds, bad):
    ax = new_ax()
    with pytest.raises(ValueError, match=r"ap must be a finite number \(in m\)"):
        ds.agea.plot_slice("Pdyn", ap=bad, ax=ax)
    assert not ax.images and not ax.collections and not ax.child_axes
    with pytest.raises(TypeError, match="ml must be a number"):
        ds.agea.plot_slice("Pdyn", ml="left", ax=ax)


def test_a_half_way_plane_is_the_one_iblatlas_picks(ds):
    bc = ds.agea.to_brain_atlas().bc
    for ap in (-2.1e-3, -2.3e-3, float(bc.i2y(10.5))):  # half-way between two planes
        j = int(bc.y2i(ap))
        ax = ds.agea.plot_slice("Pdyn", ap=ap, ax=new_ax())
        plane = ds.expression.values[0][:, :, j]
        np.testing.assert_array_equal(ax.images[0].get_array().filled(np.nan), plane.T[::-1])
        assert f"AP {bc.yscale[j] * 1e3:+.2f} mm" in ax.get_title()


@pytest.mark.parametrize("layout", [None, "constrained"])
def test_colour_bars_stay_in_their_own_subplot(ds, layout):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout=layout)
    try:
        ds.agea.plot_slice("Pdyn", ap=-2.0e-3, ax=axes[0])
        ds.agea.plot_slice("Nrp1", ap=-2.0e-3, ax=axes[1])
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        right_of_figure = fig.bbox.x1
        boxes = []
        for ax in axes:
            (bar,) = ax.child_axes  # each colour bar belongs to its own section
            bar_box = bar.get_tightbbox(renderer)  # ticks, label and legend included
            section = ax.get_window_extent(renderer)
            boxes.append((ax.get_tightbbox(renderer), bar_box, section))
            assert bar.get_window_extent(renderer).x0 > section.x1  # right of its section
            assert bar_box.x1 <= right_of_figure
            assert bar.get_legend() is not None  # the "no measurement" key sits on the bar
        # the first bar (and its label) ends before anything of the second subplot begins
        second_left = axes[1].yaxis.get_tightbbox(renderer).x0  # its DV tick labels and label
        assert boxes[0][1].x1 < second_left
    finally:
        plt.close(fig)

"""OME-Zarr exports: validated by ome-zarr-models, read back by ome-zarr's reader (napari's)."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from iblatlas.regions import BrainRegions
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from ome_zarr_models.v05 import Image

import agea_xr
from agea_xr import layout
from agea_xr.bridge import to_brain_atlas


@pytest.fixture(scope="module")
def sample():
    return agea_xr.open_sample()


def read_nodes(path):
    """ome-zarr's reader: the image node and its label node (what napari-ome-zarr shows)."""
    nodes = list(Reader(parse_url(str(path)))())
    image = next(n for n in nodes if n.data and "properties" not in n.metadata)
    labels = [n for n in nodes if n.data and "properties" in n.metadata]
    return image, labels


def transforms(node, level):
    ts = node.metadata["coordinateTransformations"][level]
    scale = next(t["scale"] for t in ts if t["type"] == "scale")
    shift = next(t["translation"] for t in ts if t["type"] == "translation")
    return np.array(scale), np.array(shift)


def nanmean_blocks(volume, f):
    """Means of f x f x f blocks over the non-NaN voxels (NaN-padded at the far ends)."""
    shape = [-(-n // f) * f for n in volume.shape]
    padded = np.full(shape, np.nan, dtype=np.float64)
    padded[tuple(slice(0, n) for n in volume.shape)] = volume
    blocks = padded.reshape(shape[0] // f, f, shape[1] // f, f, shape[2] // f, f)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning, match="empty slice"):
        return np.nanmean(blocks, axis=(1, 3, 5)).astype(np.float32)


def ccf_um_iblatlas(sample, ml, dv, ap):
    """CCF µm (ml, dv, ap) of IBL xyz, by iblatlas' own arithmetic (``AllenAtlas.xyz2ccf``)."""
    ba = to_brain_atlas(sample)
    ccf = ba.bc.xyz2i(np.array([[ml, ap, dv]]), round=False, mode="raise")[0] * 200.0
    return np.array([ccf[0], ccf[2], ccf[1]])


def test_one_gene_is_a_valid_multiscale_image_placed_in_the_ccf(sample, tmp_path):
    pdyn = sample.agea.gene("Pdyn")
    path = agea_xr.export(pdyn, tmp_path / "pdyn.ome.zarr")
    model = Image.from_zarr(zarr.open_group(str(path), mode="r"))  # the NGFF 0.5 schema
    multiscale = model.attributes.ome.multiscales[0]
    assert [a.name for a in multiscale.axes] == ["ml", "dv", "ap"]
    assert {a.unit for a in multiscale.axes} == {"micrometer"}
    assert len(multiscale.datasets) == 3
    image, labels = read_nodes(path)
    assert [a.dtype for a in image.data] == [np.float32] * 3
    expected = pdyn.values.astype(np.float32)
    np.testing.assert_array_equal(np.asarray(image.data[0]), expected)  # NaN where missing
    for level, f in ((1, 2), (2, 4)):
        np.testing.assert_allclose(
            np.asarray(image.data[level]), nanmean_blocks(expected, f), rtol=1e-6
        )
    # every voxel centre at its CCF position, as iblatlas computes it from ml, dv, ap
    scale, shift = transforms(image, 0)
    for i, j, k in [(0, 0, 0), (3, 7, 5), (57, 40, 66)]:
        ours = scale * [i, j, k] + shift
        ref = ccf_um_iblatlas(sample, pdyn.ml.values[i], pdyn.dv.values[j], pdyn.ap.values[k])
        np.testing.assert_allclose(ours, ref, atol=1e-6)
    # a coarse voxel is centred on the fine voxels it averages
    scale2, shift2 = transforms(image, 2)
    np.testing.assert_allclose(scale2 * [1, 1, 1] + shift2, scale * [5.5, 5.5, 5.5] + shift)
    assert len(labels) == 1


def test_region_labels_carry_allen_ids_colours_and_acronyms(sample, tmp_path):
    path = agea_xr.export(sample.agea.gene("Nrp1"), tmp_path / "nrp1.ome.zarr")
    _, (node,) = read_nodes(path)
    br = BrainRegions()
    ids = np.abs(br.id[sample.label.values])  # Allen ids, as Allen's annotation volumes
    np.testing.assert_array_equal(np.asarray(node.data[0]), ids)
    np.testing.assert_array_equal(np.asarray(node.data[1]), ids[::2, ::2, ::2])
    props = node.metadata["properties"]
    assert set(props) == set(np.unique(ids).tolist())
    values, counts = np.unique(ids[ids > 0], return_counts=True)
    for value in values[np.argsort(counts)[-3:]].tolist():  # the three largest regions
        row = np.flatnonzero(br.id == value)[0]
        assert props[value]["acronym"] == br.acronym[row]
        assert props[value]["name"] == br.name[row]
        np.testing.assert_allclose(node.metadata["color"][value][:3], br.rgb[row] / 255)
    assert node.metadata["color"][0][3] == 0  # void is transparent
    # labels and image share the grid: same level-0 placement
    image, _ = read_nodes(path)
    for a, b in zip(transforms(image, 0), transforms(node, 0), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_dataset_gives_one_image_per_experiment(sample, tmp_path):
    path = agea_xr.export(sample, tmp_path / "atlas.ome.zarr", genes=["Pdyn", "Nrp1"])
    root = zarr.open_group(str(path), mode="r")
    names = root.attrs["agea_xr"]["images"]
    pairs = list(zip(sample.gene.values, sample.experiment.values, strict=True))
    assert names == [f"{g}_{e}" for g, e in pairs]
    for name, (gene, experiment) in zip(names, pairs, strict=True):
        Image.from_zarr(root[name])
        image, labels = read_nodes(path / name)
        expected = sample.expression.sel(experiment=experiment).values
        np.testing.assert_array_equal(np.asarray(image.data[0]), expected)
        assert root[name].attrs["agea_xr"]["gene"] == gene
        assert root[name].attrs["agea_xr"]["experiment"] == experiment
        assert len(labels) == 1


def test_cropped_regions_and_bregma_origin_keep_voxels_in_place(sample, tmp_path):
    pdyn = sample.agea.gene("Pdyn")
    path = agea_xr.export(pdyn, tmp_path / "ca1.ome.zarr", regions="CA1", origin="bregma")
    image, (labels,) = read_nodes(path)
    data = np.asarray(image.data[0])
    # the region's bounding box, NaN outside the region, by numpy on the region mask
    mask = sample.agea.region_mask("CA1").values
    box = tuple(slice(a.min(), a.max() + 1) for a in np.nonzero(mask))
    part = pdyn.where(mask)[box]
    assert data.shape == part.shape and data.shape != layout.GRID_SHAPE
    np.testing.assert_array_equal(data, part.values)
    scale, shift = transforms(image, 0)
    # origin at bregma, CCF directions: µm = CCF µm - bregma's CCF µm (right, ventral, posterior)
    ref = ccf_um_iblatlas(sample, part.ml.values[0], part.dv.values[0], part.ap.values[0])
    bregma = [layout.BREGMA_UM[d] for d in layout.GRID_DIMS]
    np.testing.assert_allclose(shift, ref - bregma, atol=1e-6)
    np.testing.assert_array_equal(scale, [200.0] * 3)
    np.testing.assert_allclose(
        shift,
        [1e6 * part.ml.values[0], -1e6 * part.dv.values[0], -1e6 * part.ap.values[0]],
        atol=1e-6,
    )
    assert np.asarray(labels.data[0]).shape == data.shape


def test_the_label_alone_is_an_image_of_allen_ids(sample, tmp_path):
    path = agea_xr.export(sample.label, tmp_path / "label.ome.zarr")
    Image.from_zarr(zarr.open_group(str(path), mode="r"))
    image, (_labels,) = read_nodes(path)
    ids = np.abs(BrainRegions().id[sample.label.values])
    np.testing.assert_array_equal(np.asarray(image.data[0]), ids)
    np.testing.assert_array_equal(np.asarray(image.data[2]), ids[::4, ::4, ::4])
    np.testing.assert_array_equal(transforms(image, 1)[1], [0.0, 0.0, 0.0])


def test_refused_inputs_name_the_remedy(sample, tmp_path):
    with pytest.raises(ValueError, match="float16"):
        agea_xr.export(sample, tmp_path / "a.ome.zarr", dtype="float16")
    table = sample.agea.region_expression(mapping="Beryl")
    with pytest.raises(ValueError, match="Select or reduce"):
        agea_xr.export(table, tmp_path / "t.ome.zarr")
    with pytest.raises(ValueError, match="origin"):
        agea_xr.export(sample, tmp_path / "o.ome.zarr", origin="lambda")
    gaps = sample.isel(ml=[0, 2, 4])
    with pytest.raises(ValueError, match="consecutive"):
        agea_xr.export(gaps, tmp_path / "g.ome.zarr")
    assert not list(tmp_path.iterdir())  # nothing left behind
    with pytest.raises(ValueError, match="volume for viewers"):
        agea_xr.open_export(agea_xr.export(sample.label, tmp_path / "l.ome.zarr"))

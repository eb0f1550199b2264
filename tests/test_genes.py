"""Genes: the gene table, symbol search and one gene's volume (duplicated symbols)."""

from __future__ import annotations

import warnings

import dask
import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr.testing import synthetic_genes

from .conftest import N_SYNTHETIC


def decoded(raw: np.ndarray) -> np.ndarray:
    out = raw.astype(np.float32)
    out[raw == -1] = np.nan
    return out


@pytest.fixture(scope="module")
def ds(synthetic_dir) -> xr.Dataset:
    return agea_xr.open_dataset(synthetic_dir)


def test_gene_table_groups_duplicated_symbols(ds):
    ids, symbols = synthetic_genes(N_SYNTHETIC)
    table = ds.agea.genes()
    assert list(table.columns) == ["gene", "experiments", "n_experiments"]
    assert table["gene"].tolist() == list(dict.fromkeys(symbols))
    rows = table.set_index("gene")
    assert rows.loc["Gene0002", "experiments"] == [int(ids[2]), int(ids[3])]
    assert rows.loc["Gene0002", "n_experiments"] == 2
    assert rows.loc["Pdyn", "experiments"] == [int(ids[1])]
    assert rows["n_experiments"].sum() == N_SYNTHETIC
    for gene, row in rows.iterrows():
        expected = [int(i) for i, s in zip(ids, symbols, strict=True) if s == gene]
        assert row["experiments"] == expected


def test_gene_table_on_the_sample_and_on_a_dataarray():
    ds = agea_xr.open_sample()
    table = ds.expression.agea.genes()
    assert table.to_dict("list") == {
        "gene": ["Pdyn", "Nrp1"],
        "experiments": [[71717084], [74272479]],
        "n_experiments": [1, 1],
    }


def symbols_array(symbols: list[str]) -> xr.DataArray:
    n = len(symbols)
    return xr.DataArray(
        np.zeros(n),
        dims="experiment",
        coords={"experiment": np.arange(n), "gene": ("experiment", symbols)},
    )


def test_search_genes_order_and_case():
    da = symbols_array(["Aslc1", "Slc1a2", "Gad1", "Slc17a7", "slc1", "Slc1a2"])
    assert da.agea.search_genes("SLC1") == ["slc1", "Slc17a7", "Slc1a2", "Aslc1"]
    assert da.agea.search_genes("17a") == ["Slc17a7"]
    assert da.agea.search_genes("gad") == ["Gad1"]
    assert da.agea.search_genes("xyz") == []
    assert all(type(s) is str for s in da.agea.search_genes("a"))


def test_search_genes_on_synthetic(ds):
    assert ds.agea.search_genes("pdyn") == ["Pdyn"]
    assert ds.agea.search_genes("gene000") == [
        "Gene0000",
        "Gene0002",
        "Gene0004",
        "Gene0005",
        "Gene0007",
        "Gene0008",
    ]


def test_search_genes_errors(ds):
    with pytest.raises(ValueError, match="pattern is empty"):
        ds.agea.search_genes("")
    with pytest.raises(TypeError, match="pattern must be a string"):
        ds.agea.search_genes(3)


@pytest.mark.parametrize("chunks", [None, "default"])
def test_gene_mean_of_duplicated_symbol_is_nan_aware(synthetic_dir, synthetic_raw, chunks):
    kwargs = {} if chunks == "default" else {"chunks": chunks}
    ds = agea_xr.open_dataset(synthetic_dir, **kwargs)
    ids, _ = synthetic_genes(N_SYNTHETIC)
    out = ds.agea.gene("Gene0002")
    assert out.dims == ("ml", "dv", "ap")
    assert out.name == "Gene0002"
    assert out.attrs["experiments"] == [int(ids[2]), int(ids[3])]
    assert out.attrs["units"] == "1"
    two = decoded(synthetic_raw[2:4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice"
        expected = np.nanmean(two, axis=0)
    values = out.values
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    one_missing = np.isnan(two[0]) & ~np.isnan(two[1])
    assert one_missing.any()  # the test data have such voxels
    np.testing.assert_array_equal(values[one_missing], two[1][one_missing])
    both_missing = np.isnan(two).all(axis=0)
    np.testing.assert_array_equal(np.isnan(values), both_missing)
    # the label comes along, so region tools work on the result
    np.testing.assert_array_equal(out.label.values, ds.label.values)


def test_gene_mean_stays_lazy(ds):
    assert dask.is_dask_collection(ds.agea.gene("Gene0005").data)


def test_gene_without_combining(ds, synthetic_raw):
    out = ds.agea.gene("Gene0005", combine=None)
    assert out.dims == ("experiment", "ml", "dv", "ap")
    assert out.gene.values.tolist() == ["Gene0005", "Gene0005"]
    np.testing.assert_array_equal(out.values, decoded(synthetic_raw[5:7]))


def test_gene_with_one_experiment_is_that_experiment(ds, synthetic_raw):
    np.testing.assert_array_equal(ds.agea.gene("Pdyn").values, decoded(synthetic_raw[1]))


def test_gene_on_a_dataarray(ds, synthetic_raw):
    out = ds.expression.agea.gene("Gene0008")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmean(decoded(synthetic_raw[8:10]), axis=0)
    np.testing.assert_allclose(out.values, expected, rtol=1e-6)
    assert "label" not in out.coords


def test_gene_errors(ds):
    with pytest.raises(
        KeyError, match=r"Gene 'pdyn' is not in this dataset\. Closest matches: Pdyn"
    ):
        ds.agea.gene("pdyn")
    with pytest.raises(KeyError, match="Closest matches: Gene0002"):
        ds.agea.gene("Gene002")
    with pytest.raises(ValueError, match="Unknown combine 'medain'.*Did you mean 'median'"):
        ds.agea.gene("Pdyn", combine="medain")
    with pytest.raises(TypeError, match="must be a string"):
        ds.agea.gene(["Pdyn"])
    with pytest.raises(ValueError, match="no 'expression' variable"):
        ds[["label"]].agea.gene("Pdyn")


def test_gene_mean_where_no_experiment_measured_is_nan_without_warnings():
    values = np.full((3, 58, 41, 67), 2.0, dtype=np.float32)
    values[0, 0, 0, 0] = values[1, 0, 0, 0] = np.nan  # unmeasured in both experiments
    values[1, 1, 0, 0] = np.nan  # measured in one
    values[2] = 100.0  # another gene
    da = agea_xr.wrap_volume(values, name="expression").assign_coords(
        gene=("experiment", ["A", "A", "B"]), experiment=[1, 2, 3]
    )
    out = da.agea.gene("A")  # filterwarnings=error: no "Mean of empty slice"
    assert np.isnan(out.values[0, 0, 0])
    assert out.values[1, 0, 0] == 2.0
    assert np.isnan(out.values).sum() == 1
    assert float(out.max()) == 2.0


@pytest.mark.parametrize(("combine", "reduce"), [("median", np.nanmedian), ("max", np.nanmax)])
@pytest.mark.parametrize("chunks", [None, "default"])
def test_gene_median_and_max_match_numpy(synthetic_dir, synthetic_raw, combine, reduce, chunks):
    kwargs = {} if chunks == "default" else {"chunks": chunks}
    ds = agea_xr.open_dataset(synthetic_dir, **kwargs)
    ids, _ = synthetic_genes(N_SYNTHETIC)
    out = ds.agea.gene("Gene0002", combine=combine)
    assert out.dims == ("ml", "dv", "ap")
    assert out.name == "Gene0002"
    assert out.dtype == np.float32
    assert out.attrs["experiments"] == [int(ids[2]), int(ids[3])]
    assert (
        out.attrs["cell_methods"]
        == f"experiment: {'median' if combine == 'median' else 'maximum'}"
    )
    two = decoded(synthetic_raw[2:4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        expected = reduce(two, axis=0)
    values = out.values  # filterwarnings=error: no warning from all-NaN voxels
    np.testing.assert_array_equal(values, expected)
    both_missing = np.isnan(two).all(axis=0)
    assert both_missing.any()
    np.testing.assert_array_equal(np.isnan(values), both_missing)
    np.testing.assert_array_equal(out.label.values, ds.label.values)


def test_gene_median_and_max_of_three_experiments():
    values = np.full((4, 58, 41, 67), np.nan, dtype=np.float32)
    values[0, 1, 2, 3], values[1, 1, 2, 3], values[2, 1, 2, 3] = 1.0, 7.0, 2.0
    values[0, 0, 0, 0], values[2, 0, 0, 0] = 4.0, 10.0  # one experiment unmeasured
    values[3] = 100.0  # another gene
    da = agea_xr.wrap_volume(values, name="expression").assign_coords(
        gene=("experiment", ["A", "A", "A", "B"]), experiment=[1, 2, 3, 4]
    )
    median = da.agea.gene("A", combine="median")
    maximum = da.agea.gene("A", combine="max")
    assert float(median[1, 2, 3]) == 2.0 and float(maximum[1, 2, 3]) == 7.0
    assert float(median[0, 0, 0]) == 7.0 and float(maximum[0, 0, 0]) == 10.0
    assert np.isnan(median.values).sum() == np.isnan(maximum.values).sum() == 58 * 41 * 67 - 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        expected = np.nanmedian(values[:3, :2, :3, :4].astype(np.float64), axis=0)
    np.testing.assert_array_equal(median.values[:2, :3, :4], expected)

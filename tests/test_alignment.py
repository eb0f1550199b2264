"""Gene labels follow their experiments through xarray's selection and alignment.

Every test checks the (experiment, gene) pairs of the result against the table
and each experiment's data against the raw file, so a gene label that detaches
from its data fails.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr.gene_index import ExperimentIndex, GeneIndex, drop_gene_index, set_gene_index
from agea_xr.genes import reindex_experiments
from agea_xr.testing import synthetic_genes

from .conftest import N_SYNTHETIC

IDS, GENES = synthetic_genes(N_SYNTHETIC)
#: The truth: experiment id -> (gene symbol, position in the raw binary).
TRUTH = {int(i): (str(g), k) for k, (i, g) in enumerate(zip(IDS, GENES, strict=True))}


def decoded(raw: np.ndarray) -> np.ndarray:
    out = raw.astype(np.float32)
    out[raw == -1] = np.nan
    return out


@pytest.fixture(scope="module")
def ds(synthetic_dir) -> xr.Dataset:
    return agea_xr.open_dataset(synthetic_dir)


def pairs(obj) -> list[tuple[int, str]]:
    return list(zip(obj.experiment.values.tolist(), obj.gene.values.tolist(), strict=True))


def expected_pairs(ids) -> list[tuple[int, str]]:
    return [(int(i), TRUTH[int(i)][0]) for i in ids]


def assert_follow(
    obj, raw: np.ndarray, missing: tuple[int, ...] = (), indexed: bool = True
) -> None:
    """Each experiment's gene and data are its own (NaN data for ``missing`` ids)."""
    if indexed:
        assert isinstance(obj.xindexes["gene"], GeneIndex)
        assert isinstance(obj.xindexes["experiment"], ExperimentIndex)
    values = obj["expression"].transpose("experiment", ...).values
    for k, (experiment, symbol) in enumerate(pairs(obj)):
        if experiment in missing:
            assert np.isnan(values[k]).all()
            continue
        gene, position = TRUTH[experiment]
        assert symbol == gene
        np.testing.assert_array_equal(values[k], decoded(raw[position]))


# --- selection ---------------------------------------------------------------------
def test_isel_reorders_genes_with_data(ds, synthetic_raw):
    out = ds.isel(experiment=[5, 0, 3])
    assert pairs(out) == expected_pairs(IDS[[5, 0, 3]])
    assert_follow(out, synthetic_raw)
    assert pairs(ds.isel(experiment=slice(2, 4))) == expected_pairs(IDS[2:4])
    one = ds.isel(experiment=1)  # a scalar drops the dimension and the index
    assert (int(one.experiment), one.gene.item()) == (int(IDS[1]), "Pdyn")
    assert "gene" not in one.xindexes


def test_sel_by_gene_keeps_the_dimension_and_reads_a_slice(ds, synthetic_raw):
    out = ds.sel(gene="Gene0002")
    assert pairs(out) == expected_pairs(IDS[2:4])
    assert_follow(out, synthetic_raw)
    index = ds.xindexes["gene"]
    assert index.sel({"gene": "Gene0002"}).dim_indexers == {"experiment": slice(2, 4)}
    assert index.sel({"gene": "Pdyn"}).dim_indexers == {"experiment": slice(1, 2)}
    both = ds.sel(gene=["Gene0005", "Pdyn"])
    assert pairs(both) == expected_pairs(IDS[[5, 6, 1]])
    assert_follow(both, synthetic_raw)


def test_sel_by_experiment_ids_reorders_genes(ds, synthetic_raw):
    out = ds.sel(experiment=IDS[::-1])
    assert pairs(out) == expected_pairs(IDS[::-1])
    assert_follow(out, synthetic_raw)


def test_sel_gene_then_experiment_is_chained(ds, synthetic_raw):
    one = ds.sel(gene="Pdyn").sel(experiment=int(IDS[1]))
    assert (int(one.experiment), one.gene.item()) == (int(IDS[1]), "Pdyn")
    np.testing.assert_array_equal(one.expression.values, decoded(synthetic_raw[1]))
    out = ds.sel(gene=["Gene0002", "Pdyn"]).sel(experiment=[int(IDS[3]), int(IDS[1])])
    assert pairs(out) == expected_pairs(IDS[[3, 1]])
    assert_follow(out, synthetic_raw)
    # method applies to the grid coordinates, never to ids or symbols
    near = ds.sel(gene="Pdyn", ap=-2.05e-3, method="nearest")
    assert pairs(near) == expected_pairs(IDS[[1]])
    # an experiment that is not of the gene is not in the gene's selection
    with pytest.raises(KeyError, match=rf"Experiment id\(s\) \[{IDS[2]}\] not in this dataset"):
        ds.sel(gene="Pdyn").sel(experiment=int(IDS[2]))


def test_sel_gene_and_experiment_in_one_call_raises(ds):
    # two indexes along one dimension: xarray refuses to combine their selections
    with pytest.raises(ValueError, match="more than one index over the following dimension"):
        ds.sel(gene="Pdyn", experiment=int(IDS[1]))


def test_assigning_a_derived_variable_keeps_working(ds, synthetic_raw):
    out = ds.copy()
    out["x"] = out.expression * 2
    assert pairs(out) == expected_pairs(IDS)
    assert pairs(out.x) == expected_pairs(IDS)
    np.testing.assert_array_equal(out.x.values[1], 2 * decoded(synthetic_raw[1]))
    assert_follow(out, synthetic_raw)
    # the derived variable of a reordered selection is matched by id, with its gene
    out["y"] = ds.expression.isel(experiment=[3, 1]) + 0
    np.testing.assert_array_equal(out.y.sel(gene="Pdyn").values[0], decoded(synthetic_raw[1]))
    assert np.isnan(out.y.isel(experiment=0).values).all()
    assigned = ds.assign(expression=ds.expression + 1)
    assert pairs(assigned) == expected_pairs(IDS)
    np.testing.assert_array_equal(
        assigned.sel(gene="Pdyn").expression.values[0], decoded(synthetic_raw[1]) + 1
    )
    bare = ds.drop_attrs()
    # xarray's drop_attrs rebuilds every index as a default one: the gene labels
    # stay with their experiments, unindexed, and set_gene_index indexes them again
    assert pairs(bare) == expected_pairs(IDS) and not bare.attrs
    assert_follow(bare, synthetic_raw, indexed=False)
    assert_follow(set_gene_index(bare), synthetic_raw)
    no_gene = ds.drop_vars("gene")
    assert "gene" not in no_gene.coords
    assert no_gene.experiment.values.tolist() == IDS.tolist()
    # the experiment index still knows each experiment's gene, through isel too
    kept = no_gene.isel(experiment=[5, 0])
    assert kept.xindexes["experiment"].genes.tolist() == GENES[[5, 0]].tolist()
    assert pairs(set_gene_index(kept.assign_coords(gene=("experiment", GENES[[5, 0]])))) == (
        expected_pairs(IDS[[5, 0]])
    )


def test_sel_errors(ds):
    with pytest.raises(KeyError, match="Gene 'Gene002' is not in this dataset. Closest matches"):
        ds.sel(gene="Gene002")
    with pytest.raises(KeyError, match=r"Experiment id\(s\) \[123\] not in this dataset"):
        ds.sel(experiment=123)
    with pytest.raises(ValueError, match="gene symbols have no order"):
        ds.sel(gene=slice("A", "B"))


def test_drop_sel_by_experiment_and_dropping_a_gene(ds, synthetic_raw):
    out = ds.drop_sel(experiment=[int(IDS[1]), int(IDS[4])])
    kept = [k for k in range(N_SYNTHETIC) if k not in (1, 4)]
    assert pairs(out) == expected_pairs(IDS[kept])
    assert_follow(out, synthetic_raw)
    # xarray's drop_sel takes dimension names only; the one-line way to drop a gene:
    with pytest.raises(ValueError, match="dimension 'gene' does not have coordinate labels"):
        ds.drop_sel(gene="Pdyn")
    no_pdyn = ds.sel(experiment=ds.gene != "Pdyn")
    assert pairs(no_pdyn) == expected_pairs(np.delete(IDS, 1))
    assert_follow(no_pdyn, synthetic_raw)


def test_sortby_gene_and_experiment(ds, synthetic_raw):
    by_gene = ds.sortby("gene")
    assert [g for _, g in pairs(by_gene)] == sorted(GENES.tolist())
    assert_follow(by_gene, synthetic_raw)
    by_id = ds.sortby("experiment", ascending=False)
    assert pairs(by_id) == expected_pairs(np.sort(IDS)[::-1])
    assert_follow(by_id, synthetic_raw)


def test_roll_and_rename(ds, synthetic_raw):
    rolled = ds.roll(experiment=3, roll_coords=True)
    assert pairs(rolled) == expected_pairs(np.roll(IDS, 3))
    assert_follow(rolled, synthetic_raw)
    renamed = ds.rename(gene="symbol")
    assert renamed.sel(symbol="Pdyn").experiment.values.tolist() == [int(IDS[1])]


# --- reindexing and alignment -------------------------------------------------------------
def test_reindex_with_plain_labels_refuses_instead_of_detaching(ds):
    # xarray cannot re-label a multi-coordinate index from plain labels: it raises,
    # where it used to reverse the data and keep the genes in place
    with pytest.raises(ValueError, match="conflicting indexes"):
        ds.reindex(experiment=IDS[::-1])
    assert pairs(ds.reindex(experiment=IDS)) == expected_pairs(IDS)  # no change is fine


def test_reindex_experiments_reverses_and_adds(ds, synthetic_raw):
    reverse = reindex_experiments(ds, IDS[::-1])
    assert pairs(reverse) == expected_pairs(IDS[::-1])
    assert_follow(reverse, synthetic_raw)
    new = 99999999
    out = reindex_experiments(ds, [int(IDS[1]), new, int(IDS[0])])
    assert out.experiment.values.tolist() == [int(IDS[1]), new, int(IDS[0])]
    assert out.gene.values[0] == "Pdyn" and out.gene.values[2] == GENES[0]
    assert out.gene.values[1] is np.nan or np.isnan(out.gene.values[1])  # not another's gene
    values = out.expression.values
    np.testing.assert_array_equal(values[0], decoded(synthetic_raw[1]))
    assert np.isnan(values[1]).all()
    np.testing.assert_array_equal(values[2], decoded(synthetic_raw[0]))
    assert out.sel(gene="Pdyn").experiment.values.tolist() == [int(IDS[1])]
    # objects with the added id (no gene known) still align with each other
    other = reindex_experiments(ds, [new, int(IDS[4])])
    joined = xr.align(out, other, join="outer")[1]
    assert joined.experiment.values.tolist() == sorted(
        [int(IDS[0]), int(IDS[1]), int(IDS[4]), new]
    )
    np.testing.assert_array_equal(
        joined.sel(experiment=int(IDS[4])).expression.values, decoded(synthetic_raw[4])
    )
    assert joined.sel(gene=GENES[4]).experiment.values.tolist() == [int(IDS[4])]


def test_reindex_like(ds, synthetic_raw):
    target = ds.isel(experiment=[7, 2, 0])
    out = ds.reindex_like(target)
    assert pairs(out) == expected_pairs(IDS[[7, 2, 0]])
    assert_follow(out, synthetic_raw)


@pytest.mark.parametrize(
    ("join", "expected"),
    [
        ("inner", [3]),
        ("outer", sorted([1, 3, 5])),
        ("left", [1, 3]),
        ("right", [3, 5]),
    ],
)
def test_align_joins(ds, synthetic_raw, join, expected):
    a = ds.isel(experiment=[1, 3])
    b = ds.isel(experiment=[3, 5])
    out_a, out_b = xr.align(a, b, join=join)
    ids = IDS[expected]
    if join == "outer":
        ids = np.sort(IDS[[1, 3, 5]])
    for out, source in ((out_a, a), (out_b, b)):
        assert pairs(out) == expected_pairs(ids)
        assert_follow(
            out,
            synthetic_raw,
            missing=tuple(set(ids.tolist()) - set(source.experiment.values.tolist())),
        )


def test_align_exact(ds, synthetic_raw):
    a = ds.isel(experiment=[1, 3])
    out_a, out_b = xr.align(a, ds.isel(experiment=[1, 3]), join="exact")
    assert pairs(out_a) == pairs(out_b) == expected_pairs(IDS[[1, 3]])
    with pytest.raises(ValueError, match="join='exact'"):
        xr.align(a, ds.isel(experiment=[3, 1]), join="exact")


def test_merge_two_gene_selections(ds, synthetic_raw):
    merged = xr.merge(
        [ds.sel(gene=["Pdyn"]), ds.sel(gene=["Gene0002"])], join="outer", compat="no_conflicts"
    )
    ids = np.sort(IDS[[1, 2, 3]])
    assert pairs(merged) == expected_pairs(ids)
    assert_follow(merged, synthetic_raw)
    assert merged.sel(gene="Gene0002").experiment.values.tolist() == sorted(IDS[2:4].tolist())


def test_arithmetic_aligns_genes_with_data(ds, synthetic_raw):
    part = ds.expression.isel(experiment=[3, 1])
    diff = ds.expression - part  # inner join by id: all of ``part``, in its order
    assert pairs(diff) == expected_pairs(IDS[[3, 1]])
    assert np.nanmax(np.abs(diff.values)) == 0


def test_aligning_with_an_object_without_genes_keeps_the_pairs(ds, synthetic_raw):
    # the gene coordinate of only one object: its gene labels must stay with its ids
    bare = ds.expression.drop_vars("gene")
    part = ds.expression.isel(experiment=[3, 1])
    for out in (*xr.align(bare, part), *xr.align(part, bare), bare + part * 0, part * 0 + bare):
        assert pairs(out) == expected_pairs(IDS[[3, 1]])
        assert out.xindexes["experiment"].genes.tolist() == GENES[[3, 1]].tolist()
        assert_follow(out.to_dataset(name="expression"), synthetic_raw)


def test_dropping_the_gene_coordinate_the_safe_way_is_loud_or_right(ds, synthetic_raw):
    # drop_gene_index first: the object is then indexed by id only (a plain index), so
    # xarray aligns it with a gene-labelled object in the same order, and refuses a
    # different order instead of moving one side's data under the other's labels
    bare = drop_gene_index(ds.expression).drop_vars("gene")
    assert type(bare.xindexes["experiment"]).__name__ == "PandasIndex"
    same = ds.expression * 0 + bare
    assert pairs(same) == expected_pairs(IDS)
    assert_follow(same.to_dataset(name="expression"), synthetic_raw)
    reordered = ds.expression.sortby("gene", ascending=False)
    for left, right in ((reordered, bare), (bare, reordered)):
        with pytest.raises(ValueError, match="conflicting indexes"):
            xr.align(left, right)


@pytest.mark.xfail(
    strict=True,
    reason="xarray keeps an index found in one object only (here the gene index) while "
    "it reorders that object along the same dimension (pydata/xarray#10714): the gene "
    "labels stay in the old order. Documented in docs/selecting.md; drop the gene "
    "coordinate with drop_gene_index first. Passes (and must be un-marked) once xarray "
    "raises or reindexes.",
)
def test_gene_coordinate_dropped_with_drop_vars_then_reordered_alignment(ds, synthetic_raw):
    bare = ds.expression.drop_vars("gene")  # keeps the experiment index
    reordered = ds.expression.sortby("gene", ascending=False)
    try:
        out = xr.align(reordered, bare)[0]
    except ValueError:
        return  # loud is right too
    assert pairs(out) == expected_pairs(out.experiment.values)


def test_concat(ds, synthetic_raw):
    out = xr.concat(
        [ds.sel(gene=["Gene0002"]), ds.sel(gene=["Pdyn"])],
        dim="experiment",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="outer",
    )
    assert pairs(out) == expected_pairs(IDS[[2, 3, 1]])
    assert_follow(out, synthetic_raw)
    assert out.sel(gene="Pdyn").experiment.values.tolist() == [int(IDS[1])]


def test_aligning_disagreeing_gene_labels_raises(ds):
    a = ds.isel(experiment=[1, 3])
    relabelled = drop_gene_index(ds.isel(experiment=[3, 5]))
    relabelled = set_gene_index(relabelled.assign_coords(gene=("experiment", ["Wrong", "X"])))
    with pytest.raises(ValueError, match=rf"{IDS[3]}: 'Gene0002' vs 'Wrong'"):
        xr.align(a, relabelled, join="outer")


def test_objects_indexed_by_experiment_only_align_when_equal(ds):
    weights = xr.DataArray(np.arange(N_SYNTHETIC), coords={"experiment": IDS}, dims="experiment")
    assert pairs(ds.expression * weights) == expected_pairs(IDS)
    # different ids: xarray cannot align a plain index with the gene index; it raises
    with pytest.raises(ValueError, match="conflicting indexes"):
        ds.expression * weights.isel(experiment=[3, 1])
    # giving the other object the gene labels makes it align
    labelled = weights.assign_coords(gene=("experiment", ds.gene.values))
    labelled = set_gene_index(labelled).isel(experiment=[3, 1])
    product = ds.expression * labelled
    assert pairs(product) == expected_pairs(IDS[[3, 1]])


# --- plumbing ------------------------------------------------------------------------------
def test_index_pickles_and_copies(ds):
    index = ds.xindexes["gene"]
    again = pickle.loads(pickle.dumps(index))
    assert again.equals(index)
    assert pairs(pickle.loads(pickle.dumps(ds.isel(experiment=[4, 2])))) == expected_pairs(
        IDS[[4, 2]]
    )
    deep = ds.copy(deep=True)
    assert deep.xindexes["gene"].equals(index)
    with pytest.raises(ValueError, match="read-only"):
        index.genes[0] = "X"


def test_set_gene_index_needs_both_coordinates():
    da = xr.DataArray(np.zeros(2), dims="experiment", coords={"experiment": [1, 2]})
    with pytest.raises(ValueError, match="needs the 1-D coordinates 'experiment' and 'gene'"):
        set_gene_index(da)
    with pytest.raises(ValueError, match="set_gene_index"):
        da.assign_coords(gene=("experiment", ["A", "B"])).drop_indexes("experiment").set_xindex(
            "gene", GeneIndex
        )

"""gene_finder against a numpy reference; validation of its numeric arguments."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from agea_xr.analysis import EFFECT_COLUMNS, gene_finder
from agea_xr.regions import region_mask

from .reference import finder_reference, sample_values


def test_gene_finder_matches_numpy(ds5, values):
    ds = ds5
    table = gene_finder(ds, "CA1", "HPF")
    target = region_mask(ds, "CA1").values.reshape(-1)
    contrast = region_mask(ds, "HPF").values.reshape(-1) & ~target
    expected = finder_reference(values, target, contrast)
    by_experiment = table.set_index("experiment").loc[ds["experiment"].values]
    np.testing.assert_allclose(
        by_experiment[["mean_target", "mean_contrast", "fold_change", "effect_size"]].to_numpy(),
        expected,
        rtol=1e-6,
    )
    counts = np.isfinite(values[:, target]).sum(1)
    np.testing.assert_array_equal(by_experiment["n_target"].to_numpy(), counts)
    assert (table["effect_size"].diff().dropna() <= 0).all()
    assert table["rank"].tolist() == list(range(1, 13))
    assert list(by_experiment["gene"]) == list(ds["gene"].values)
    assert table.attrs["contrast_voxels"] == contrast.sum()


def test_gene_finder_default_contrast_and_per_gene(ds, values, label):
    table = gene_finder(ds, ["CA1", "CA3"], per_gene=True, sort_by="fold_change")
    target = region_mask(ds, ["CA1", "CA3"]).values.reshape(-1)
    contrast = (label.reshape(-1) != 0) & ~target
    row = table.set_index("gene").loc["Gene0002"]
    assert row["n_experiments"] == 2 and set(row["experiments"]) == set(
        ds["experiment"].values[2:4]
    )
    pooled_t = values[2:4][:, target]
    pooled_c = values[2:4][:, contrast]
    assert row["mean_target"] == pytest.approx(np.nanmean(pooled_t), rel=1e-12)
    assert row["mean_contrast"] == pytest.approx(np.nanmean(pooled_c), rel=1e-12)
    assert row["n_contrast"] == np.isfinite(pooled_c).sum()
    assert (table["fold_change"].diff().dropna() <= 0).all()
    assert table.attrs["contrast"] == "rest of the brain"


def test_gene_finder_on_the_real_sample(sample):
    ds = sample
    table = gene_finder(ds, "CP")
    assert table["gene"].tolist() == ["Pdyn", "Nrp1"]
    assert table.loc[0, "fold_change"] > 2 and table.loc[0, "effect_size"] > 1
    # every value against plain numpy on the real files
    values = sample_values()
    target = region_mask(ds, "CP").values.reshape(-1)
    contrast = (ds["label"].values.reshape(-1) != 0) & ~target
    expected = finder_reference(values, target, contrast)
    got = table.set_index("experiment").loc[ds["experiment"].values]
    np.testing.assert_allclose(
        got[["mean_target", "mean_contrast", "fold_change", "effect_size"]].to_numpy(),
        expected,
        rtol=1e-9,
    )
    np.testing.assert_array_equal(got["n_target"], np.isfinite(values[:, target]).sum(1))
    np.testing.assert_array_equal(got["n_contrast"], np.isfinite(values[:, contrast]).sum(1))
    assert table.attrs["target_voxels"] == target.sum()
    assert table.attrs["contrast_voxels"] == contrast.sum()


def test_fold_change_is_nan_without_a_positive_contrast_mean(ds, values):
    """A zero contrast mean gave inf (ranked first); a negative one a meaningless ratio."""
    target = region_mask(ds, "CA1").values
    contrast = region_mask(ds, "HPF").values & ~target
    # experiment 4: every contrast voxel measures 0
    zero = xr.zeros_like(ds["expression"]).where(
        (ds["experiment"] == ds["experiment"][4]) & xr.DataArray(contrast, dims=("ml", "dv", "ap"))
    )
    zeroed = ds.assign(expression=zero.fillna(ds["expression"]))
    table = gene_finder(zeroed, "CA1", "HPF", sort_by="fold_change")
    row = table.set_index("experiment").loc[ds["experiment"].values[4]]
    assert row["mean_contrast"] == 0.0 and row["mean_target"] > 0
    assert np.isnan(row["fold_change"])
    assert np.isfinite(row["effect_size"])
    assert np.isfinite(table["fold_change"]).sum() == 11
    assert table["experiment"].iloc[-1] == ds["experiment"].values[4]  # NaN ranks last
    assert (table["fold_change"].iloc[:-1].diff().dropna() <= 0).all()
    # negative means (as in the processed variant): NaN where the contrast mean is <= 0
    shift = float(gene_finder(ds, "CA1", "HPF")["mean_contrast"].median())
    shifted = ds.assign(expression=ds["expression"] - shift)  # half the means below 0
    table = gene_finder(shifted, "CA1", "HPF", sort_by="fold_change")
    negative = table["mean_contrast"] <= 0
    assert negative.any() and (~negative).any()
    assert table.loc[negative, "fold_change"].isna().all()
    assert table.loc[~negative, "fold_change"].notna().all()
    np.testing.assert_allclose(
        table.loc[~negative, "fold_change"],
        table.loc[~negative, "mean_target"] / table.loc[~negative, "mean_contrast"],
        rtol=1e-12,
    )
    assert table["fold_change"].iloc[: (~negative).sum()].notna().all()  # NaN last


def test_gene_finder_errors(ds):
    with pytest.raises(KeyError, match="Unknown brain region acronym 'CA11'"):
        gene_finder(ds, "CA11")
    with pytest.raises(ValueError, match="The contrast.*has no voxel"):
        gene_finder(ds, "HPF", "CA1")
    with pytest.raises(ValueError, match="Unknown sort_by column 'effect'"):
        gene_finder(ds, "CA1", sort_by="effect")
    with pytest.raises(ValueError, match="boolean volume of shape"):
        gene_finder(ds, np.ones(5, bool))


# --- issue 10, cases 7 and 17: counts are counts --------------------------------------
def test_top_keeps_the_first_rows(ds):
    table = gene_finder(ds, "CA1", "HPF")
    pd_top = gene_finder(ds, "CA1", "HPF", top=3)
    assert pd_top["experiment"].tolist() == table["experiment"].tolist()[:3]
    assert gene_finder(ds, "CA1", "HPF", top=0).empty
    assert gene_finder(ds, "CA1", "HPF", top=5.0)["rank"].tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("keyword", "value", "error", "message"),
    [
        ("top", -1, ValueError, "top must be at least 0, got -1"),
        ("top", 2.5, ValueError, "top must be a whole number, got 2.5: pass an integer"),
        ("top", "many", TypeError, "top must be an integer, got 'many'"),
        ("min_voxels", -3, ValueError, "min_voxels must be at least 0, got -3"),
        ("min_voxels", 1.5, ValueError, "min_voxels must be a whole number, got 1.5"),
        ("min_voxels", True, TypeError, "min_voxels must be an integer, got the boolean"),
    ],
)
def test_bad_counts_are_refused(ds, keyword, value, error, message):
    with pytest.raises(error, match=message):
        gene_finder(ds, "CA1", **{keyword: value})


def test_empty_experiment_selection_gives_an_empty_table(ds):
    table = gene_finder(ds.isel(experiment=[]), "CA1", "HPF")
    assert table.empty
    expected = ["rank", "gene", "experiment", *sorted(EFFECT_COLUMNS), "n_target", "n_contrast"]
    assert sorted(table.columns) == sorted(expected)
    per_gene = gene_finder(ds.isel(experiment=[]), "CA1", per_gene=True)
    assert per_gene.empty and "n_experiments" in per_gene.columns

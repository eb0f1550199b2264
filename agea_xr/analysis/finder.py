"""The gene finder: experiments (or genes) ranked by their enrichment in a target region."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import kernels
from .._choices import check_choice, check_count, check_integer, check_random_state
from ..layout import EXPERIMENT
from ..regions import check_mapping
from ._chunks import expression_matrix, group_sums, one_blas_thread, segment_sums
from ._masks import describe, selection_mask
from .items import on_items
from .nulls import decompose
from .stats import null_pass, q_values, spatial_p

__all__ = ["EFFECT_COLUMNS", "gene_finder"]

#: Columns :func:`gene_finder` can rank by.
EFFECT_COLUMNS = ("effect_size", "fold_change", "mean_target", "mean_contrast")


def _effects(count_t, sum_t, sq_t, count_c, sum_c, sq_c, min_voxels: int) -> dict[str, Any]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t = np.where(count_t > 0, sum_t / count_t, np.nan)
        mean_c = np.where(count_c > 0, sum_c / count_c, np.nan)
        ss_t = np.maximum(sq_t - sum_t * mean_t, 0.0)
        ss_c = np.maximum(sq_c - sum_c * mean_c, 0.0)
        pooled = np.sqrt((ss_t + ss_c) / (count_t + count_c - 2))
        enough = (count_t >= min_voxels) & (count_c >= min_voxels)
        effect = np.where(enough & (pooled > 0), (mean_t - mean_c) / pooled, np.nan)
        # a ratio means something only against a positive contrast: NaN for a zero
        # contrast mean (inf otherwise, ranked first) or a negative one (processed data)
        fold = np.where(enough & (mean_c > 0), mean_t / mean_c, np.nan)
    return {
        "mean_target": mean_t,
        "mean_contrast": mean_c,
        "fold_change": fold,
        "effect_size": effect,
        "n_target": count_t.astype(np.int64),
        "n_contrast": count_c.astype(np.int64),
    }


@on_items("table", per_gene="pools the experiments of each gene into one row: genes only.")
def gene_finder(
    ds: xr.Dataset,
    target: str | int | Iterable[str | int] | xr.DataArray | np.ndarray,
    contrast: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
    *,
    mapping: str = "Allen",
    hemisphere: str | None = None,
    per_gene: bool = False,
    min_voxels: int = 3,
    sort_by: str = "effect_size",
    top: int | None = None,
    n_null: int | None = None,
    random_state: int | np.random.Generator | None = None,
    variable: str | None = None,
) -> pd.DataFrame:
    """Rank experiments (or genes, cell types, lipids) by their enrichment in a target region.

    After Ng et al. (2009)'s AGEA gene finder. For every experiment, over its
    measured voxels only: mean expression in the target and in the contrast
    region, their ratio (``fold_change = mean_target / mean_contrast``, NaN
    when ``mean_contrast <= 0``), and a standardised effect size, Cohen's d
    with the pooled standard deviation::

        d = (mean_target - mean_contrast) / s_pooled
        s_pooled² = (SS_target + SS_contrast) / (n_target + n_contrast - 2)

    where SS is the sum of squared deviations from the region's mean and n its
    number of measured voxels. ``d`` is in units of the voxel-to-voxel spread,
    so it does not favour genes that are merely bright. One pass over the data.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset with ``expression`` and ``label``, or a cell-type or lipid
        dataset (:func:`agea_xr.open_cell_types`, :func:`agea_xr.open_lipids`):
        its items are then ranked.
    target : str, int, list of them, or boolean volume
        Acronyms or Allen ids (descendants included, see
        :func:`agea_xr.regions.region_mask`), or a boolean ``(ml, dv, ap)`` mask.
    contrast : same as target, optional
        Default: the rest of the brain (labelled voxels outside the target).
        Target voxels are always removed from the contrast (``target="CA1",
        contrast="HPF"`` compares CA1 with the rest of the hippocampal formation).
    mapping : str, default "Allen"
        Mapping used to find the regions' voxels.
    hemisphere : {None, "left", "right"}, default None
        Restrict target and contrast to one hemisphere.
    per_gene : bool, default False
        Pool each gene's experiments (their measured voxels together): one row
        per gene, with ``n_experiments`` and ``experiments`` (the ids). Genes only.
    min_voxels : int, default 3
        Rows with fewer measured voxels in the target or the contrast get NaN
        ``fold_change`` and ``effect_size`` and rank last.

        ``fold_change`` is also NaN where ``mean_contrast <= 0``: a ratio to a
        zero mean would be infinite (and rank first), and to a negative one (the
        processed variant has negative values) meaningless. Rank processed data
        by ``effect_size``.
    sort_by : {"effect_size", "fold_change", "mean_target", "mean_contrast"}
        Column to rank by, highest first (NaN last).
    top : int, optional
        Keep the first ``top`` rows (a count: 0 or more).
    n_null : int, optional
        Add ``p_spatial`` and ``q`` columns: the two-sided p of the effect against
        ``n_null`` spatial nulls of the target, and its Benjamini-Hochberg q over
        all rows (before ``top``). ``d`` is a monotonic function of the
        point-biserial correlation between the row's map and the target's
        indicator over target and contrast, which is tested against surrogates
        of the indicator with its spatial autocorrelation (Moran spectral
        randomisation, :func:`agea_xr.compare_maps`): "is the row's map more
        enriched in the target than in random smooth regions like it?". NaN where
        ``effect_size`` is NaN. Same pass over the data.
    random_state : int or numpy.random.Generator, optional
        Seed of the nulls.
    variable : str, optional
        Analyse another ``(item, ml, dv, ap)`` variable than ``expression``: the
        ``density`` of :func:`agea_xr.open_cell_types`, the ``intensity`` of
        :func:`agea_xr.open_lipids` (the default for a dataset without
        ``expression``: its one such variable).

    Returns
    -------
    pandas.DataFrame
        Columns ``rank``, ``gene``, ``experiment`` (or ``n_experiments`` and
        ``experiments`` with ``per_gene``), ``mean_target``, ``mean_contrast``,
        ``fold_change``, ``effect_size``, ``n_target``, ``n_contrast`` (measured
        voxels), and ``p_spatial``, ``q`` with ``n_null``. ``attrs`` records
        target, contrast and voxel counts. With no
        experiment selected, the table has these columns and no row. On items:
        ``rank``, the item (``cell_type``, ``lipid``) instead of ``gene`` and
        ``experiment``, the same statistics, then the items' coordinates
        (``class``, ``color``, ``reliability``, ...); ``attrs`` add ``variable``.

    Raises
    ------
    ValueError
        If the target or contrast has no voxel, for an unknown ``sort_by`` or
        hemisphere, a negative or fractional ``top`` or ``min_voxels``, or
        ``per_gene`` on items.
    TypeError
        If ``top`` or ``min_voxels`` is not a number.
    KeyError
        For an unknown region acronym.

    Examples
    --------
    >>> import agea_xr
    >>> table = gene_finder(agea_xr.open_sample(), "STR")
    >>> table[["rank", "gene"]].values.tolist()   # Pdyn is a striatal marker
    [[1, 'Pdyn'], [2, 'Nrp1']]
    """
    import dask

    check_choice(sort_by, EFFECT_COLUMNS, "sort_by column")
    min_voxels = check_count(min_voxels, "min_voxels")
    if top is not None:
        top = check_count(top, "top")
    mapping = check_mapping(mapping)
    target_mask = selection_mask(ds, target, mapping, hemisphere, "target")
    contrast_mask = selection_mask(ds, contrast, mapping, hemisphere, "contrast")
    contrast_mask = contrast_mask & ~target_mask
    for name, m, spec in (("target", target_mask, target), ("contrast", contrast_mask, contrast)):
        if not m.any():
            raise ValueError(
                f"The {name} ({describe(spec) if spec is not None else 'rest of the brain'}) "
                f"has no voxel in this dataset (hemisphere={hemisphere!r}, target voxels are "
                "removed from the contrast): choose other regions."
            )
    codes = np.full(target_mask.shape, -1, dtype=np.int64)
    codes[contrast_mask] = 1
    codes[target_mask] = 0
    perm, bounds = kernels.segments(codes, 2)
    matrix = expression_matrix(ds)
    nulls = None
    if n_null is not None:
        n_null = check_integer(n_null, "n_null", minimum=1)
        check_random_state(random_state)
        used = target_mask | contrast_mask
        nulls = decompose(target_mask[used].astype(np.float64), used)
    with one_blas_thread():
        sums, null_stats = dask.compute(
            segment_sums(matrix, perm, bounds), None if nulls is None else null_pass(matrix, nulls)
        )
    genes = np.asarray(ds["gene"].values, dtype=object)
    experiments = np.asarray(ds[EXPERIMENT].values)
    if per_gene:
        gene_codes, names = pd.factorize(pd.Series(genes, dtype=object), sort=False)
        sums = group_sums(sums, gene_codes, len(names))
        ids = pd.Series(experiments).groupby(gene_codes).agg(tuple)
        head = {
            "gene": np.asarray(names, dtype=object),
            "n_experiments": np.bincount(gene_codes, minlength=len(names)),
            "experiments": ids.to_numpy(),
        }
    else:
        gene_codes, names = None, ()
        head = {"gene": genes, EXPERIMENT: experiments}
    columns = _effects(
        sums[:, 0, 0],
        sums[:, 1, 0],
        sums[:, 2, 0],
        sums[:, 0, 1],
        sums[:, 1, 1],
        sums[:, 2, 1],
        min_voxels,
    )
    if nulls is not None:
        _, p = spatial_p(null_stats, nulls, n_null, random_state, gene_codes, len(names))
        columns["p_spatial"] = np.where(np.isnan(columns["effect_size"]), np.nan, p)
        columns["q"] = q_values(columns["p_spatial"])
    table = pd.DataFrame({**head, **columns})
    table = table.sort_values(sort_by, ascending=False, na_position="last", kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table = table.reset_index(drop=True)
    if top is not None:
        table = table.head(top)
    table.attrs = {
        "target": describe(target),
        "contrast": describe(contrast) if contrast is not None else "rest of the brain",
        "mapping": mapping,
        "hemisphere": hemisphere or "both",
        "target_voxels": int(target_mask.sum()),
        "contrast_voxels": int(contrast_mask.sum()),
    }
    return table

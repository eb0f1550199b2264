"""Spatial statistics: similar_genes with 1,000 spatial nulls against all experiments.

Compared with the numpy full pass (one float32 mean over all experiments from a
memmap) and with the same similar_genes without nulls, measured in the same run;
then again on a 2-worker ``dask.distributed`` LocalCluster (processes, one thread
each; the threaded run timed in turn in the same process; peak memory of this
process only). The nulls are one pass: two matrix
products per chunk of experiments against the query's 129 spectral parts.
"""

from __future__ import annotations

from agea_xr import open_dataset
from agea_xr.analysis import compare_maps, similar_genes
from benchmarks.common import Case, cluster_case, full_pass_mean, memmap

FULL_PASS = "numpy full pass (stats baseline)"
PLAIN = "similar_genes(one map vs all), no nulls"
NULLS = "similar_genes(one map vs all, n_null=1000)"


def _query(ds):
    return int(ds["experiment"].values[0])


def _plain(ds):
    return similar_genes(ds, _query(ds))


def _nulls(ds):
    return similar_genes(ds, _query(ds), n_null=1000, random_state=0)


def _pair_setup(folder):
    ds = open_dataset(folder)
    e = ds["experiment"].values
    return ds.expression.sel(experiment=e[0]).load(), ds.expression.sel(experiment=e[1]).load()


def _compare(pair):
    return compare_maps(*pair, n_null=1000, random_state=0)


CASES = [
    Case(FULL_PASS, run=full_pass_mean, setup=memmap, repeat=3),
    Case(PLAIN, run=_plain, setup=open_dataset, baseline=FULL_PASS, repeat=3),
    Case(NULLS, run=_nulls, setup=open_dataset, baseline=FULL_PASS, repeat=3),
    cluster_case("similar_genes(n_null=1000)", _nulls, NULLS, 3),
    Case(
        "compare_maps(two experiments, n_null=1000)",
        run=_compare,
        setup=_pair_setup,
        repeat=3,
        note="the basis of the brain mask is cached after the warm-up",
    ),
]

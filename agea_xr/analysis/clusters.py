"""Expression clusters: voxels grouped by their profiles across experiments (AGEA's Clusters).

Ng et al. (2009, Nat Neurosci 12:356) parcellated the brain by correlation-based
hierarchical clustering of the voxels' expression profiles. Exact hierarchical
clustering of ~60,000 voxels needs their full distance matrix (tens of GB), so
this is done in two stages after a dask PCA:

1. every experiment is standardised over the selected voxels (so bright genes do
   not dominate; missing voxels get the experiment's mean, 0 after
   standardising), every voxel's profile is centred and scaled to unit norm (dot
   products are then Pearson correlations across experiments);
2. a randomised truncated SVD of that (voxel, experiment) matrix
   (:func:`dask.array.linalg.svd_compressed`, Halko et al. 2011) runs over the
   chunks of experiments in a few passes, in bounded memory, on any dask
   scheduler; the voxels' scores on the components approximate their profiles;
3. k-means (scikit-learn) groups the scores into a few hundred micro-clusters,
   and agglomerative clustering (scikit-learn; Ward by default, or average or
   complete linkage on the cosine distance, i.e. 1 - correlation) builds the
   tree over them, optionally merging spatially adjacent micro-clusters only.

The tree is kept: cut at any number of clusters (``n_clusters`` as a list
gives several levels at once) and returned whole as a linkage matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._choices import check_choice, check_integer, check_random_state
from ..layout import EXPERIMENT, GRID_DIMS
from ..regions import check_mapping, label_of, region_ids
from ._chunks import cluster_client, experiment_pass, expression_matrix, one_blas_thread
from ._masks import describe, selection_mask
from .items import on_items

__all__ = ["CLUSTER_METHODS", "agreement", "clusters"]

#: Linkages of :func:`clusters`' tree.
CLUSTER_METHODS = ("ward", "average", "complete")


def _standardised(block, table, voxels):
    """One chunk's experiments over the selected voxels, z-scored, missing = 0 (float32)."""
    block = np.asarray(block)[:, voxels]
    x = table[block] if table is not None else block.astype(np.float32)
    ok = ~np.isnan(x)
    n = ok.sum(axis=1, keepdims=True)
    x0 = np.where(ok, x, 0.0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = x0.sum(axis=1, keepdims=True) / n
        dev = np.where(ok, x0 - mean, 0.0)
        std = np.sqrt((dev * dev).sum(axis=1, keepdims=True) / n)
        z = np.where((n >= 2) & (std > 0), dev / std, 0.0)
    return z.astype(np.float32)


def _z_sums(block, table, voxels):
    """Sums over a chunk's experiments of the z-scores and their squares, ``(2, voxels)``."""
    z = _standardised(block, table, voxels)
    return np.stack([z.sum(axis=0, dtype=np.float64), (z * z).sum(axis=0, dtype=np.float64)])


def _scaled(block, table, voxels, mean, norm):
    """A chunk's rows of the centred, unit-norm voxel profiles (float64)."""
    return (_standardised(block, table, voxels) - mean) / norm


def _profiles(ds: xr.Dataset, voxels: np.ndarray):
    """Lazy ``(experiment, voxel)`` float64 matrix of unit-norm, centred voxel profiles.

    Two passes of :func:`agea_xr.analysis._chunks.experiment_pass` (the voxel
    indices, means and norms are one graph key each, not copied into every task).
    """
    matrix = expression_matrix(ds)
    with one_blas_thread():
        total, squares = experiment_pass(
            matrix, _z_sums, (2, voxels.size), voxels, add=True
        ).compute()
    mean = total / matrix.n_experiments
    norm = np.sqrt(np.maximum(squares - total * mean, 0.0))
    norm = np.where(norm > 0, norm, 1.0)
    return experiment_pass(matrix, _scaled, (voxels.size,), voxels, mean, norm)


def _adjacency(voxels: np.ndarray, micro: np.ndarray, shape: tuple[int, ...], n: int):
    """Sparse (micro, micro) graph: 1 where two micro-clusters hold face-adjacent voxels."""
    import scipy.sparse

    code = np.full(int(np.prod(shape)), -1, dtype=np.int64)
    code[voxels] = micro
    grid = code.reshape(shape)
    rows, cols = [], []
    for axis in range(3):
        a = np.moveaxis(grid, axis, 0)
        lo, hi = a[:-1].reshape(-1), a[1:].reshape(-1)
        keep = (lo >= 0) & (hi >= 0) & (lo != hi)
        rows += [lo[keep], hi[keep]]
        cols += [hi[keep], lo[keep]]
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = scipy.sparse.coo_matrix((np.ones(r.size), (r, c)), shape=(n, n)).tocsr()
    graph.data[:] = 1.0
    return graph


def _tree(centroids: np.ndarray, method: str, connectivity) -> np.ndarray:
    """The merges over the micro-clusters as a scipy linkage matrix ``(n - 1, 4)``."""
    from sklearn.cluster import AgglomerativeClustering

    n = centroids.shape[0]
    if n < 2:
        return np.zeros((0, 4))
    model = AgglomerativeClustering(
        n_clusters=None,
        distance_threshold=0.0,
        compute_full_tree=True,
        linkage=method,
        metric="euclidean" if method == "ward" else "precomputed",
        connectivity=connectivity,
    )
    data = centroids
    if method != "ward":
        # 1 - correlation; a flat profile (zero vector) is at distance 1 from all
        norm = np.linalg.norm(centroids, axis=1, keepdims=True)
        unit = np.divide(centroids, norm, out=np.zeros_like(centroids), where=norm > 0)
        data = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
        np.fill_diagonal(data, 0.0)
    with warnings.catch_warnings():
        # a mask in several pieces: sklearn links the pieces at the top of the tree
        warnings.filterwarnings("ignore", message=".*connected components.*")
        model.fit(data)
    children = model.children_.astype(np.int64)
    sizes = np.ones(2 * n - 1, dtype=np.int64)
    for i, (a, b) in enumerate(children):
        sizes[n + i] = sizes[a] + sizes[b]
    return np.column_stack([children, model.distances_, sizes[n:]]).astype(np.float64)


def _cut(linkage: np.ndarray, n_leaves: int, k: int) -> np.ndarray:
    """Cluster of every leaf when ``k`` clusters remain (merges replayed in order)."""
    parent = np.arange(2 * n_leaves - 1)
    for i in range(n_leaves - k):
        a, b = int(linkage[i, 0]), int(linkage[i, 1])
        parent[a] = parent[b] = n_leaves + i
    root = parent.copy()
    for node in range(2 * n_leaves - 2, -1, -1):  # parents come after children
        root[node] = root[parent[node]] if parent[node] != node else node
    return root[:n_leaves]


def _numbered(groups: np.ndarray) -> np.ndarray:
    """Labels 1..k in the order of first appearance (voxels in C order)."""
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse] + 1


@on_items(
    "volume",
    genes="selects the experiments of genes: genes only.",
)
def clusters(
    ds: xr.Dataset,
    n_clusters: int | Sequence[int] = 20,
    genes: str | Iterable[str] | None = None,
    mask: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
    *,
    method: str = "ward",
    mapping: str = "Allen",
    hemisphere: str | None = None,
    connectivity: bool = False,
    n_components: int = 30,
    n_microclusters: int | None = None,
    random_state: int | None = None,
    variable: str | None = None,
) -> xr.DataArray:
    """Voxels grouped by the similarity of their expression profiles: an expression parcellation.

    AGEA's "Clusters" (Ng et al. 2009): correlation-based hierarchical
    clustering of the voxels' profiles across experiments, run as PCA (a
    randomised SVD on dask), k-means micro-clusters, then a hierarchical tree
    over them (see :mod:`agea_xr.analysis.clusters` for the steps).

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset (``label`` needed for region masks and the default mask),
        or a cell-type or lipid dataset (:func:`agea_xr.open_cell_types`,
        :func:`agea_xr.open_lipids`): voxels are then grouped by their profiles
        across its items.
    n_clusters : int or sequence of int, default 20
        Clusters to cut the tree into; a sequence keeps several levels (one tree).
    genes : str or iterable of str, optional
        Use only these genes' experiments. Default: all experiments. Genes only
        (on items, select them first: ``ct.sel(cell_type=[...])``).
    mask : str, int, list of them, or boolean volume, optional
        The voxels clustered: region acronyms or ids, or a boolean ``(ml, dv,
        ap)`` volume. Default: every labelled (non-void) voxel.
    method : {"ward", "average", "complete"}, default "ward"
        Linkage of the tree: Ward on the (unit-norm) profile scores, or average /
        complete linkage on the cosine distance (1 - correlation).
    mapping : str, default "Allen"
        Mapping used to find the mask's regions.
    hemisphere : {None, "left", "right"}, default None
        Restrict the mask to one hemisphere.
    connectivity : bool, default False
        Merge only micro-clusters that touch (face-adjacent voxels): clusters
        then follow the anatomy's contiguity.
    n_components : int, default 30
        Components of the PCA (at most the number of experiments).
    n_microclusters : int, optional
        Leaves of the tree (k-means clusters), at least the largest ``n_clusters``;
        all voxels when fewer. Default: twice the largest ``n_clusters``, at least
        200.
    random_state : int, optional
        Seeds the SVD and k-means: a fixed value gives the same labels on any
        scheduler (threaded or ``dask.distributed``).
    variable : str, optional
        Analyse another ``(item, ml, dv, ap)`` variable than ``expression``: the
        ``density`` of :func:`agea_xr.open_cell_types`, the ``intensity`` of
        :func:`agea_xr.open_lipids` (the default for a dataset without
        ``expression``: its one such variable).

    Returns
    -------
    xarray.DataArray
        int32 ``cluster``, dims ``(ml, dv, ap)``, or ``(n_clusters, ml, dv, ap)``
        for a sequence; 1..k inside the mask (numbered by the first voxel in
        (ml, dv, ap) order), 0 outside. Coordinates: the grid, ``label`` when
        ``ds`` has one, ``n_clusters``. ``attrs``: ``method``, ``mask``,
        ``n_experiments``, ``n_components``, ``explained_variance_ratio`` (of the
        components kept, over the profiles' total), ``linkage`` (the tree over
        the micro-clusters flattened from scipy's ``(n - 1, 4)`` linkage format:
        ``np.reshape(attrs["linkage"], (-1, 4))``), ``random_state``. On items,
        ``n_experiments`` counts them (``n_cell_types``, ``n_lipids``) and
        ``variable`` names the variable.

    Raises
    ------
    ValueError
        For an unknown method, a mask without voxels, fewer than 2 experiments,
        ``n_clusters`` empty, repeated, outside 1 .. the number of voxels or above
        ``n_microclusters``, a negative ``random_state``, or ``genes`` on items.
    TypeError
        For a ``random_state`` that is not an integer (or None).
    KeyError
        For an unknown gene or region.

    Examples
    --------
    >>> import agea_xr
    >>> c = clusters(agea_xr.open_sample(), 3, mask="CP", random_state=0)
    >>> sorted(np.unique(c.values).tolist())
    [0, 1, 2, 3]
    """
    import dask
    from dask.array.linalg import svd_compressed
    from sklearn.cluster import KMeans

    check_choice(method, CLUSTER_METHODS, "method", "Ward, or linkage on 1 - correlation.")
    levels = [n_clusters] if np.ndim(n_clusters) == 0 else list(n_clusters)
    levels = [check_integer(k, "n_clusters", minimum=1) for k in levels]
    if not levels:
        raise ValueError("n_clusters is empty: give a number of clusters, or several.")
    repeated = sorted({k for k in levels if levels.count(k) > 1})
    if repeated:
        raise ValueError(f"n_clusters repeats {repeated}: give each level once.")
    n_components = check_integer(n_components, "n_components", minimum=1)
    if n_microclusters is None:
        n_microclusters = max(200, 2 * max(levels))
    n_microclusters = check_integer(n_microclusters, "n_microclusters", minimum=1)
    if n_microclusters < max(levels):
        raise ValueError(
            f"n_clusters={max(levels)} exceeds n_microclusters={n_microclusters}, the leaves "
            f"of the tree it is cut from: pass n_microclusters={2 * max(levels)} (or leave "
            "it out: twice the largest n_clusters, at least 200)."
        )
    random_state = check_random_state(random_state, generator=False)
    mapping = check_mapping(mapping)
    if genes is not None:
        ds = ds.sel(gene=[genes] if isinstance(genes, str) else list(genes))
    n_experiments = ds.sizes[EXPERIMENT]
    if n_experiments < 2:
        raise ValueError(
            f"Clustering by expression profiles needs at least 2 experiments, got "
            f"{n_experiments}: select more genes."
        )
    selected = selection_mask(ds, mask, mapping, hemisphere, "clusters")
    voxels = np.flatnonzero(selected.reshape(-1))
    mask_words = describe(mask) if mask is not None else "brain"
    if max(levels) > voxels.size:
        raise ValueError(
            f"n_clusters={max(levels)} exceeds the {voxels.size} voxels of the mask "
            f"{mask_words!r}: ask for fewer clusters or a larger mask."
        )
    profiles = _profiles(ds, voxels)
    if cluster_client() is not None:
        # svd_compressed passes over the profiles once per power iteration: recomputed
        # each time, a cluster moves every pass's blocks between processes (2.0x the
        # threaded time); kept in the workers' memory (8 bytes a voxel and experiment),
        # 1.2x. A threaded run recomputes instead, to stay within a small peak memory.
        profiles = profiles.persist()
    k = min(n_components, n_experiments, voxels.size)
    with one_blas_thread():  # one BLAS thread per dask thread, not several each
        u, s, _ = svd_compressed(profiles.T, k, n_power_iter=2, seed=random_state, compute=True)
        u, s = dask.compute(u, s)
    # rounded far below any structure, so that the last bits of the float sums, which
    # may differ between schedulers (BLAS threads), cannot change a k-means decision
    scores = np.round(u * s, 7)
    total = float(voxels.size - np.count_nonzero(~scores.any(axis=1)))  # unit-norm rows
    distinct, inverse = np.unique(scores, axis=0, return_inverse=True)
    if distinct.shape[0] <= n_microclusters:  # few distinct profiles: they are the leaves
        micro = _numbered(inverse.reshape(-1)) - 1
    else:
        km = KMeans(n_microclusters, n_init=1, max_iter=50, random_state=random_state)
        micro = _numbered(km.fit(scores).labels_) - 1
    n_leaves = int(micro.max()) + 1
    centroids = np.stack([scores[micro == i].mean(axis=0) for i in range(n_leaves)])
    shape = tuple(ds.sizes[d] for d in GRID_DIMS)
    graph = _adjacency(voxels, micro, shape, n_leaves) if connectivity else None
    linkage = _tree(centroids, method, graph)
    volumes = []
    for level in levels:
        labels = np.zeros(int(np.prod(shape)), dtype=np.int32)
        groups = _cut(linkage, n_leaves, min(level, n_leaves))[micro]
        labels[voxels] = _numbered(groups)
        volumes.append(labels.reshape(shape))
    coords: dict[str, Any] = {d: ds[d] for d in GRID_DIMS}
    if "label" in ds.variables:
        label = ds["label"].transpose(*GRID_DIMS)
        coords["label"] = (GRID_DIMS, label.values, label.attrs)
    attrs = {
        "long_name": "expression cluster (0: not clustered)",
        "method": method,
        "mask": mask_words,
        "connectivity": int(bool(connectivity)),
        "n_experiments": int(n_experiments),
        "n_components": int(k),
        "explained_variance_ratio": (s**2 / max(total, 1.0)).tolist(),
        "n_microclusters": int(n_leaves),
        "linkage": linkage.reshape(-1).tolist(),
        "random_state": "None" if random_state is None else int(random_state),
    }
    if np.ndim(n_clusters) == 0:
        coords["n_clusters"] = levels[0]
        return xr.DataArray(volumes[0], dims=GRID_DIMS, coords=coords, name="cluster", attrs=attrs)
    coords["n_clusters"] = ("n_clusters", np.asarray(levels, dtype=np.int64))
    return xr.DataArray(
        np.stack(volumes),
        dims=("n_clusters", *GRID_DIMS),
        coords=coords,
        name="cluster",
        attrs=attrs,
    )


def agreement(c: xr.DataArray, mapping: str = "Beryl") -> pd.DataFrame:
    """How well clusters agree with the Allen ontology: adjusted Rand and mutual information.

    Over the voxels both clustered (label > 0) and in a region of ``mapping``
    (``void`` left out), with scikit-learn's ``adjusted_rand_score``,
    ``adjusted_mutual_info_score`` and ``normalized_mutual_info_score``.

    Parameters
    ----------
    c : xarray.DataArray
        A :func:`clusters` result (its ``label`` coordinate gives the regions),
        or any integer ``(ml, dv, ap)`` volume with a ``label`` coordinate.
    mapping : str, default "Beryl"
        iblatlas mapping of the regions compared with.

    Returns
    -------
    pandas.DataFrame
        One row per level (indexed by ``n_clusters``): ``adjusted_rand``,
        ``adjusted_mutual_info``, ``normalized_mutual_info``, ``n_regions``
        (regions among the compared voxels), ``n_voxels``.

    Raises
    ------
    ValueError
        For an unknown mapping, a volume that is not of integers, or one without
        ``label``.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> cosmos = ds.agea.regions("Cosmos").assign_coords(label=ds.label)
    >>> float(agreement(cosmos, "Cosmos")["adjusted_rand"].iloc[0])
    1.0
    """
    from sklearn import metrics

    mapping = check_mapping(mapping)
    if c.dtype.kind not in "iu":
        raise ValueError(
            f"agreement compares integer labels (0: not clustered), got a {c.dtype} volume "
            f"{c.name!r}: pass a clusters() result or a volume of region ids; a float volume "
            "of whole numbers converts with .fillna(0).astype(int)."
        )
    regions = region_ids(label_of(c).values, mapping).reshape(-1)
    levels = c.transpose(..., *GRID_DIMS)
    values = levels.values.reshape(-1, regions.size)
    index = np.atleast_1d(c["n_clusters"].values) if "n_clusters" in c.coords else [None]
    rows = []
    for row in values:
        both = (row > 0) & (regions != 0)
        truth, got = regions[both], row[both]
        rows.append(
            {
                "adjusted_rand": metrics.adjusted_rand_score(truth, got),
                "adjusted_mutual_info": metrics.adjusted_mutual_info_score(truth, got),
                "normalized_mutual_info": metrics.normalized_mutual_info_score(truth, got),
                "n_regions": int(np.unique(truth).size),
                "n_voxels": int(both.sum()),
            }
        )
    table = pd.DataFrame(rows, index=pd.Index(index, name="n_clusters"))
    table.attrs = {"mapping": mapping}
    return table

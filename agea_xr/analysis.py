"""Analyses at atlas scale: region x gene matrices, seed correlation maps, gene finder.

Every analysis is one pass over the expression data, chunk by chunk along
experiments (32 whole volumes per dask chunk by default): a compiled kernel
(:mod:`agea_xr.kernels`) reduces each chunk to a few numbers per region or per
voxel, and dask combines them. The binary is never materialised whole, and the
same graph runs on dask's threaded scheduler (the default) or, unchanged, on a
``dask.distributed`` cluster: create a ``Client`` first and dask uses it.

Missing values (``-1`` in the raw files, NaN once decoded) are never counted
as zeros: every mean, count and correlation uses measured voxels only.

On a dataset as :func:`agea_xr.open_dataset` returns it (untouched expression,
default chunks), the kernels read the stored float16 bits directly and decode
them through a lookup table on the fly, which halves the time of a pass;
after any change to ``expression`` (selection, arithmetic, rechunking) they
work on the decoded float values, with the same results.

Region-based results are lazy (dask-backed) DataArrays: call ``.compute()``
(or ``.values``) to run the pass. :func:`gene_finder` returns a table, so it
computes at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import kernels
from .gene_index import GeneIndex, close_matches
from .layout import AP, DIMS, DV, EXPERIMENT, GRID_DIMS, ML, RESOLUTION_UM
from .regions import brain_regions, check_mapping, label_of, region_indices, region_mask

__all__ = [
    "EFFECT_COLUMNS",
    "STATS",
    "gene_finder",
    "region_expression",
    "seed_correlation",
    "voxel_matrix",
]

#: Statistics :func:`region_expression` computes.
STATS = ("mean", "median", "std", "count", "fraction_measured")
#: Columns :func:`gene_finder` can rank by.
EFFECT_COLUMNS = ("effect_size", "fold_change", "mean_target", "mean_contrast")
#: Hemisphere choices of :func:`region_expression` (None: both hemispheres merged).
HEMISPHERE_CHOICES = (None, "left", "right", "split")


# --- the data, chunk by chunk -----------------------------------------------------
def _backend_array(data):
    """The :class:`~agea_xr.reader.ExpressionArray` under an untouched dask array, or None.

    True when ``data`` is exactly what ``open_dataset`` built (one read per chunk
    of whole experiments, nothing applied after it). Anything else returns None
    and the analyses use the decoded values instead.
    """
    from xarray.core import indexing

    from .reader import ExpressionArray

    layers = getattr(data.__dask_graph__(), "layers", None)
    if layers is None or len(layers) != 2:
        return None
    original = layers.get("original-" + str(data.name))
    if original is None or len(original) != 1:
        return None
    obj = next(iter(dict(original).values()))
    wrappers = tuple(
        getattr(indexing, name)
        for name in ("ImplicitToExplicitIndexingAdapter", "CopyOnWriteArray", "MemoryCachedArray")
        if hasattr(indexing, name)
    )
    for _ in range(8):
        if isinstance(obj, ExpressionArray):
            return obj if obj.shape == data.shape else None
        if isinstance(obj, indexing.LazilyIndexedArray):
            if any(k != slice(None) for k in obj.key.tuple):
                return None
        elif not isinstance(obj, wrappers):
            return None
        obj = getattr(obj, "array", None)
    return None


def _read_bits(source, starts: tuple[int, ...], block_id=None) -> np.ndarray:
    """One chunk of experiments as raw float16 bits, ``(experiments, voxels)`` uint16."""
    i = block_id[0]
    block = source.read(starts[i], starts[i + 1])
    return block.reshape(block.shape[0], -1).view(np.uint16)


def _as_bits(block: np.ndarray) -> np.ndarray:
    block = np.ascontiguousarray(block)
    return block.reshape(block.shape[0], -1).view(np.uint16)


def _as_float(block: np.ndarray) -> np.ndarray:
    block = np.asarray(block)
    if block.dtype.kind != "f":
        block = block.astype(np.float32)
    return block.reshape(block.shape[0], -1)


def _expression(ds: xr.Dataset) -> tuple[Any, bool | None]:
    """The expression as a dask array ``(experiment, voxel)``, one chunk along voxels.

    Returns the array and the decode-table mask flag: True/False when the array
    holds raw float16 bits (uint16; whether ``-1`` means "no measurement"), None
    when it holds float values (NaN = no measurement).
    """
    import dask.array as dska

    from .dataset import CHUNK_EXPERIMENTS

    if not isinstance(ds, xr.Dataset) or "expression" not in ds:
        raise ValueError(
            "The analyses need an AGEA Dataset with an 'expression' variable, as "
            "agea_xr.open_dataset() returns; got "
            f"{type(ds).__name__} without it. Call them on the Dataset (ds.agea...)."
        )
    expr = ds["expression"]
    if set(expr.dims) != set(DIMS):
        raise ValueError(
            f"'expression' has dims {expr.dims}; the analyses need all of {DIMS} "
            "(select ranges with slices, not single planes or experiments)."
        )
    expr = expr.transpose(*DIMS)
    if expr.chunks is None:
        expr = expr.chunk({EXPERIMENT: CHUNK_EXPERIMENTS, ML: -1, DV: -1, AP: -1})
    data = expr.data
    if any(len(c) != 1 for c in data.chunks[1:]):
        data = data.rechunk({1: -1, 2: -1, 3: -1})
    raw_missing = ds.attrs.get("variant", "raw") == "raw"
    n_vox = int(np.prod(data.shape[1:]))
    source = _backend_array(data)
    if source is not None:
        starts = tuple(int(s) for s in np.concatenate([[0], np.cumsum(data.chunks[0])]))
        bits = dska.map_blocks(
            _read_bits,
            chunks=(data.chunks[0], (n_vox,)),
            dtype=np.uint16,
            meta=np.empty((0, 0), dtype=np.uint16),
            name=f"agea-bits-{data.name}",
            source=source.source,
            starts=starts,
        )
        return bits, (source.mask if source.decode else raw_missing)
    chunks = (data.chunks[0], (n_vox,))
    if data.dtype == np.float16:
        return (
            data.map_blocks(_as_bits, chunks=chunks, drop_axis=(2, 3), dtype=np.uint16),
            raw_missing,
        )
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float32)
    return data.map_blocks(_as_float, chunks=chunks, drop_axis=(2, 3), dtype=dtype), None


def _table(mask: bool | None) -> np.ndarray | None:
    return None if mask is None else kernels.decode_table(bool(mask))


def _constant(array: np.ndarray):
    """A small numpy array as a one-chunk dask array: one graph key every task depends on.

    On ``dask.distributed`` it is sent to each worker once, not inside every task.
    """
    import dask.array as dska

    return dska.from_array(np.ascontiguousarray(array), chunks=-1)


def _one(blocks) -> np.ndarray:
    """The array of a contracted blockwise index (a list of its blocks), without a copy.

    The voxel axis and the constants are single chunks: taking the one block
    avoids dask's ``concatenate=True``, which copies every chunk (10 MB each).
    """
    while isinstance(blocks, list):
        blocks = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=-1)
    return blocks


def _chunk_sums(block, perm, bounds, mask):
    return kernels.segment_sums(_one(block), _one(perm), _one(bounds), _table(mask))


def _chunk_medians(block, perm, bounds, mask):
    return kernels.segment_medians(_one(block), _one(perm), _one(bounds), _table(mask))


def _segment_pass(data, mask, perm: np.ndarray, bounds: np.ndarray, medians: bool = False):
    """Lazy per-experiment segment sums ``(E, 3, R)`` (or medians ``(E, R)``)."""
    import dask.array as dska

    n_seg = bounds.size - 1
    if medians:
        return dska.blockwise(
            _chunk_medians,
            "er",
            data,
            "ev",
            _constant(perm),
            "m",
            _constant(bounds),
            "b",
            new_axes={"r": n_seg},
            concatenate=False,
            dtype=np.float64,
            meta=np.empty((0, 0), dtype=np.float64),
            mask=mask,
        )
    return dska.blockwise(
        _chunk_sums,
        "ecr",
        data,
        "ev",
        _constant(perm),
        "m",
        _constant(bounds),
        "b",
        new_axes={"c": 3, "r": n_seg},
        concatenate=False,
        dtype=np.float64,
        meta=np.empty((0, 0, 0), dtype=np.float64),
        mask=mask,
    )


# --- regions ------------------------------------------------------------------------
def _check_choice(value, choices: Sequence, what: str):
    if value in choices:
        return value
    named = [c for c in choices if isinstance(c, str)]
    near = close_matches(str(value), named, n=2)
    hint = f" Did you mean {' or '.join(map(repr, near))}?" if near else ""
    shown = ", ".join(repr(c) for c in choices)
    raise ValueError(f"Unknown {what} {value!r}: choose one of {shown}.{hint}")


def _left(label: xr.DataArray) -> np.ndarray:
    """Left-hemisphere voxels (x < 0), broadcast to the label's shape."""
    left = np.asarray(label[ML].values) < 0
    return np.broadcast_to(left[:, None, None], label.shape)


def _region_codes(
    ds: xr.Dataset, mapping: str, hemisphere: str | None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Region code of every voxel (-1: left out) and the table of the regions."""
    mapping = check_mapping(mapping)
    hemisphere = _check_choice(hemisphere, HEMISPHERE_CHOICES, "hemisphere")
    label = label_of(ds)
    br = brain_regions()
    ids = br.id[region_indices(label.values, mapping)].astype(np.int64)
    inside = ids != 0
    if hemisphere is not None:
        left = _left(label)
        ids = np.where(left, -np.abs(ids), np.abs(ids))
        if hemisphere == "left":
            inside &= left
        elif hemisphere == "right":
            inside &= ~left
    order = np.argsort(br.id, kind="stable")
    present = np.unique(ids[inside])
    position = order[np.searchsorted(br.id[order], present)]
    present = present[np.argsort(position, kind="stable")]  # iblatlas (hierarchy) order
    position = np.sort(position)
    codes = np.full(ids.shape, -1, dtype=np.int64)
    by_id = np.argsort(present, kind="stable")
    codes[inside] = by_id[np.searchsorted(present[by_id], ids[inside])]
    table = pd.DataFrame(
        {
            "region": present,
            "acronym": br.acronym[position].astype(str),
            "name": br.name[position].astype(str),
            "voxels": np.bincount(codes[inside], minlength=present.size).astype(np.int64),
        }
    )
    if hemisphere is not None or (present < 0).any():
        table["hemisphere"] = np.where(present < 0, "left", "right")
    return codes.reshape(-1), table


def _region_coords(table: pd.DataFrame) -> dict[str, Any]:
    coords: dict[str, Any] = {
        "region": (
            "region",
            table["region"].to_numpy(),
            {"long_name": "Allen structure id (negative: left hemisphere)"},
        ),
        "acronym": ("region", table["acronym"].to_numpy(dtype=object)),
        "name": ("region", table["name"].to_numpy(dtype=object)),
        "voxels": (
            "region",
            table["voxels"].to_numpy(),
            {"long_name": "voxels of the region on the 200 um grid"},
        ),
    }
    if "hemisphere" in table:
        coords["hemisphere"] = ("region", table["hemisphere"].to_numpy(dtype=object))
    return coords


def _stats_from_sums(sums, stat: str, voxels: np.ndarray):
    """One statistic from lazy ``(rows, 3, R)`` sums (count, sum, sum of squares)."""
    import dask.array as dska

    count, total, sq = sums[:, 0, :], sums[:, 1, :], sums[:, 2, :]
    if stat == "count":
        return count.astype(np.int64)
    if stat == "fraction_measured":
        return count / np.maximum(voxels, 1)[None, :]
    safe = dska.maximum(count, 1.0)
    mean = dska.where(count > 0, total / safe, np.nan)
    if stat == "mean":
        return mean
    var = dska.where(count > 0, dska.maximum(sq - total * mean, 0.0) / safe, np.nan)
    return dska.sqrt(var)


def _group_sums(sums: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups, *sums.shape[1:]), dtype=np.float64)
    np.add.at(out, codes, sums)
    return out


_STAT_ATTRS = {
    "mean": "mean expression energy of the measured voxels",
    "median": "median expression energy of the measured voxels",
    "std": "standard deviation (ddof=0) of the expression energy of the measured voxels",
    "count": "number of measured voxels",
    "fraction_measured": "fraction of the region's voxels that are measured",
}


def region_expression(
    ds: xr.Dataset,
    mapping: str = "Beryl",
    stat: str | Sequence[str] = "mean",
    *,
    hemisphere: str | None = None,
    combine_genes: bool = False,
) -> xr.DataArray | xr.Dataset:
    """Region x experiment (or region x gene) matrix of expression statistics.

    One pass over the data: each chunk of experiments is reduced to per-region
    counts, sums and sums of squares of its *measured* voxels (missing voxels
    are left out, never counted as zeros). ``median`` needs the values of each
    region sorted, a separate and slower pass (a few times the cost of the
    others), and is not combined with the others in one pass.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset with ``expression`` and ``label`` (as
        :func:`agea_xr.open_dataset` returns; any selection of experiments or of
        ranges of voxels works).
    mapping : str, default "Beryl"
        iblatlas mapping that assigns voxels to regions: ``Allen``, ``Beryl``,
        ``Cosmos``, ``Swanson``, or one of them with ``-lr`` (left regions then
        have negative ids).
    stat : str or sequence of str, default "mean"
        One of :data:`STATS`: ``mean``, ``median``, ``std`` (population, ddof=0),
        ``count`` (measured voxels), ``fraction_measured`` (count / voxels of the
        region). A sequence gives a Dataset with one variable per statistic,
        computed in one pass.
    hemisphere : {None, "left", "right", "split"}, default None
        None merges both hemispheres; ``"left"``/``"right"`` keep one (decided
        by position: left is x < 0); ``"split"`` gives each region twice, the
        left copy with a negative id.
    combine_genes : bool, default False
        Pool the experiments of each gene (their measured voxels together), giving
        a ``(gene, region)`` result with an ``n_experiments`` coordinate. Not
        available for ``median``.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        Lazy (dask), dims ``(experiment, region)`` or ``(gene, region)``, float64
        (int64 for ``count``); NaN where a region has no measured voxel.
        Coordinates: ``experiment`` and ``gene`` (indexed: ``.sel(gene="Pdyn")``),
        ``region`` (Allen id), ``acronym``, ``name``, ``voxels`` (region size on
        the grid), and ``hemisphere`` when hemispheres are told apart. Regions
        are those the mapping assigns to at least one voxel (``void`` left out),
        in iblatlas order. Under ``Beryl``, ``Cosmos`` and ``Swanson`` this
        includes a ``root`` row (id 997): the brain voxels the mapping leaves
        unassigned (fibre tracts, ventricles, structures it does not list; about
        9,000 voxels under Beryl). Drop it with ``.drop_sel(region=997)`` (and
        ``-997`` when hemispheres are split) if you want named regions only.

    Raises
    ------
    ValueError
        For an unknown mapping, statistic or hemisphere, ``median`` with
        ``combine_genes``, or a dataset without ``expression`` or ``label``.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> m = region_expression(ds, "Cosmos").compute()
    >>> m.dims
    ('experiment', 'region')
    >>> float(m.sel(gene="Pdyn").sel(region=623).squeeze()) > float(
    ...     m.sel(gene="Pdyn").sel(region=512).squeeze())  # striatum (CNU) vs cerebellum
    True
    """
    import dask.array as dska

    stats = [stat] if isinstance(stat, str) else list(stat)
    if not stats:
        raise ValueError(f"No statistic asked: choose from {', '.join(STATS)}.")
    for s in stats:
        _check_choice(s, STATS, "statistic")
    if combine_genes and "median" in stats:
        raise ValueError(
            "stat='median' cannot pool the experiments of a gene (that would need all "
            "their voxels at once): use combine_genes=False, then e.g. "
            "result.groupby('gene').median(), or stat='mean'."
        )
    data, mask = _expression(ds)
    codes, table = _region_codes(ds, mapping, hemisphere)
    perm, bounds = kernels.segments(codes, len(table))
    voxels = table["voxels"].to_numpy()
    coords = _region_coords(table)
    genes = ds["gene"].values if "gene" in ds.coords else None

    sums = None
    if any(s != "median" for s in stats):
        sums = _segment_pass(data, mask, perm, bounds)
    if combine_genes:
        if genes is None:
            raise ValueError("combine_genes=True needs the 'gene' coordinate of the dataset.")
        gene_codes, gene_names = pd.factorize(pd.Series(genes, dtype=object), sort=False)
        n_genes = len(gene_names)
        sums = dska.map_blocks(
            _group_sums,
            sums.rechunk({0: -1}),
            chunks=((n_genes,), (3,), (len(table),)),
            dtype=np.float64,
            codes=gene_codes,
            n_groups=n_genes,
        )
        row_dim = "gene"
        coords["gene"] = ("gene", np.asarray(gene_names, dtype=object))
        coords["n_experiments"] = ("gene", np.bincount(gene_codes, minlength=n_genes))
    else:
        row_dim = EXPERIMENT
        coords[EXPERIMENT] = (EXPERIMENT, ds[EXPERIMENT].values, ds[EXPERIMENT].attrs)
        if genes is not None:
            coords["gene"] = (EXPERIMENT, genes)

    attrs = {"mapping": check_mapping(mapping), "hemisphere": hemisphere or "both"}
    variables = {}
    for s in stats:
        if s == "median":
            values = _segment_pass(data, mask, perm, bounds, medians=True)
        else:
            values = _stats_from_sums(sums, s, voxels)
        variables[s] = xr.DataArray(
            values,
            dims=(row_dim, "region"),
            coords=coords,
            name=s,
            attrs={"long_name": _STAT_ATTRS[s], **attrs},
        )
    result = xr.Dataset(variables, attrs=attrs) if not isinstance(stat, str) else variables[stat]
    if not combine_genes and genes is not None:
        result = result.set_xindex("gene", GeneIndex)
    return result


# --- seed correlation -------------------------------------------------------------------
def _seed_voxel(ds: xr.Dataset, xyz: Sequence[float]) -> tuple[int, tuple[float, float, float]]:
    """Flat index (ml, dv, ap order) of the voxel nearest to ``xyz`` (metres, ML AP DV)."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1)
    if xyz.size != 3 or not np.isfinite(xyz).all():
        raise ValueError(
            f"The seed must be 3 finite coordinates (x=ML, y=AP, z=DV in metres from "
            f"bregma), got {xyz.tolist()!r}."
        )
    half = RESOLUTION_UM * 1e-6 / 2 + 1e-9
    where = {}
    for dim, value in zip((ML, AP, DV), xyz, strict=True):
        coord = np.asarray(ds[dim].values)
        i = int(np.argmin(np.abs(coord - value)))
        if abs(coord[i] - value) > half:
            raise ValueError(
                f"The seed's {dim} = {value * 1e3:+.3f} mm lies outside the grid "
                f"({coord.min() * 1e3:+.3f} .. {coord.max() * 1e3:+.3f} mm). Coordinates "
                "are metres from bregma, in the order x=ML, y=AP, z=DV."
            )
        where[dim] = i
    shape = tuple(ds.sizes[d] for d in GRID_DIMS)
    flat = int(np.ravel_multi_index(tuple(where[d] for d in GRID_DIMS), shape))
    centre = tuple(float(ds[d].values[where[d]]) for d in (ML, AP, DV))
    return flat, centre


def _chunk_moments(block, perm, bounds, seed_index, mask):
    block, perm, bounds = _one(block), _one(perm), _one(bounds)
    table = _table(mask)
    if seed_index >= 0:
        y = block[:, seed_index]
        y = (table[y] if table is not None else y).astype(np.float64)
    else:
        sums = kernels.segment_sums(block, perm, bounds, table)
        count, total = sums[:, 0, 0], sums[:, 1, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(count > 0, total / count, np.nan)
    return kernels.seed_moments(block, y, table)[None]


def _xyz_mm(coords: dict[str, np.ndarray], flat: int) -> tuple[float, float, float]:
    """x=ML, y=AP, z=DV in mm of the voxel at flat (ml, dv, ap) index ``flat``."""
    shape = tuple(coords[d].size for d in GRID_DIMS)
    where = dict(zip(GRID_DIMS, np.unravel_index(flat, shape), strict=True))
    return tuple(float(coords[d][where[d]]) * 1e3 for d in (ML, AP, DV))


def _check_seed(n: np.ndarray, n_x: np.ndarray, need: int, seed: dict[str, Any]) -> None:
    """Raise ValueError when no voxel can reach ``need`` experiments with the seed.

    Runs inside the pass (the measured counts are only known then): the map
    would otherwise come out all NaN without a word.
    """
    most = int(n.max(initial=0))
    if most >= need:
        return
    coords = seed["coords"]
    if seed["index"] < 0:
        raise ValueError(
            f"The seed region {seed['region']!r} has a measured mean profile in at most "
            f"{most} experiment(s) together with any voxel, fewer than the "
            f"{need} needed (min_experiments={seed['min_experiments']}): its correlation "
            "map would be all NaN. Choose a larger or better-measured region, or lower "
            "min_experiments."
        )
    x, y, z = _xyz_mm(coords, seed["index"])
    n_seed = int(n[seed["index"]])
    shape = tuple(coords[d].size for d in GRID_DIMS)
    index = dict(zip(GRID_DIMS, np.unravel_index(seed["index"], shape), strict=True))
    where = ", ".join(f"{d}={int(index[d])}" for d in (ML, AP, DV))
    message = (
        f"The seed xyz={seed['xyz']!r} (m) falls in the voxel at x={x:+.3f}, y={y:+.3f}, "
        f"z={z:+.3f} mm (indices {where}), which is measured in {n_seed} of "
        f"{seed['n_experiments']} experiments, fewer than the {need} needed "
        f"(min_experiments={seed['min_experiments']}): its correlation map would be all "
        "NaN."
    )
    good = np.flatnonzero(n_x >= need)
    if good.size == 0:
        best = int(n_x.max(initial=0))
        raise ValueError(
            f"{message} No voxel is measured in {need} experiments (the best-measured in "
            f"{best}): lower min_experiments."
        )
    grids = np.meshgrid(*(coords[d] for d in GRID_DIMS), indexing="ij")
    position = np.stack([g.reshape(-1)[good] for g in grids], axis=1)
    seed_position = np.array([g.reshape(-1)[seed["index"]] for g in grids])
    distance = np.sqrt(((position - seed_position) ** 2).sum(axis=1)) * 1e3
    nearest = int(good[np.argmin(distance)])
    nx, ny, nz = _xyz_mm(coords, nearest)
    raise ValueError(
        f"{message} The nearest voxel measured in at least {need} experiments is at "
        f"x={nx:+.3f}, y={ny:+.3f}, z={nz:+.3f} mm ({float(distance.min()):.2f} mm away, "
        f"{int(n_x[nearest])} experiments): seed there "
        f"(xyz=[{nx * 1e-3:.4g}, {ny * 1e-3:.4g}, {nz * 1e-3:.4g}]), or lower min_experiments."
    )


def _pearson(moments: np.ndarray, min_experiments: int, seed: dict[str, Any]) -> np.ndarray:
    n, sx, sy, sxx, syy, sxy, n_x = moments
    need = max(min_experiments, 2)
    _check_seed(n, n_x, need, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        ok = (n >= need) & (vx > 1e-12 * sxx) & (vy > 1e-12 * syy)
        r = np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0)


def seed_correlation(
    ds: xr.Dataset,
    xyz: Sequence[float] | None = None,
    *,
    region: str | int | Iterable[str | int] | None = None,
    mapping: str = "Allen",
    hemisphere: str | None = None,
    min_experiments: int = 10,
) -> xr.DataArray:
    """Pearson correlation map, across experiments, of every voxel with a seed.

    The seed profile is the seed voxel's value in every experiment (or, for a
    seed region, the mean of the region's measured voxels in every experiment).
    For each voxel, r is computed over the experiments where both the voxel and
    the seed are measured. One pass: each chunk of experiments adds, per voxel,
    the count and the sums of x, y, x², y² and xy in float64; then
    ``r = (Σxy - ΣxΣy/n) / sqrt((Σx² - (Σx)²/n)(Σy² - (Σy)²/n))``.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset (``label`` needed only for a seed region).
    xyz : sequence of 3 floats, optional
        Seed point in metres from bregma, IBL order x=ML, y=AP, z=DV; the
        nearest voxel is the seed.
    region : str, int or list of them, optional
        Seed region instead of a point: acronyms or Allen ids, descendants
        included (see :func:`agea_xr.regions.region_mask`).
    mapping : str, default "Allen"
        Mapping used to find the seed region's voxels.
    hemisphere : {None, "left", "right"}, default None
        Restrict the seed region to one hemisphere.
    min_experiments : int, default 10
        Voxels with fewer experiments measured at both the voxel and the seed
        get NaN (at least 2 are always needed).

    Returns
    -------
    xarray.DataArray
        Lazy (dask) float64 r in [-1, 1], dims ``(ml, dv, ap)``, named ``r``, with
        the coordinates ``n_experiments`` (experiments used per voxel) and, when
        ``ds`` has one, ``label`` (so that ``r.agea.plot_slice(ap=...)`` and
        ``r.agea.sel_region(...)`` work). Compute both in one pass with
        ``.compute()``. ``attrs``: ``long_name`` ("Pearson r", dimensionless, no
        ``units``), ``valid_range`` [-1, 1], ``description`` (the seed in words),
        ``seed_xyz`` (the seed voxel's centre, metres) or ``seed_region``, and
        ``min_experiments``.

    Raises
    ------
    ValueError
        If neither or both of ``xyz`` and ``region`` are given, the point lies
        outside the grid, the seed region has no voxel, or ``min_experiments``
        is not a positive integer. Also, when the result is computed (the
        measured counts are known only in the pass), if the seed is measured in
        fewer than ``max(min_experiments, 2)`` experiments, which would give an
        all-NaN map: the message names the seed, its voxel, how many experiments
        measure it, and the nearest voxel measured enough (distance in mm).
    KeyError
        For an unknown region acronym.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> r = seed_correlation(ds, [-1.5e-3, 0.5e-3, -3.5e-3], min_experiments=2).compute()
    >>> float(r.sel(ml=-1.5e-3, ap=0.5e-3, dv=-3.5e-3, method="nearest"))
    1.0
    >>> int(r.n_experiments.max())
    2
    """
    import dask.array as dska

    if (xyz is None) == (region is None):
        raise ValueError(
            "Give exactly one seed: xyz=[x, y, z] (metres from bregma, ML AP DV) or "
            "region='CA1' (an acronym, id or list of them)."
        )
    if isinstance(min_experiments, bool) or not isinstance(min_experiments, (int, np.integer)):
        raise ValueError(f"min_experiments must be a positive integer, got {min_experiments!r}.")
    if min_experiments < 1:
        raise ValueError(f"min_experiments must be a positive integer, got {min_experiments!r}.")
    shape = tuple(ds.sizes[d] for d in GRID_DIMS) if all(d in ds.sizes for d in GRID_DIMS) else ()
    data, mask = _expression(ds)
    attrs: dict[str, Any] = {
        "long_name": "Pearson r",
        "valid_range": [-1.0, 1.0],
        "min_experiments": int(min_experiments),
    }
    seed: dict[str, Any] = {
        "coords": {d: np.asarray(ds[d].values, dtype=np.float64) for d in GRID_DIMS},
        "min_experiments": int(min_experiments),
        "n_experiments": int(data.shape[0]),
    }
    if xyz is not None:
        seed_index, centre = _seed_voxel(ds, xyz)
        perm, bounds = np.zeros(0, np.int64), np.zeros(2, np.int64)
        attrs["seed_xyz"] = list(centre)
        attrs["description"] = (
            "Pearson r with the voxel at x={:+.3f}, y={:+.3f}, z={:+.3f} mm".format(
                *(c * 1e3 for c in centre)
            )
        )
        seed["xyz"] = [float(v) for v in np.asarray(xyz, dtype=np.float64).reshape(-1)]
    else:
        seed_mask = region_mask(ds, region, mapping=mapping, hemisphere=hemisphere)
        seed_mask = seed_mask.transpose(*GRID_DIMS).values
        if not seed_mask.any():
            raise ValueError(
                f"The seed region {region!r} has no voxel in this dataset "
                f"(hemisphere={hemisphere!r}): choose another region or hemisphere."
            )
        seed_index = -1
        perm, bounds = kernels.segments(np.where(seed_mask.reshape(-1), 0, -1), 1)
        attrs["seed_region"] = str(region)
        attrs["description"] = f"Pearson r with the mean profile of {region}"
        seed["region"] = region
    parts = dska.blockwise(
        _chunk_moments,
        "ecv",
        data,
        "ev",
        _constant(perm),
        "m",
        _constant(bounds),
        "b",
        new_axes={"c": len(kernels.MOMENT_FIELDS)},
        adjust_chunks={"e": 1},
        concatenate=False,
        dtype=np.float64,
        meta=np.empty((0, 0, 0), dtype=np.float64),
        seed_index=seed_index,
        mask=mask,
    )
    moments = parts.sum(axis=0, split_every=8)
    seed["index"] = seed_index
    r = moments.map_blocks(
        _pearson, int(min_experiments), seed=seed, drop_axis=0, dtype=np.float64
    )
    n = moments[0].astype(np.int64)
    coords = {d: ds[d] for d in GRID_DIMS}
    coords["n_experiments"] = (GRID_DIMS, n.reshape(shape))
    if "label" in ds.variables:
        label = ds["label"].transpose(*GRID_DIMS)
        coords["label"] = (GRID_DIMS, label.values, label.attrs)
    return xr.DataArray(r.reshape(shape), dims=GRID_DIMS, coords=coords, name="r", attrs=attrs)


# --- gene finder ------------------------------------------------------------------------
def _mask_of(ds: xr.Dataset, spec, mapping: str, hemisphere: str | None, what: str):
    """A boolean (ml, dv, ap) numpy volume from acronyms/ids or a boolean volume."""
    if isinstance(spec, (xr.DataArray, np.ndarray)):
        spec_da = spec if isinstance(spec, xr.DataArray) else None
        values = spec_da.transpose(*GRID_DIMS).values if spec_da is not None else np.asarray(spec)
        shape = tuple(ds.sizes[d] for d in GRID_DIMS)
        if values.dtype != bool or values.shape != shape:
            raise ValueError(
                f"A {what} mask must be a boolean volume of shape {shape} (ml, dv, ap), got "
                f"dtype {values.dtype} and shape {values.shape}."
            )
        if hemisphere is not None:
            label = label_of(ds)
            left = _left(label)
            values = values & (left if hemisphere == "left" else ~left)
        return values
    return region_mask(ds, spec, mapping=mapping, hemisphere=hemisphere).values


def _describe(spec) -> str:
    if isinstance(spec, (xr.DataArray, np.ndarray)):
        return "mask"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Iterable):
        return "+".join(map(str, spec))
    return str(spec)


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
) -> pd.DataFrame:
    """Rank experiments (or genes) by their enrichment in a target region.

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
        An AGEA dataset with ``expression`` and ``label``.
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
        per gene, with ``n_experiments`` and ``experiments`` (the ids).
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
        Keep the first ``top`` rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank``, ``gene``, ``experiment`` (or ``n_experiments`` and
        ``experiments`` with ``per_gene``), ``mean_target``, ``mean_contrast``,
        ``fold_change``, ``effect_size``, ``n_target``, ``n_contrast`` (measured
        voxels). ``attrs`` records target, contrast and voxel counts.

    Raises
    ------
    ValueError
        If the target or contrast has no voxel, or for an unknown ``sort_by``
        or hemisphere.
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

    _check_choice(sort_by, EFFECT_COLUMNS, "sort_by column")
    _check_choice(hemisphere, (None, "left", "right"), "hemisphere")
    target_mask = _mask_of(ds, target, mapping, hemisphere, "target")
    if contrast is None:
        brain = label_of(ds).values != 0
        if hemisphere is not None:
            left = _left(label_of(ds))
            brain &= left if hemisphere == "left" else ~left
        contrast_mask = brain
    else:
        contrast_mask = _mask_of(ds, contrast, mapping, hemisphere, "contrast")
    contrast_mask = contrast_mask & ~target_mask
    for name, m, spec in (("target", target_mask, target), ("contrast", contrast_mask, contrast)):
        if not m.any():
            raise ValueError(
                f"The {name} ({_describe(spec) if spec is not None else 'rest of the brain'}) "
                f"has no voxel in this dataset (hemisphere={hemisphere!r}, target voxels are "
                "removed from the contrast): choose other regions."
            )
    codes = np.full(target_mask.shape, -1, dtype=np.int64)
    codes[contrast_mask] = 1
    codes[target_mask] = 0
    data, mask = _expression(ds)
    perm, bounds = kernels.segments(codes, 2)
    (sums,) = dask.compute(_segment_pass(data, mask, perm, bounds))
    genes = np.asarray(ds["gene"].values, dtype=object)
    experiments = np.asarray(ds[EXPERIMENT].values)
    if per_gene:
        gene_codes, names = pd.factorize(pd.Series(genes, dtype=object), sort=False)
        sums = _group_sums(sums, gene_codes, len(names))
        ids = pd.Series(experiments).groupby(gene_codes).agg(tuple)
        head = {
            "gene": np.asarray(names, dtype=object),
            "n_experiments": np.bincount(gene_codes, minlength=len(names)),
            "experiments": ids.to_numpy(),
        }
    else:
        head = {"gene": genes, EXPERIMENT: experiments}
    columns = _effects(
        sums[:, 0, 0],
        sums[:, 1, 0],
        sums[:, 2, 0],
        sums[:, 0, 1],
        sums[:, 1, 1],
        sums[:, 2, 1],
        int(min_voxels),
    )
    table = pd.DataFrame({**head, **columns})
    table = table.sort_values(sort_by, ascending=False, na_position="last", kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table = table.reset_index(drop=True)
    if top is not None:
        table = table.head(int(top))
    table.attrs = {
        "target": _describe(target),
        "contrast": _describe(contrast) if contrast is not None else "rest of the brain",
        "mapping": check_mapping(mapping),
        "hemisphere": hemisphere or "both",
        "target_voxels": int(target_mask.sum()),
        "contrast_voxels": int(contrast_mask.sum()),
    }
    return table


# --- voxel matrix -----------------------------------------------------------------------
def voxel_matrix(
    ds: xr.Dataset,
    mask: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
    *,
    mapping: str = "Allen",
    hemisphere: str | None = None,
) -> xr.DataArray:
    """The (voxel, experiment) matrix of the brain's voxels, lazily, for scikit-learn work.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset.
    mask : str, int, list of them, or boolean volume, optional
        Which voxels: region acronyms or ids (descendants included), or a boolean
        ``(ml, dv, ap)`` volume. Default: every labelled (non-void) voxel.
    mapping : str, default "Allen"
        Mapping used to find regions' voxels.
    hemisphere : {None, "left", "right"}, default None
        Keep one hemisphere.

    Returns
    -------
    xarray.DataArray
        Lazy (dask), dims ``(voxel, experiment)``, chunked by experiments as the
        data. ``voxel`` is a stacked index of ``ml``, ``dv``, ``ap`` (metres):
        ``.unstack("voxel")`` gives volumes back. Missing values stay NaN:
        drop or impute them before PCA or clustering (e.g. ``.fillna(...)``, or
        keep voxels measured everywhere with ``.dropna("voxel")``).

    Raises
    ------
    ValueError
        If the mask selects no voxel or has the wrong shape, or there is no
        ``label`` for the default mask.

    Examples
    --------
    >>> import agea_xr
    >>> m = voxel_matrix(agea_xr.open_sample(), "CA1")
    >>> m.dims, m.sizes["experiment"]
    (('voxel', 'experiment'), 2)
    >>> sorted(m.indexes["voxel"].names)
    ['ap', 'dv', 'ml']
    """
    _check_choice(hemisphere, (None, "left", "right"), "hemisphere")
    if mask is None:
        label = label_of(ds)
        selected = label.values != 0
        if hemisphere is not None:
            left = _left(label)
            selected = selected & (left if hemisphere == "left" else ~left)
    else:
        selected = _mask_of(ds, mask, mapping, hemisphere, "voxel")
    if not selected.any():
        raise ValueError(
            f"The mask {_describe(mask) if mask is not None else 'brain'} selects no voxel "
            f"(hemisphere={hemisphere!r}): choose other regions."
        )
    expr = ds["expression"]
    if expr.chunks is None:
        from .dataset import CHUNK_EXPERIMENTS

        expr = expr.chunk({EXPERIMENT: CHUNK_EXPERIMENTS})
    expr = expr.transpose(EXPERIMENT, *GRID_DIMS).drop_vars(
        [c for c in expr.coords if c not in (EXPERIMENT, "gene", *GRID_DIMS)]
    )
    stacked = expr.stack(voxel=GRID_DIMS)
    out = stacked.isel(voxel=np.flatnonzero(selected.reshape(-1))).transpose("voxel", EXPERIMENT)
    out.attrs = dict(expr.attrs)
    return out

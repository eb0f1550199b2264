"""Shared machinery of the benchmarks: full-size data, timing, peak memory, tables.

Each ``bench_<area>.py`` module defines ``CASES``, a list of :class:`Case`.
``python benchmarks/run.py`` runs every case in a fresh subprocess (so peak
memory is the case's own), a few repeats after a warm-up, and prints one
table: median time (min-max), peak private memory, and the ratio to the
case's numpy baseline measured in the same run.

Peak private memory is the largest anonymous resident set (``RssAnon`` of
``/proc/self/status``, sampled every 5 ms) above what the process held before
the case started: file-backed pages of a memmap or of the page cache are not
private and are not counted.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agea_xr import layout

__all__ = [
    "Case",
    "cluster_case",
    "data_dir",
    "full_pass_mean",
    "local_cluster",
    "measure",
    "memmap",
    "threaded",
]

HERE = Path(__file__).resolve().parent
#: Where the full-size synthetic dataset is written once (override with AGEA_XR_BENCH_DATA).
DATA_ENV = "AGEA_XR_BENCH_DATA"


@dataclass
class Case:
    """One benchmark row.

    Attributes
    ----------
    name : str
        Row label, unique across modules.
    run : callable
        ``run(state)``: the timed work.
    setup : callable, optional
        ``setup(data_dir) -> state``, not timed (default: the data folder itself).
    baseline : str, optional
        Name of the row this one is compared with (ratio = this / baseline).
    pair : callable, optional
        ``pair(state)``: the baseline's work, timed in this case's process in turn
        with ``run`` (pair, run, pair, run, ...); the ratio is then to these times,
        which drift with the machine as ``run``'s do, not to the baseline's row.
    repeat : int
        Timed repeats after one warm-up.
    note : str
        Shown in the table.
    """

    name: str
    run: Callable[[Any], Any]
    setup: Callable[[Path], Any] | None = None
    baseline: str | None = None
    repeat: int = 5
    note: str = ""
    extra: dict = field(default_factory=dict)
    pair: Callable[[Any], Any] | None = None


def data_dir(n_experiments: int = layout.N_EXPERIMENTS) -> Path:
    """The full-size synthetic dataset (raw and processed), written on first use.

    Parameters
    ----------
    n_experiments : int
        Experiments (default: the real 4,345).

    Returns
    -------
    pathlib.Path
    """
    from agea_xr.testing import write_synthetic

    root = Path(os.environ.get(DATA_ENV, HERE / "_data"))
    folder = root / f"agea-{n_experiments}"
    done = folder / ".complete"
    if not done.is_file():
        print(f"writing the synthetic dataset ({n_experiments} experiments) to {folder} ...")
        write_synthetic(folder, n_experiments, variants=("raw", "processed"))
        done.write_text("ok")
    return folder


def local_cluster():
    """A 2-process LocalCluster's client, made dask's default scheduler of this process.

    Two workers of one thread each, on the machine's two cores (each case runs in a
    process of its own).
    """
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    return Client(cluster)


def threaded(run: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``run`` on dask's threaded scheduler, though a distributed client is the default."""

    def run_threaded(state: Any) -> Any:
        import dask

        with dask.config.set(scheduler="threads"):
            return run(state)

    return run_threaded


def cluster_case(
    name: str,
    run: Callable[[Any], Any],
    baseline: str,
    repeat: int = 3,
    setup: Callable[[Path], Any] | None = None,
) -> Case:
    """The row of ``run(state)`` on a 2-worker LocalCluster against its threaded run.

    ``setup`` (default: ``open_dataset``) gives the state, on a :func:`local_cluster`; the
    threaded run of the same ``run`` is timed in turn in the same process, so the
    ratio does not follow the machine's drift between processes. The peak memory
    is this process's only, not the workers'.
    """

    def make(folder: Path) -> tuple[Any, Any]:
        from agea_xr import open_dataset

        client = local_cluster()  # kept in the state
        return (setup or open_dataset)(folder), client

    def on_state(state: tuple[Any, Any]) -> Any:
        return run(state[0])

    return Case(
        f"{name} on a 2-worker LocalCluster",
        run=on_state,
        setup=make,
        baseline=baseline,
        repeat=repeat,
        pair=threaded(on_state),
        note="ratio to the threaded run timed in turn; "
        "peak: this process (threaded runs included), not the workers",
    )


def memmap(folder: Path, variant: str = "raw"):
    """The plain numpy baseline: ``np.memmap`` of the binary, as iblatlas opens it."""
    import numpy as np

    n = (folder / layout.binary_file(variant)).stat().st_size // layout.VOLUME_BYTES
    return np.memmap(
        folder / layout.binary_file(variant),
        dtype=layout.RAW_DTYPE,
        mode="r",
        shape=(n, *layout.GRID_SHAPE),
    )


def full_pass_mean(mm):
    """The plain numpy full pass: NaN-aware float32 mean over experiments, -1 excluded.

    Blocks of 32 experiments are converted to float32, as a careful numpy user would
    (float16 sums overflow and drift).
    """
    import numpy as np

    total = np.zeros(layout.GRID_SHAPE, np.float64)
    count = np.zeros(layout.GRID_SHAPE, np.int64)
    for start in range(0, mm.shape[0], 32):
        block = np.asarray(mm[start : start + 32], dtype=np.float32)
        ok = block != -1
        total += np.where(ok, block, 0).sum(axis=0)
        count += ok.sum(axis=0)
    return total / count


def _rss_anon_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class PeakMemory:
    """Sample the anonymous resident set in a thread; ``peak_mib`` above the start."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.start = _rss_anon_kib()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_anon_kib())
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_anon_kib())

    @property
    def peak_mib(self) -> float:
        return (self.peak - self.start) / 1024


def measure(case: Case, folder: Path) -> dict[str, Any]:
    """Run one case here: setup, warm-up, repeats; times and peak private memory.

    Returns
    -------
    dict
        ``name``, ``times`` (s), ``median``, ``min``, ``max``, ``peak_mib``, ``note``.
    """
    state = case.setup(folder) if case.setup else folder
    pair_times: list[float] = []
    with PeakMemory() as mem:
        if case.pair is not None:
            case.pair(state)
        case.run(state)  # warm-up (page cache, numba compilation)
        times = []
        for _ in range(case.repeat):
            if case.pair is not None:
                t0 = time.perf_counter()
                case.pair(state)
                pair_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            case.run(state)
            times.append(time.perf_counter() - t0)
    if pair_times:
        extra = {"pair_median": statistics.median(pair_times), "pair_times": pair_times}
    else:
        extra = {}
    return {
        "name": case.name,
        "times": times,
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "peak_mib": mem.peak_mib,
        "baseline": case.baseline,
        "note": case.note,
        **case.extra,
        **extra,
    }


def format_seconds(s: float) -> str:
    """Seconds with a unit that keeps 3 significant digits."""
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def table(results: list[dict[str, Any]]) -> str:
    """A Markdown table of results, with ratios to their baselines."""
    by_name = {r["name"]: r for r in results}
    lines = [
        "| case | median (min-max) | peak private MiB | vs baseline | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        ratio = ""
        base = by_name.get(r.get("baseline") or "")
        if r.get("pair_median"):
            ratio = (
                f"{r['median'] / r['pair_median']:.2f}x `{r['baseline']}` "
                f"({format_seconds(r['pair_median'])} in turn, same process)"
            )
        elif base:
            ratio = f"{r['median'] / base['median']:.2f}x `{base['name']}`"
        lines.append(
            f"| {r['name']} | {format_seconds(r['median'])} "
            f"({format_seconds(r['min'])}-{format_seconds(r['max'])}) "
            f"| {r['peak_mib']:.0f} | {ratio} | {r.get('note', '')} |"
        )
    return "\n".join(lines)


def dumps(result: dict[str, Any]) -> str:
    """One result as a JSON line (the subprocess protocol of run.py)."""
    return json.dumps(result)

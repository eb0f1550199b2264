"""Run the benchmarks: ``python benchmarks/run.py [--only core,analysis] [--n N]``.

Every case runs in its own subprocess (clean peak-memory figures) on the
full-size synthetic dataset (written once to ``benchmarks/_data`` or
``$AGEA_XR_BENCH_DATA``); the table is printed as Markdown and saved as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import common  # noqa: E402


def modules(only: list[str] | None) -> list[str]:
    names = sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(HERE)])
        if m.name.startswith("bench_")
    )
    if only:
        unknown = set(only) - set(names)
        if unknown:
            raise SystemExit(f"unknown benchmark module(s) {sorted(unknown)}; have {names}")
        names = [n for n in names if n in only]
    return names


def cases(area: str):
    return importlib.import_module(f"benchmarks.bench_{area}").CASES


def run_one(area: str, name: str, n: int) -> None:
    case = next(c for c in cases(area) if c.name == name)
    print(common.dumps(common.measure(case, common.data_dir(n))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated areas (core, remote, analysis, ...)")
    parser.add_argument("--n", type=int, default=4345, help="experiments (default 4345)")
    parser.add_argument("--json", type=Path, default=HERE / "_data" / "results.json")
    parser.add_argument("--case", nargs=2, metavar=("AREA", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        run_one(*args.case, args.n)
        return
    common.data_dir(args.n)
    results = []
    for area in modules(args.only.split(",") if args.only else None):
        for case in cases(area):
            print(f"[{area}] {case.name} ...", file=sys.stderr, flush=True)
            out = subprocess.run(
                [sys.executable, __file__, "--n", str(args.n), "--case", area, case.name],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                raise SystemExit(f"case {case.name!r} failed")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(common.table(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

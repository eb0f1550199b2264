"""Benchmarks of agea-xr against plain numpy baselines (not run in tests or CI)."""

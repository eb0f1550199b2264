"""Release files that are damaged in ways numpy, pandas or pyarrow would report unexplained."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import agea_xr
from agea_xr import layout


@pytest.fixture
def release(synthetic_dir, tmp_path):
    """A copy of the synthetic release to damage."""
    folder = tmp_path / "agea"
    shutil.copytree(synthetic_dir, folder)
    return folder


def _table(folder) -> pd.DataFrame:
    return pd.read_parquet(folder / layout.TABLE_FILE)


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("71717084.5", "is not a whole number"),
        ("99999999999999999999", "is beyond the 64-bit integer range"),
        ("abc", "is not a number"),
    ],
)
def test_experiment_ids_are_refused_not_truncated(release, bad, problem):
    table = _table(release)
    ids = table[layout.TABLE_ID_COLUMN].astype(str).tolist()
    ids[3] = bad
    table[layout.TABLE_ID_COLUMN] = ids
    table.to_parquet(release / layout.TABLE_FILE, index=False)
    message = rf"'id' column of .*row 3 holds '{bad}', which {problem}"
    with pytest.raises(ValueError, match=message):
        agea_xr.open_dataset(release)


def test_whole_float_ids_are_the_ids(release, synthetic_dir):
    table = _table(release)
    table[layout.TABLE_ID_COLUMN] = table[layout.TABLE_ID_COLUMN].astype(np.int64) + 0.0
    table.to_parquet(release / layout.TABLE_FILE, index=False)
    expected = agea_xr.open_dataset(synthetic_dir).experiment.values
    np.testing.assert_array_equal(agea_xr.open_dataset(release).experiment.values, expected)


def test_gene_column_not_utf8_is_named(release):
    table = _table(release)
    genes = [str(g).encode() for g in table[layout.TABLE_GENE_COLUMN]]
    genes[2] = b"Pdyn\xe9"  # latin-1, not UTF-8
    table[layout.TABLE_GENE_COLUMN] = pd.Series(genes, dtype=object)
    pq.write_table(
        pa.Table.from_pandas(table, schema=pa.schema([(c, pa.binary() if c == "gene" else
                             pa.string()) for c in table.columns]), preserve_index=False),
        release / layout.TABLE_FILE,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"'gene' column of .* is not UTF-8 text: row 2 holds"):
        agea_xr.open_dataset(release)


def test_utf8_bytes_gene_column_reads_as_text(release, synthetic_dir):
    table = _table(release)
    table[layout.TABLE_GENE_COLUMN] = [str(g).encode() for g in table[layout.TABLE_GENE_COLUMN]]
    table.to_parquet(release / layout.TABLE_FILE, index=False)
    expected = agea_xr.open_dataset(synthetic_dir).gene.values.tolist()
    assert agea_xr.open_dataset(release).gene.values.tolist() == expected


@pytest.mark.parametrize("name", [layout.LABEL_FILE, layout.IMAGE_FILE])
def test_empty_volume_file_is_named(release, name):
    (release / name).write_bytes(b"")
    empty = rf"Cannot read .*{name}' as a \.npy array \(it is empty\)"
    with pytest.raises(ValueError, match=empty):
        agea_xr.open_dataset(release)
    (release / name).write_bytes(b"\x93NUMPY\x01\x00")  # a truncated header
    with pytest.raises(ValueError, match=rf"Cannot read .*{name}' as a \.npy array"):
        agea_xr.open_dataset(release)

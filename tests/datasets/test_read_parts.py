"""``kw.read_dataset``: Parquet files and folders of parts read the same by every engine.

The cases where the engines read the same files differently unless we take care: a pandas
index written into the file, ``key=value`` folders above the table's folder, folders of
``.pq`` parts. Every engine gives the values worked out by hand, or an error saying why not.
"""

from __future__ import annotations

import narwhals.stable.v2 as nw
import pandas as pd
import pytest

import kpiwidgets as kw
from tests.helpers import to_pandas

ENGINES = ["pandas", "duckdb", "polars"]
LAZY = ["duckdb", "polars"]


def _names(frame):
    return nw.from_native(frame).collect_schema().names()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_named_pandas_index_is_a_column_and_row_numbers_are_not(tmp_path, engine):
    # revenue.parquet was written with account_id as the index: it is the file's column,
    # read as one by every engine (pandas used to restore it as the index: "missing column").
    # leads.parquet was written from a filtered frame with index=True: the row labels (1, 2)
    # land in __index_level_0__, which is no column of the table on any engine.
    revenue = pd.DataFrame(
        {"account_id": ["A", "B"], "month": pd.to_datetime(["2024-01-01"] * 2), "mrr": [1.0, 2.0]}
    )
    revenue.set_index("account_id").to_parquet(tmp_path / "revenue.parquet")
    leads = pd.DataFrame(
        {"lead_id": ["L0", "L1", "L2"], "created_at": pd.to_datetime(["2024-01-01"] * 3)}
    )
    leads.iloc[1:].to_parquet(tmp_path / "leads.parquet", index=True)
    ds = kw.read_dataset(tmp_path, engine=engine)
    assert _names(ds.revenue) == ["month", "mrr", "account_id"]
    assert sorted(to_pandas(ds.revenue).account_id) == ["A", "B"]
    assert to_pandas(ds.revenue).mrr.sum() == 3.0
    assert _names(ds.leads) == ["lead_id", "created_at"]
    assert sorted(to_pandas(ds.leads).lead_id) == ["L1", "L2"]


@pytest.mark.parametrize("engine", ENGINES)
def test_parts_with_and_without_row_numbers_are_one_table(tmp_path, engine):
    # part-0 holds rows 0 and 2 of a frame (row labels written), part-1 row 1 (none): the
    # parts have the same columns, so 3 rows, mrr 1 + 3 + 2 = 6.
    parts = tmp_path / "revenue"
    parts.mkdir()
    revenue = pd.DataFrame(
        {"account_id": list("ABC"), "month": pd.to_datetime(["2024-01-01"] * 3), "mrr": [1.0, 2, 3]}
    )
    revenue.iloc[[0, 2]].to_parquet(parts / "part-0.parquet", index=True)
    revenue.iloc[[1]].reset_index(drop=True).to_parquet(parts / "part-1.parquet", index=False)
    ds = kw.read_dataset(tmp_path, engine=engine)
    assert _names(ds.revenue) == ["account_id", "month", "mrr"]
    assert to_pandas(ds.revenue).mrr.sum() == 6.0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_key_folder_above_the_table_named_like_a_column(tmp_path, engine):
    # exports/channel=outer/spend/date=.../part-0.parquet with a channel column in the files:
    # DuckDB and polars read every key=value folder of the path, so channel would be 'outer'
    # on every row. pandas reads the files' values (inner0, inner1); lazy engines refuse.
    base = tmp_path / "channel=outer"
    for i, day in enumerate(("2024-01-31", "2024-02-01")):
        part = base / "spend" / f"date={day}"
        part.mkdir(parents=True)
        pd.DataFrame({"amount": [float(i + 1)], "channel": [f"inner{i}"]}).to_parquet(
            part / "part-0.parquet"
        )
    if engine in LAZY:
        with pytest.raises(ValueError) as error:
            kw.read_dataset(base, engine=engine)
        message = str(error.value)
        assert "table 'spend', column 'channel': the folder channel=outer/ above" in message
        assert "would read 'outer' from it for every row" in message
        assert "engine='pandas'" in message
        return
    spend = to_pandas(kw.read_dataset(base, engine=engine).spend).sort_values("amount")
    assert spend.channel.tolist() == ["inner0", "inner1"]


@pytest.mark.parametrize("engine", LAZY)
def test_a_key_folder_above_the_table_is_fine_when_no_column_has_its_name(tmp_path, engine):
    # batch=7/ above, date= and channel= inside: 10 + 5 on 1 January, 7 on 2 January.
    base = tmp_path / "batch=7"
    for day, channel, amount in (("2024-01-01", "paid", 10.0), ("2024-01-01", "organic", 5.0)):
        part = base / "spend" / f"date={day}" / f"channel={channel}"
        part.mkdir(parents=True)
        pd.DataFrame({"amount": [amount]}).to_parquet(part / "part-0.parquet")
    spend = to_pandas(kw.read_dataset(base, engine=engine).spend).sort_values("amount")
    assert spend.channel.tolist() == ["organic", "paid"] and spend.amount.sum() == 15.0


def test_a_folder_of_pq_parts_that_matches_no_table_is_listed(tmp_path):
    pd.DataFrame({"lead_id": ["L1"], "created_at": pd.to_datetime(["2024-01-01"])}).to_parquet(
        tmp_path / "leads.parquet"
    )
    for name, file in (("funnel_event", "part-0.pq"), ("spends", "PART-0.PARQUET")):
        (tmp_path / name).mkdir()
        pd.DataFrame({"x": [1]}).to_parquet(tmp_path / name / file)
    (tmp_path / "notes").mkdir()  # no Parquet inside: not a table folder, not listed
    (tmp_path / "notes" / "todo.txt").write_text("")
    with pytest.warns(UserWarning, match=r"2 file\(s\) .* not read: funnel_event/, spends/;"):
        kw.read_dataset(tmp_path, engine="duckdb")


@pytest.mark.parametrize("engine", ENGINES)
def test_pq_files_are_parts_too(tmp_path, engine):
    # revenue/part-0.parquet (mrr 1) and revenue/part-1.pq (mrr 2): one table, mrr 3.
    parts = tmp_path / "revenue"
    parts.mkdir()
    for i, name in enumerate(("part-0.parquet", "part-1.pq")):
        pd.DataFrame(
            {"account_id": [f"A{i}"], "month": pd.to_datetime(["2024-01-01"]), "mrr": [i + 1.0]}
        ).to_parquet(parts / name)
    assert to_pandas(kw.read_dataset(tmp_path, engine=engine).revenue).mrr.sum() == 3.0

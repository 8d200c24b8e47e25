"""kw.Dataset validation and kw.read_dataset: every error names table, column, expected, found."""

from __future__ import annotations

import re
import warnings

import duckdb
import pandas as pd
import polars as pl
import pytest

import kpiwidgets as kw


def _leads(**overrides):
    data = {
        "lead_id": ["L1", "L2", "L3"],
        "created_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        "channel": ["web", "events", "web"],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def _opportunities(**overrides):
    data = {
        "opportunity_id": ["O1", "O2"],
        "created_at": pd.to_datetime(["2024-02-01", "2024-02-03"]),
        "status": ["won", "open"],
        "amount": [1000.0, 250.0],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_valid_tables_are_kept_and_reachable_by_name_and_attribute():
    ds = kw.Dataset(leads=_leads(), opportunities=_opportunities())
    assert ds.tables == ["leads", "opportunities"]
    assert ds["leads"] is not None and len(ds.leads) == 3
    assert "spend" not in ds and "leads" in ds
    assert repr(ds) == "Dataset(leads: 3 rows, opportunities: 2 rows)"
    assert ds.dropped == {}


def test_missing_table_errors_name_the_table_and_what_exists():
    ds = kw.Dataset(leads=_leads())
    with pytest.raises(AttributeError, match=r"no 'spend' table.*it has: leads"):
        _ = ds.spend
    with pytest.raises(KeyError, match=r"cost_per_lead needs the table\(s\) 'spend'"):
        ds.require("leads", "spend", purpose="cost_per_lead")


def test_unknown_table_name_is_an_error():
    with pytest.raises(ValueError, match=r"unknown table\(s\) 'lead'.*expected some of: leads"):
        kw.Dataset(lead=_leads())


def test_missing_required_column_names_table_column_and_found_columns():
    with pytest.raises(ValueError) as info:
        kw.Dataset(leads=_leads().drop(columns="created_at"))
    message = str(info.value)
    assert "table 'leads': missing required column(s) 'created_at'" in message
    assert "found columns: 'lead_id', 'channel'" in message


def test_text_where_timestamp_expected_is_one_error_with_examples():
    leads = _leads(created_at=["yesterday", "n/a", "soon"])
    with pytest.raises(ValueError) as info:
        kw.Dataset(leads=leads)
    message = str(info.value)
    assert "table 'leads', column 'created_at': expected timestamps" in message
    assert "3 of 3 values" in message and "'yesterday'" in message


def test_text_where_number_expected_is_an_error():
    with pytest.raises(ValueError, match=r"'opportunities', column 'amount': expected numbers"):
        kw.Dataset(opportunities=_opportunities(amount=["big", "small"]))


def test_numbers_where_timestamp_expected_are_an_error():
    with pytest.raises(ValueError, match=r"column 'created_at': expected timestamps, found int64"):
        kw.Dataset(leads=_leads(created_at=[1, 2, 3]))


def test_closed_vocabulary_lists_allowed_and_found_values():
    with pytest.raises(ValueError, match=r"expected one of open, won, lost, found 'pending'"):
        kw.Dataset(opportunities=_opportunities(status=["won", "pending"]))


def test_status_case_is_normalised():
    ds = kw.Dataset(opportunities=_opportunities(status=["Won", "OPEN"]))
    assert ds.opportunities.status.tolist() == ["won", "open"]


def test_fractional_ids_are_the_wrong_kind():
    with pytest.raises(ValueError, match=r"column 'lead_id': expected identifiers.*1.5"):
        kw.Dataset(leads=_leads(lead_id=[1.0, 1.5, 2.0]))


def test_all_problems_come_in_one_error():
    with pytest.raises(ValueError) as info:
        kw.Dataset(
            leads=_leads(created_at=["x", "y", "z"]),
            opportunities=_opportunities(amount=["a", "b"]),
        )
    message = str(info.value)
    assert message.startswith("Dataset: 2 problem(s)")
    assert "'leads', column 'created_at'" in message
    assert "'opportunities', column 'amount'" in message


def test_text_timestamps_and_money_are_parsed():
    ds = kw.Dataset(
        opportunities=_opportunities(
            created_at=["2024-02-01", "2024-02-03 10:30"], amount=["$1,000", "250.5"]
        )
    )
    opps = ds.opportunities
    assert pd.api.types.is_datetime64_any_dtype(opps.created_at)
    assert opps.created_at[1] == pd.Timestamp("2024-02-03 10:30")
    assert opps.amount.tolist() == [1000.0, 250.5]


def test_unusable_rows_are_left_out_and_counted():
    # 5 rows: L3 has a null id, L4 an unparseable date, L5 both fine -> 3 rows kept.
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", None, "L4", "L5"],
            "created_at": ["2024-01-01", "2024-01-02", "2024-01-03", "not a date", "2024-01-05"],
        }
    )
    with pytest.warns(kw.DroppedRowsWarning, match=r"'leads': left out 2 unusable row"):
        ds = kw.Dataset(leads=leads)
    assert ds.leads.lead_id.tolist() == ["L1", "L2", "L5"]
    assert ds.dropped == {
        "leads": {"unparseable created_at": 1, "null lead_id": 1, "rows left out": 2}
    }


def test_errors_raise_turns_dirty_rows_into_an_error():
    leads = _leads(created_at=["2024-01-01", "2024-01-02", "garbage"])
    with pytest.raises(ValueError, match=r"1 value\(s\) that do not parse \(e.g. 'garbage'\)"):
        kw.Dataset(leads=leads, errors="raise")


def test_column_mapping_flat_and_per_table():
    raw = pd.DataFrame({"Lead ID": ["a"], "Created": ["2024-03-01"]})
    flat = kw.Dataset(leads=raw, columns={"Lead ID": "lead_id", "Created": "created_at"})
    per_table = kw.Dataset(
        leads=raw, columns={"leads": {"Lead ID": "lead_id", "Created": "created_at"}}
    )
    for ds in (flat, per_table):
        assert list(ds.leads.columns) == ["lead_id", "created_at"]
        assert ds.leads.created_at[0] == pd.Timestamp("2024-03-01")


def test_tz_aware_timestamps_keep_their_zone():
    created = pd.to_datetime(["2024-01-01 09:00"] * 3).tz_localize("Europe/Berlin")
    ds = kw.Dataset(leads=_leads(created_at=created))
    assert str(ds.leads.created_at.dt.tz) == "Europe/Berlin"


def test_polars_frames_are_checked_by_schema_and_kept_as_polars():
    good = pl.from_pandas(_leads())
    ds = kw.Dataset(leads=good)
    assert isinstance(ds.leads, pl.DataFrame)
    bad = good.with_columns(pl.col("created_at").dt.strftime("%Y-%m-%d"))
    with pytest.raises(
        ValueError, match=r"'leads', column 'created_at': expected timestamps, found String"
    ):
        kw.Dataset(leads=bad)


def test_lazy_frames_are_not_collected():
    rel = duckdb.from_df(_leads())
    ds = kw.Dataset(leads=rel)
    assert isinstance(ds.leads, duckdb.DuckDBPyRelation)
    with pytest.raises(ValueError, match=r"missing required column\(s\) 'created_at'"):
        kw.Dataset(leads=duckdb.sql("select 'L1' as lead_id"))


def test_not_a_dataframe():
    with pytest.raises(ValueError, match=r"table 'leads': expected a dataframe, found list"):
        kw.Dataset(leads=[1, 2, 3])


def test_read_dataset_reads_csv_and_parquet(tmp_path):
    leads = _leads(lead_id=["007", "008", "009"])
    leads.to_csv(tmp_path / "leads.csv", index=False)
    _opportunities().to_parquet(tmp_path / "opportunities.parquet")
    (tmp_path / "notes.csv").write_text("ignored\n1\n")
    with pytest.warns(
        UserWarning, match=r"1 file\(s\) .* match no table and were not read: notes\.csv"
    ):
        ds = kw.read_dataset(tmp_path)
    assert ds.tables == ["leads", "opportunities"]
    # Leading zeros survive: ids are read as text.
    assert ds.leads.lead_id.tolist() == ["007", "008", "009"]
    assert pd.api.types.is_datetime64_any_dtype(ds.leads.created_at)
    assert ds.opportunities.amount.sum() == 1250.0


def test_read_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        kw.read_dataset(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=re.escape("expected files such as leads.csv")):
        kw.read_dataset(tmp_path)


def test_read_dataset_reports_bad_csv_columns(tmp_path):
    (tmp_path / "spend.csv").write_text("date,amount\n2024-01-01,ten\n2024-01-02,eleven\n")
    with pytest.raises(ValueError, match=r"'spend', column 'amount': expected numbers"):
        kw.read_dataset(tmp_path)


def test_no_warning_for_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kw.Dataset(leads=_leads())


def test_summary_counts_rows_and_time_range_per_table():
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", None],
            "created_at": pd.to_datetime(["2024-01-05", "2024-03-01", "2024-02-01"]),
        }
    )
    with pytest.warns(kw.DroppedRowsWarning):
        ds = kw.Dataset(
            leads=leads, spend=pl.DataFrame({"date": [pd.Timestamp("2024-02-02")], "amount": [3.0]})
        )
    summary = ds.summary().set_index("table")
    assert summary.loc["leads", "rows"] == 2
    assert summary.loc["leads", "first"] == pd.Timestamp("2024-01-05")
    assert summary.loc["leads", "last"] == pd.Timestamp("2024-03-01")
    assert summary.loc["leads", "rows_left_out"] == 1
    assert summary.loc["spend", "rows"] == 1 and summary.loc["spend", "time_column"] == "date"

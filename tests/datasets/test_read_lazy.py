"""``kw.read_dataset(folder, engine="duckdb" | "polars")``: lazy tables over Parquet files.

Each test writes small Parquet files (pandas ``to_parquet``) whose right reading is known by
hand, reads them with each engine and checks the exact values (against the pandas engine's
reading of the same files, and against the numbers worked out in the comments).
"""

from __future__ import annotations

import re
import warnings

import duckdb
import narwhals.stable.v2 as nw
import pandas as pd
import polars as pl
import pytest

import kpiwidgets as kw
from tests.helpers import to_pandas

LAZY = {"duckdb": duckdb.DuckDBPyRelation, "polars": pl.LazyFrame}
ENGINES = ["pandas", *LAZY]


def _t(*values):
    return pd.to_datetime(list(values))


def _sorted(frame, by):
    out = to_pandas(frame).sort_values(by).reset_index(drop=True)
    for name in out.columns:  # one representation per engine: text as object, no units
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            out[name] = out[name].astype("datetime64[us]")
        elif not pd.api.types.is_numeric_dtype(out[name]):
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def _names(frame):
    return nw.from_native(frame).collect_schema().names()


def _leads_and_deals(folder):
    pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "created_at": _t("2024-01-05", "2024-02-10", "2024-02-11"),
            "channel": ["paid", "organic", None],
        }
    ).to_parquet(folder / "leads.parquet")
    pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2", "O3"],
            "created_at": _t("2024-01-10", "2024-01-20", "2024-02-01"),
            "closed_at": _t("2024-02-01", "2024-02-15", None),
            "status": ["won", "lost", "open"],
            "amount": [1000.0, 0.0, 250.5],
        }
    ).to_parquet(folder / "opportunities.parquet")


# -- engines -------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", list(LAZY))
def test_lazy_engines_give_lazy_tables_with_the_pandas_engines_values(tmp_path, engine):
    _leads_and_deals(tmp_path)
    eager = kw.read_dataset(tmp_path)
    ds = kw.read_dataset(tmp_path, engine=engine)
    assert ds.tables == ["leads", "opportunities"]
    assert isinstance(ds.leads, LAZY[engine]) and isinstance(ds.opportunities, LAZY[engine])
    for table, key in (("leads", "lead_id"), ("opportunities", "opportunity_id")):
        pd.testing.assert_frame_equal(_sorted(ds[table], key), _sorted(eager[table], key))
    deals = _sorted(ds.opportunities, "opportunity_id")
    # 1000 + 0 + 250.5; one won deal; O3 is open, so it has no close date.
    assert deals.amount.sum() == 1250.5
    assert deals.status.tolist() == ["won", "lost", "open"]
    assert deals.closed_at.isna().tolist() == [False, False, True]
    assert ds.dropped == {} and ds.formats == {}


def test_duckdb_tables_are_on_the_default_connection_and_read_lazily(tmp_path):
    _leads_and_deals(tmp_path)
    ds = kw.read_dataset(tmp_path, engine="duckdb", columns={"leads": {"channel": "source"}})
    plan = ds.leads.explain()
    assert "READ_PARQUET" in plan or "PARQUET_SCAN" in plan
    # A relation of another connection cannot be combined with one of the default connection.
    assert duckdb.default_connection().sql("select 1 as x").cross(ds.leads).aggregate(
        "count(*)"
    ).fetchall() == [(3,)]


def test_polars_tables_are_parquet_scans(tmp_path):
    _leads_and_deals(tmp_path)
    ds = kw.read_dataset(tmp_path, engine="polars", columns={"Lead": "lead_id"})
    plan = ds.leads.explain()
    assert "Parquet SCAN" in plan and str(tmp_path / "leads.parquet") in plan


def test_an_unknown_engine_is_an_error_listing_the_choices(tmp_path):
    _leads_and_deals(tmp_path)
    with pytest.raises(ValueError, match=r"engine must be one of 'pandas', 'duckdb', 'polars'"):
        kw.read_dataset(tmp_path, engine="spark")
    with pytest.raises(ValueError, match="found 'DuckDB'"):
        kw.read_dataset(tmp_path, engine="DuckDB")


# -- renames, presets, values ----------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_renames_apply_lazily(tmp_path, engine):
    pd.DataFrame(
        {"Lead": ["L1", "L2"], "Created": _t("2024-03-01", "2024-03-02"), "Source": ["a", "b"]}
    ).to_parquet(tmp_path / "leads.parquet")
    ds = kw.read_dataset(
        tmp_path,
        engine=engine,
        columns={"leads": {"Lead": "lead_id", "Created": "created_at", "Source": "channel"}},
    )
    assert _names(ds.leads) == ["lead_id", "created_at", "channel"]
    leads = _sorted(ds.leads, "lead_id")
    assert leads.lead_id.tolist() == ["L1", "L2"] and leads.channel.tolist() == ["a", "b"]
    assert leads.created_at.dt.day.tolist() == [1, 2]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_preset_renames_and_maps_stages_lazily(tmp_path, engine):
    # HubSpot's deals export: "Closed Won" -> won, "closed lost " -> lost (case and spaces do
    # not matter), "Appointment Scheduled" -> open; the open deal's Close Date (30 June) is
    # when it is expected to close, so it moves to expected_close_at.
    pd.DataFrame(
        {
            "Record ID": ["D1", "D2", "D3"],
            "Create Date": _t("2024-01-02", "2024-01-03", "2024-01-04"),
            "Close Date": _t("2024-03-01", "2024-03-05", "2024-06-30"),
            "Deal Stage": ["Closed Won", "closed lost ", "Appointment Scheduled"],
            "Amount": [500.0, 70.0, 30.0],
        }
    ).to_parquet(tmp_path / "deals.parquet")
    ds = kw.read_dataset(tmp_path, engine=engine, preset="hubspot")
    deals = _sorted(ds.opportunities, "opportunity_id")
    assert deals.status.tolist() == ["won", "lost", "open"]
    assert deals.closed_at.dt.strftime("%m-%d").fillna("-").tolist() == ["03-01", "03-05", "-"]
    assert deals.expected_close_at.dt.strftime("%m-%d").fillna("-").tolist() == ["-", "-", "06-30"]
    if engine != "pandas":
        eager = kw.read_dataset(tmp_path, preset="hubspot")
        pd.testing.assert_frame_equal(deals, _sorted(eager.opportunities, "opportunity_id"))


@pytest.mark.parametrize("engine", list(LAZY))
def test_an_unknown_stage_is_an_error_naming_it(tmp_path, engine):
    pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2"],
            "created_at": _t("2024-01-02", "2024-01-03"),
            "status": [" WON", "Closed Won"],
            "amount": [1.0, 2.0],
        }
    ).to_parquet(tmp_path / "opportunities.parquet")
    with pytest.raises(ValueError) as error:
        kw.read_dataset(tmp_path, engine=engine)
    message = str(error.value)
    assert "table 'opportunities', column 'status': expected one of open, won, lost" in message
    assert "'Closed Won'" in message and "' WON'" not in message  # " WON" is won
    ds = kw.read_dataset(
        tmp_path, engine=engine, values={"opportunities": {"status": {"closed won": "won"}}}
    )
    assert _sorted(ds.opportunities, "opportunity_id").status.tolist() == ["won", "won"]


@pytest.mark.parametrize("engine", list(LAZY))
def test_options_for_text_are_harmless_with_parquet(tmp_path, engine):
    _leads_and_deals(tmp_path)
    plain = kw.read_dataset(tmp_path, engine=engine)
    ds = kw.read_dataset(
        tmp_path,
        engine=engine,
        dayfirst=True,
        decimal=",",
        date_format="%d.%m.%Y",
        encoding="cp1252",
    )
    pd.testing.assert_frame_equal(_sorted(ds.leads, "lead_id"), _sorted(plain.leads, "lead_id"))
    with pytest.raises(ValueError, match="dayfirst must be one of"):
        kw.read_dataset(tmp_path, engine=engine, dayfirst="yes")


# -- folders of parts ------------------------------------------------------------------------


def _events(folder, name="funnel_events"):
    parts = folder / name
    parts.mkdir()
    # part-0: 3 rows, part-1: 4 rows -> 7 rows in all.
    pd.DataFrame(
        {
            "user": ["E1", "E1", "E2"],
            "event": ["visit", "signup", "visit"],
            "timestamp": _t("2024-01-01", "2024-01-03", "2024-01-02"),
        }
    ).to_parquet(parts / "part-0.parquet")
    pd.DataFrame(
        {
            "user": ["E1", "E3", "E3", "E2"],
            "event": ["buy", "visit", "signup", "signup"],
            "timestamp": _t("2024-01-10", "2024-01-05", "2024-01-06", "2024-03-01"),
        }
    ).to_parquet(parts / "part-1.parquet")
    (parts / "_SUCCESS").write_text("")  # Spark's marker: skipped
    (parts / ".part-0.parquet.crc").write_text("")  # hidden: skipped
    return parts


@pytest.mark.parametrize("engine", ENGINES)
def test_a_folder_of_parts_is_one_table_with_all_rows(tmp_path, engine):
    _events(tmp_path)
    ds = kw.read_dataset(tmp_path, engine=engine, columns={"user": "entity_id"})
    events = _sorted(ds.funnel_events, ["entity_id", "timestamp"])
    assert len(events) == 7
    assert events.entity_id.tolist() == ["E1", "E1", "E1", "E2", "E2", "E3", "E3"]
    assert events.event.tolist() == ["visit", "signup", "buy", "visit", "signup", "visit", "signup"]
    if engine != "pandas":
        assert isinstance(ds.funnel_events, LAZY[engine])
        eager = kw.read_dataset(tmp_path, columns={"user": "entity_id"})
        pd.testing.assert_frame_equal(
            events, _sorted(eager.funnel_events, ["entity_id", "timestamp"])
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_spark_style_folder_with_hive_partitions(tmp_path, engine):
    # spend.parquet/date=.../part-*.parquet: the date comes from the folder names, read as
    # dates (ISO) on lazy engines and as text parsed by the usual rules on pandas; channel is
    # a partition key too (text). 10 + 5 on 1 January, 7 on 2 January: 22 in all. The export
    # folder sits under a key=value folder of its own (batch=7/): not a column of the table.
    folder = tmp_path / "batch=7"
    for day, channel, amounts in (
        ("2024-01-01", "paid", [10.0]),
        ("2024-01-01", "organic", [5.0]),
        ("2024-01-02", "paid", [7.0]),
    ):
        part = folder / "spend.parquet" / f"date={day}" / f"channel={channel}"
        part.mkdir(parents=True)
        pd.DataFrame({"amount": amounts}).to_parquet(part / "part-0.parquet")
    ds = kw.read_dataset(folder, engine=engine)
    assert _names(ds.spend) == ["amount", "date", "channel"]
    spend = _sorted(ds.spend, ["date", "channel"])
    assert spend.amount.sum() == 22.0
    assert pd.to_datetime(spend.date).dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-01",
        "2024-01-01",
        "2024-01-02",
    ]
    assert spend.channel.tolist() == ["organic", "paid", "paid"]


@pytest.mark.parametrize("engine", list(LAZY))
def test_a_partition_date_that_is_not_iso_is_an_error_on_lazy_engines(tmp_path, engine):
    for day in ("01.02.2024", "26.02.2024"):
        part = tmp_path / "spend" / f"date={day}"
        part.mkdir(parents=True)
        pd.DataFrame({"amount": [1.0]}).to_parquet(part / "part-0.parquet")
    with pytest.raises(ValueError) as error:
        kw.read_dataset(tmp_path, engine=engine)
    message = str(error.value)
    assert "table 'spend', column 'date' (partition folders date=...)" in message
    assert "expected ISO dates" in message and "'01.02.2024'" in message
    assert "engine='pandas'" in message
    # pandas reads the folder names as text: 26.02 proves day-first, so 01.02 is 1 February.
    eager = kw.read_dataset(tmp_path)
    assert sorted(eager.spend.date.dt.strftime("%Y-%m-%d")) == ["2024-02-01", "2024-02-26"]


@pytest.mark.parametrize("engine", ENGINES)
def test_parts_that_differ_are_an_error_naming_both_files(tmp_path, engine):
    parts = tmp_path / "revenue"
    parts.mkdir()
    pd.DataFrame({"account_id": ["A"], "month": _t("2024-01-01"), "mrr": [1.0]}).to_parquet(
        parts / "part-0.parquet"
    )
    pd.DataFrame({"account_id": ["B"], "month": _t("2024-01-01"), "mrr": ["2"]}).to_parquet(
        parts / "part-1.parquet"
    )
    with pytest.raises(ValueError) as error:
        kw.read_dataset(tmp_path, engine=engine)
    message = str(error.value)
    assert "table 'revenue' (revenue/)" in message
    assert "column 'mrr' is double in part-0.parquet but string in part-1.parquet" in message
    # The same with a missing column.
    pd.DataFrame({"account_id": ["B"], "month": _t("2024-01-01")}).to_parquet(
        parts / "part-1.parquet"
    )
    with pytest.raises(ValueError, match=r"column 'mrr' is in part-0\.parquet but not in part-1"):
        kw.read_dataset(tmp_path, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_folder_must_hold_parquet_parts_only(tmp_path, engine):
    parts = _events(tmp_path)
    (parts / "part-2.csv").write_text("user,event,timestamp\nE4,visit,2024-01-01\n")
    with pytest.raises(ValueError, match=r"holds Parquet parts only, found 1 other file\(s\) "):
        kw.read_dataset(tmp_path, engine=engine)


def test_a_file_and_a_folder_for_one_table_is_an_error(tmp_path):
    _events(tmp_path)
    pd.DataFrame({"entity_id": ["E9"]}).to_parquet(tmp_path / "funnel_events.parquet")
    with pytest.raises(ValueError, match=r"funnel_events/ and funnel_events.parquet; keep one"):
        kw.read_dataset(tmp_path, engine="duckdb")


def test_a_folder_of_parquet_that_matches_no_table_is_listed(tmp_path):
    _leads_and_deals(tmp_path)
    _events(tmp_path, name="funnel_event")
    with pytest.warns(UserWarning, match=r"not read: funnel_event/"):
        kw.read_dataset(tmp_path, engine="polars")


# -- what lazy engines refuse ----------------------------------------------------------------


@pytest.mark.parametrize("engine", list(LAZY))
def test_text_files_are_refused_saying_how_to_convert_them(tmp_path, engine):
    _leads_and_deals(tmp_path)
    (tmp_path / "leads.parquet").unlink()
    (tmp_path / "leads.csv").write_text("lead_id;created_at\n007;01-02-2024\n008;26-02-2024\n")
    with pytest.raises(ValueError) as error:
        kw.read_dataset(tmp_path, engine=engine)
    message = str(error.value)
    assert f"engine={engine!r} reads Parquet files only, found leads.csv" in message
    assert "one format per column" in message and "engine='pandas'" in message
    # The conversion it suggests reads the dates by our rules (26-02 proves day-first) and
    # keeps the ids' leading zeros.
    snippet = re.search(r"\n    (kw\.Dataset\(.*)\n", message).group(1)
    assert "sep=';'" in snippet
    (tmp_path / "parquet").mkdir()
    snippet = snippet.replace(str(tmp_path / "leads.parquet"), str(tmp_path / "parquet" / "x"))
    eval(snippet, {"kw": kw, "pd": pd})
    (tmp_path / "parquet" / "x").rename(tmp_path / "parquet" / "leads.parquet")
    leads = _sorted(kw.read_dataset(tmp_path / "parquet", engine=engine).leads, "lead_id")
    assert leads.lead_id.tolist() == ["007", "008"]
    assert leads.created_at.dt.strftime("%Y-%m-%d").tolist() == ["2024-02-01", "2024-02-26"]


@pytest.mark.parametrize("engine", list(LAZY))
def test_a_column_of_the_wrong_kind_is_an_error_saying_how_to_fix_it(tmp_path, engine):
    pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2"],
            "created_at": ["2024-01-05", "2024-01-06"],  # text, not timestamps
            "status": ["won", "lost"],
            "amount": ["1.5", "2"],  # text, not numbers
        }
    ).to_parquet(tmp_path / "opportunities.parquet")
    with pytest.raises(ValueError) as error:
        kw.read_dataset(tmp_path, engine=engine)
    message = str(error.value)
    assert "2 problem(s)" in message
    assert (
        "table 'opportunities', column 'created_at': expected timestamps, found String" in message
    )
    assert "table 'opportunities', column 'amount': expected numbers, found String" in message
    assert "only engine='pandas' does" in message and ".to_parquet(" in message
    # pandas reads the text: ISO dates, decimal points.
    eager = kw.read_dataset(tmp_path)
    assert eager.opportunities.amount.tolist() == [1.5, 2.0]


@pytest.mark.parametrize("engine", list(LAZY))
def test_every_problem_is_listed_in_one_error(tmp_path, engine):
    # A missing required column (Dataset's check) and an unknown stage (read's) together.
    pd.DataFrame({"opportunity_id": ["O1"], "status": ["maybe"], "amount": [1.0]}).to_parquet(
        tmp_path / "opportunities.parquet"
    )
    with pytest.raises(ValueError) as error:
        kw.read_dataset(tmp_path, engine=engine)
    message = str(error.value)
    assert message.startswith("read_dataset: 2 problem(s) with the tables:")
    assert "missing required column(s) 'created_at'" in message and "'maybe'" in message


@pytest.mark.parametrize("engine", list(LAZY))
def test_duplicated_keys_can_only_be_refused_on_a_lazy_table(tmp_path, engine):
    pd.DataFrame(
        {"lead_id": ["L1", "L1", "L2"], "created_at": _t("2024-01-01", "2024-01-02", "2024-01-03")}
    ).to_parquet(tmp_path / "leads.parquet")
    with pytest.raises(ValueError, match=r"found 1 duplicated row\(s\) \(e.g. 'L1'\)"):
        kw.read_dataset(tmp_path, engine=engine)
    with pytest.raises(ValueError, match="a lazy frame has no row order"):
        kw.read_dataset(tmp_path, engine=engine, duplicates="first")
    with pytest.warns(kw.DroppedRowsWarning, match="duplicate lead_id: 1"):
        eager = kw.read_dataset(tmp_path, duplicates="first")  # pandas: in row order
    assert eager.leads.created_at.dt.day.tolist() == [1, 3]


@pytest.mark.parametrize("engine", list(LAZY))
def test_null_ids_are_kept_lazily_and_an_error_with_errors_raise(tmp_path, engine):
    pd.DataFrame(
        {"lead_id": ["L1", None, "L3"], "created_at": _t("2024-01-01", "2024-01-02", None)}
    ).to_parquet(tmp_path / "leads.parquet")
    ds = kw.read_dataset(tmp_path, engine=engine)  # the metrics leave them out and count them
    assert len(to_pandas(ds.leads)) == 3 and ds.dropped == {}
    with pytest.raises(ValueError) as error:
        kw.read_dataset(tmp_path, engine=engine, errors="raise")
    message = str(error.value)
    assert "column 'lead_id': expected no nulls, found 1" in message
    assert "column 'created_at': expected no nulls, found 1" in message


@pytest.mark.parametrize("engine", ENGINES)
def test_times_in_a_zone_are_kept_or_refused_by_duckdb(tmp_path, engine):
    # A's first activity is 1 February 00:30 in Berlin (31 January 23:30 UTC), B's 15 January:
    # in Berlin time the cohorts are January {B} and February {A}. DuckDB would read the
    # instants in UTC (both in January): it refuses the zone instead.
    months = pd.to_datetime(["2024-02-01 00:30", "2024-01-15 00:00"]).tz_localize("Europe/Berlin")
    pd.DataFrame({"account_id": ["A", "B"], "month": months, "mrr": [1.0, 2.0]}).to_parquet(
        tmp_path / "revenue.parquet"
    )
    if engine == "duckdb":
        with pytest.raises(ValueError) as error:
            kw.read_dataset(tmp_path, engine=engine)
        message = str(error.value)
        assert "table 'revenue', column 'month': expected times in UTC or without a zone" in message
        assert "found times in Europe/Berlin" in message and "engine='polars'" in message
        return
    ds = kw.read_dataset(tmp_path, engine=engine)
    table = to_pandas(kw.cohort_retention(ds.revenue, as_of="2024-02-29"))
    first = table[table.period_number == 0]
    assert first.cohort.dt.strftime("%Y-%m-%d %Z").tolist() == ["2024-01-01 CET", "2024-02-01 CET"]
    assert first.cohort_size.tolist() == [1, 1]


def test_duckdb_reads_times_in_utc(tmp_path):
    months = pd.to_datetime(["2024-01-31 23:30", "2024-01-15 00:00"]).tz_localize("UTC")
    pd.DataFrame({"account_id": ["A", "B"], "month": months, "mrr": [1.0, 2.0]}).to_parquet(
        tmp_path / "revenue.parquet"
    )
    ds = kw.read_dataset(tmp_path, engine="duckdb")
    table = to_pandas(kw.cohort_retention(ds.revenue, as_of="2024-01-31 23:59"))
    assert table.cohort_size.tolist() == [2]  # both start in January (UTC)


# -- end to end ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", list(LAZY))
def test_a_funnel_on_a_lazy_folder_table(tmp_path, engine):
    # visit -> signup -> buy within 30 days of the visit:
    # E1 visit 1 Jan, signup 3 Jan, buy 10 Jan: all three steps.
    # E2 visit 2 Jan, signup 1 March: 59 days later, outside the window: visit only.
    # E3 visit 5 Jan, signup 6 Jan: two steps.
    # -> 3, 2, 1 entities; conversion from the first step 1, 2/3, 1/3.
    _events(tmp_path)
    ds = kw.read_dataset(tmp_path, engine=engine, columns={"user": "entity_id"})
    result = kw.funnel(ds.funnel_events, ["visit", "signup", "buy"])
    assert isinstance(result, LAZY[engine])
    table = to_pandas(result).sort_values("step_number")
    assert table.entities.tolist() == [3, 2, 1]
    assert table.conversion_from_first.tolist() == pytest.approx([1, 2 / 3, 1 / 3])
    assert table.drop_off.tolist() == [0, 1, 1]


@pytest.mark.parametrize("engine", list(LAZY))
def test_cohort_retention_on_a_lazy_table(tmp_path, engine):
    # A active Jan, Feb, Mar (100, 100, 120); B Jan and Mar (50, 50); C Feb and Mar (80, 80).
    # January cohort {A, B}: month 0 both, month 1 A only (1/2), month 2 both (2/2);
    #   MRR 150, 100, 170 -> value retention 1, 100/150, 170/150.
    # February cohort {C}: months 0 and 1 retained (1/1), MRR 80, 80.
    pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "B", "B", "C", "C"],
            "month": _t(
                "2024-01-01",
                "2024-02-01",
                "2024-03-01",
                "2024-01-01",
                "2024-03-01",
                "2024-02-01",
                "2024-03-01",
            ),
            "mrr": [100.0, 100.0, 120.0, 50.0, 50.0, 80.0, 80.0],
        }
    ).to_parquet(tmp_path / "revenue.parquet")
    ds = kw.read_dataset(tmp_path, engine=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left out
        result = kw.cohort_retention(ds.revenue, value="mrr", as_of="2024-03-31")
    assert isinstance(result, LAZY[engine])
    table = to_pandas(result).sort_values(["cohort", "period_number"])
    assert pd.to_datetime(table.cohort).dt.month.tolist() == [1, 1, 1, 2, 2]
    assert table.period_number.tolist() == [0, 1, 2, 0, 1]
    assert table.cohort_size.tolist() == [2, 2, 2, 1, 1]
    assert table.retained.tolist() == [2, 1, 2, 1, 1]
    assert table.retention.tolist() == pytest.approx([1, 0.5, 1, 1, 1])
    assert table.value.tolist() == pytest.approx([150, 100, 170, 80, 80])
    assert table.value_retention.tolist() == pytest.approx([1, 100 / 150, 170 / 150, 1, 1])


@pytest.mark.parametrize("engine", list(LAZY))
def test_summary_and_quality_are_computed_by_the_engine(tmp_path, engine):
    _leads_and_deals(tmp_path)
    ds = kw.read_dataset(tmp_path, engine=engine)
    summary = ds.summary().set_index("table")
    assert summary.loc["leads", "rows"] == 3 and summary.loc["opportunities", "rows"] == 3
    assert str(summary.loc["leads", "first"])[:10] == "2024-01-05"
    assert len(ds.quality()) == 0

"""``kw.Dataset`` of polars, polars lazy, DuckDB and Spark frames: the pandas value rules hold.

Closed vocabularies, ``values=`` and presets' stage names, and an open deal's close date moved
to ``expected_close_at`` change what the KPIs count, so they apply to every engine's frames
(``kpiwidgets/datasets/_lazy_values.py``), kept on their engine. Every number below is worked
out by hand in the comments; pandas runs alongside where the rule is the same for it.
"""

from __future__ import annotations

import warnings

import narwhals.stable.v2 as nw
import pandas as pd
import polars as pl
import pytest

import kpiwidgets as kw
from kpiwidgets.datasets import _lazy_values
from tests.conftest import ENGINES
from tests.helpers import to_pandas

OTHER = [name for name in ENGINES if name != "pandas"]  # polars, polars-lazy, duckdb, spark
EVERY = list(ENGINES)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kw.DataQualityWarning)
        yield


def _t(*values):
    return pd.to_datetime(list(values))


def _deals(status, closed=None, **extra):
    n = len(status)
    data = {
        "opportunity_id": [f"O{i + 1}" for i in range(n)],
        "created_at": _t(*[f"2024-01-0{i + 1}" for i in range(n)]),
        "status": status,
        "amount": [100.0 * (i + 1) for i in range(n)],
    }
    if closed is not None:
        data["closed_at"] = _t(*closed)
    data.update(extra)
    return pd.DataFrame(data)


def _frame(engine, frame):
    return ENGINES[engine].convert(frame)


def _column(ds, table, name, by="opportunity_id"):
    out = to_pandas(ds[table]).sort_values(by).reset_index(drop=True)
    return [None if pd.isna(v) else v for v in out[name]]


def _days(values):
    return [None if v is None else pd.Timestamp(v).strftime("%m-%d") for v in values]


def _problem(**kwargs):
    with pytest.raises(ValueError) as error:
        kw.Dataset(**kwargs)
    return str(error.value)


# -- vocabularies and values= ----------------------------------------------------------------


@pytest.mark.parametrize("engine", EVERY)
def test_win_rate_counts_our_values_in_any_case_and_mapped_ones(engine):
    # "Won" and " won " are won (case and surrounding spaces never matter); "Closed Lost" is
    # lost through values= (its key matches ignoring case too); O4 is open. Of the 3 closed
    # deals 2 are won: a win rate of 2/3. Without the rules a polars "Won" counted as not won.
    deals = _deals(
        ["Won", " won ", "Closed Lost", "open"],
        closed=["2024-02-10", "2024-02-20", "2024-02-25", None],
    )
    frame = _frame(engine, deals)
    ds = kw.Dataset(
        opportunities=frame, values={"opportunities": {"status": {"closed LOST": "lost"}}}
    )
    assert isinstance(ds.opportunities, ENGINES[engine].kind)
    assert _column(ds, "opportunities", "status") == ["won", "won", "lost", "open"]
    rate = to_pandas(kw.kpi("opportunity_win_rate", ds))
    assert rate.numerator.tolist() == [2] and rate.denominator.tolist() == [3]
    assert rate.value.tolist() == pytest.approx([2 / 3])


@pytest.mark.parametrize("engine", EVERY)
def test_an_unknown_value_names_table_column_values_count_and_fix(engine):
    # 'maybe' twice, 'Closed Won' once: 2 unknown values in 3 rows, the most frequent first.
    # " WON" is won and a null is no value: neither is named.
    frame = _frame(engine, _deals(["maybe", "Closed Won", " WON", "maybe", None]))
    message = _problem(opportunities=frame)
    assert (
        "table 'opportunities', column 'status': expected one of open, won, lost, found "
        "'maybe', 'Closed Won' (2 unknown values in 3 rows); map your values onto ours with "
        "values={'opportunities': {'status': {'yours': 'ours', ...}}} (or a preset=)"
    ) in message
    fixed = kw.Dataset(
        opportunities=frame,
        values={"opportunities": {"status": {"Maybe": "open", "closed won": "won"}}},
    )
    assert _column(fixed, "opportunities", "status") == ["open", "won", "won", "open", None]


@pytest.mark.parametrize("engine", EVERY)
def test_at_most_five_unknown_values_are_named_most_frequent_first(engine):
    # 7 unknown kinds in 8 rows ('sms' twice): 'sms', then the others in text order, 5 named.
    kinds = ["sms", "fax", "sms", "chat", "post", "visit", "demo", "zoom", "email"]
    touches = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(9)],
            "timestamp": _t(*["2024-01-01"] * 9),
            "kind": kinds,
        }
    )
    message = _problem(touches=_frame(engine, touches))
    assert (
        "column 'kind': expected one of email, call, meeting, content, found 'sms', 'chat', "
        "'demo', 'fax', 'post', ... (7 unknown values in 8 rows)"
    ) in message


@pytest.mark.parametrize("engine", OTHER)
def test_our_own_values_are_matched_ignoring_case_and_spaces(engine):
    touches = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4"],
            "timestamp": _t("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"),
            "kind": [" EMAIL", "Call ", "meeting", "CONTENT"],
        }
    )
    ds = kw.Dataset(touches=_frame(engine, touches))
    assert _column(ds, "touches", "kind", by="lead_id") == ["email", "call", "meeting", "content"]


@pytest.mark.parametrize("engine", OTHER)
def test_values_map_any_text_column_and_keep_the_values_they_do_not_name(engine):
    # "Web " and "WEB" are web -> website; "events" is not named: kept; a null stays null.
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4"],
            "created_at": _t("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"),
            "channel": ["Web ", "WEB", "events", None],
        }
    )
    ds = kw.Dataset(leads=_frame(engine, leads), values={"leads": {"channel": {"web": "website"}}})
    assert _column(ds, "leads", "channel", by="lead_id") == ["website", "website", "events", None]


@pytest.mark.parametrize("engine", EVERY)
def test_a_value_mapped_onto_none_is_null_and_not_a_vocabulary_error(engine):
    frame = _frame(engine, _deals(["won", "n/a"]))
    ds = kw.Dataset(opportunities=frame, values={"opportunities": {"status": {"N/A": None}}})
    assert _column(ds, "opportunities", "status") == ["won", None]


@pytest.mark.parametrize("engine", OTHER)
def test_values_map_text_onto_text_only(engine):
    frame = _frame(engine, _deals(["won", "lost"], score=[1, 2]))
    message = _problem(opportunities=frame, values={"opportunities": {"status": {"won": 1}}})
    assert "table 'opportunities', column 'status': values= maps text onto text" in message
    message = _problem(opportunities=frame, values={"opportunities": {"score": {1: "one"}}})
    assert "table 'opportunities', column 'score': values= maps text, found Int64" in message
    assert "cast the column to text first" in message


@pytest.mark.parametrize("engine", OTHER)
def test_a_preset_maps_stage_names_and_moves_open_close_dates(engine):
    # A Salesforce report: "Closed Won" -> won, "closed lost" -> lost, "Prospecting" -> open,
    # whose Close Date (30 June) is when it is expected to close. "My Stage" is no standard
    # stage: named in the error, and values= on top of the preset maps it.
    export = pd.DataFrame(
        {
            "Opportunity ID": ["D1", "D2", "D3", "D4"],
            "Created Date": _t("2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"),
            "Close Date": _t("2024-03-01", "2024-03-05", "2024-06-30", "2024-07-01"),
            "Stage": ["Closed Won", "closed lost", "Prospecting", "My Stage"],
            "Amount": [500.0, 70.0, 30.0, 9.0],
        }
    )
    frame = _frame(engine, export)
    message = _problem(opportunities=frame, preset="salesforce")
    assert (
        "column 'status': expected one of open, won, lost, found 'My Stage' (1 unknown" in message
    )
    ds = kw.Dataset(
        opportunities=frame,
        preset="salesforce",
        values={"opportunities": {"status": {"my stage": "open"}}},
    )
    assert _column(ds, "opportunities", "status") == ["won", "lost", "open", "open"]
    assert _days(_column(ds, "opportunities", "closed_at")) == ["03-01", "03-05", None, None]
    assert _days(_column(ds, "opportunities", "expected_close_at")) == [
        None,
        None,
        "06-30",
        "07-01",
    ]


@pytest.mark.parametrize("engine", ["polars", "polars-lazy"])
def test_categorical_and_enum_columns_are_mapped_as_text(engine):
    frame = pl.from_pandas(_deals(["Won", "LOST"])).with_columns(
        pl.col("status").cast(pl.Categorical)
    )
    exact = pl.from_pandas(_deals(["won", "lost"])).with_columns(
        pl.col("status").cast(pl.Enum(["open", "won", "lost"]))
    )
    if engine == "polars-lazy":
        frame, exact = frame.lazy(), exact.lazy()
    ds = kw.Dataset(opportunities=frame)
    assert _column(ds, "opportunities", "status") == ["won", "lost"]
    kept = kw.Dataset(opportunities=exact).opportunities
    assert kept is exact  # already ours: the frame is kept as it is


def test_more_distinct_values_than_are_collected_is_an_error(monkeypatch):
    # The distinct values are collected to map them exactly; past the limit (2 here) the
    # column is refused, never mapped in part.
    assert _lazy_values.MAX_DISTINCT == 10_000  # as the docs say
    monkeypatch.setattr(_lazy_values, "MAX_DISTINCT", 2)
    frame = pl.from_pandas(_deals(["a", "b", "c"])).lazy()
    message = _problem(opportunities=frame)
    assert "column 'status': expected one of open, won, lost, found more than 2 other" in message
    leads = pl.LazyFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "created_at": _t(*["2024-01-01"] * 3),
            "channel": list("xyz"),
        }
    )
    message = _problem(leads=leads, values={"leads": {"channel": {"x": "web"}}})
    assert "column 'channel': more than 2 distinct values to map with values=" in message
    monkeypatch.setattr(_lazy_values, "MAX_DISTINCT", 3)
    ds = kw.Dataset(leads=leads, values={"leads": {"channel": {"x": "web"}}})
    assert _column(ds, "leads", "channel", by="lead_id") == ["web", "y", "z"]


# -- open deals ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", EVERY)
def test_an_open_deals_close_date_is_expected_and_the_pipeline_counts_it_open(engine):
    # O1, O2 won in February, O3 "Prospecting" (open through values=) with a close date of
    # 15 February: when it is expected to close, so it is still open at the end of February.
    # pipeline_volume: 3 open at the end of January, 1 (O3) at the end of February.
    # pipeline_coverage for February (quota 600): open at 1 February and expected to close in
    # February: O3 alone, amount 300 -> 300 / 600 = 0.5.
    deals = _deals(["won", "won", "Prospecting"], closed=["2024-02-10", "2024-02-20", "2024-02-15"])
    quotas = pd.DataFrame({"owner": ["A"], "period": _t("2024-02-01"), "quota": [600.0]})
    ds = kw.Dataset(
        opportunities=_frame(engine, deals),
        quotas=_frame(engine, quotas),
        values={"opportunities": {"status": {"prospecting": "open"}}},
    )
    assert _days(_column(ds, "opportunities", "closed_at")) == ["02-10", "02-20", None]
    assert _days(_column(ds, "opportunities", "expected_close_at")) == [None, None, "02-15"]
    volume = to_pandas(kw.kpi("pipeline_volume", ds, period="M"))
    assert volume.value.tolist() == [3, 1]
    coverage = to_pandas(kw.kpi("pipeline_coverage", ds, period="M"))
    assert coverage.numerator.tolist() == [300] and coverage.value.tolist() == [0.5]


@pytest.mark.parametrize("engine", EVERY)
def test_a_given_expected_close_at_wins_over_the_moved_close_date(engine):
    # O1 open, closed 15 Feb, expected 31 March: keeps 31 March. O2 open, closed 20 Feb, no
    # expected date: 20 Feb. O3 won: keeps its close date and its (odd) expected date.
    deals = _deals(
        ["open", "open", "won"],
        closed=["2024-02-15", "2024-02-20", "2024-02-25"],
        expected_close_at=_t("2024-03-31", None, "2024-04-01"),
    )
    ds = kw.Dataset(opportunities=_frame(engine, deals))
    assert _days(_column(ds, "opportunities", "closed_at")) == [None, None, "02-25"]
    assert _days(_column(ds, "opportunities", "expected_close_at")) == ["03-31", "02-20", "04-01"]


@pytest.mark.parametrize("engine", OTHER)
def test_without_an_open_deals_close_date_the_frame_is_kept_as_it_is(engine):
    # As on pandas, expected_close_at is only added when an open deal has a close date.
    frame = _frame(engine, _deals(["won", "open"], closed=["2024-02-01", None]))
    ds = kw.Dataset(opportunities=frame)
    assert ds.opportunities is frame
    assert "expected_close_at" not in nw.from_native(frame).collect_schema().names()


# -- errors= ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", OTHER)
def test_null_ids_are_kept_for_the_metrics_and_an_error_with_errors_raise(engine):
    leads = pd.DataFrame(
        {"lead_id": ["L1", None, "L3"], "created_at": _t("2024-01-01", "2024-01-02", None)}
    )
    frame = _frame(engine, leads)
    ds = kw.Dataset(leads=frame)  # nothing dropped here: the metrics leave them out, counted
    assert len(to_pandas(ds.leads)) == 3 and ds.dropped == {}
    message = _problem(leads=frame, errors="raise")
    assert "table 'leads', column 'lead_id': expected no nulls, found 1" in message
    assert "table 'leads', column 'created_at': expected no nulls, found 1" in message


# -- read_dataset relies on Dataset ----------------------------------------------------------


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_read_dataset_maps_values_through_dataset(tmp_path, engine):
    pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "created_at": _t("2024-01-01", "2024-01-02", "2024-01-03"),
            "channel": ["Paid ", "organic", "PAID"],
        }
    ).to_parquet(tmp_path / "leads.parquet")
    options = {"values": {"leads": {"channel": {"paid": "ads"}}}}
    ds = kw.read_dataset(tmp_path, engine=engine, **options)
    eager = kw.read_dataset(tmp_path, **options)
    assert _column(ds, "leads", "channel", by="lead_id") == ["ads", "organic", "ads"]
    assert _column(eager, "leads", "channel", by="lead_id") == ["ads", "organic", "ads"]

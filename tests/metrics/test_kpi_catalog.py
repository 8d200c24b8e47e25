"""Every KPI of ``kw.kpi_catalog()``, checked by the same rules (a new KPI is covered as soon
as it is registered): on the demo, for every period and every breakdown its entry allows,
the output has the documented shape, values in the range its unit and formula allow, NaN
only for a zero denominator, breakdowns that add up to the overall number where the KPI is
a sum over a partition of its rows, and the same numbers on pandas and on polars lazy frames.
Plus the catalog's own metadata and ``kw.kpi_table``.

What the numbers must be is pinned elsewhere (independent SQL in test_kpi_sql.py); this file
checks that every KPI obeys its own definition and the catalog's contract.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest

import kpiwidgets as kw

pytestmark = [
    pytest.mark.filterwarnings("ignore::kpiwidgets.DroppedRowsWarning"),
    pytest.mark.filterwarnings("ignore::kpiwidgets.DataQualityWarning"),
]

CATALOG = kw.kpi_catalog()
ENTRIES = {row["name"]: row for row in CATALOG.to_dict("records")}
PERIODS = (None, "M", "Q", "Y")
# Every unit the range check below knows (a new unit needs its rule here).
KNOWN_UNITS = {"count", "currency", "ratio", "multiple", "days", "minutes", "months", "touches"}
GROUPS = {"marketing", "sales", "customers"}

# -- ranges -----------------------------------------------------------------------------------
# A ratio is in [0, 1] unless its formula lets it leave that range; these are the exceptions,
# name -> (lowest value, why it is not capped at 1).
UNBOUNDED_RATIOS = {
    "net_revenue_retention": (0.0, "expansion: opening customers can pay more at the close"),
    "revenue_growth": (-1.0, "revenue / previous revenue − 1: from −1 (none) up, unbounded"),
    "marketing_roi": (-1.0, "(revenue − spend) / spend: from −1 (no revenue) up, unbounded"),
    # These two are unit "multiple" now (≥ 0, no cap, like every non-ratio unit); listed in
    # case they are ratios again.
    "pipeline_coverage": (0.0, "open pipeline / quota: 3× coverage is the usual goal"),
    "clv_to_cac": (0.0, "lifetime value / acquisition cost: healthy is 3 or more"),
    "visit_to_lead_rate": (
        0.0,
        "leads / sessions come from two tables; nothing makes every lead one of the sessions",
    ),
}
# Non-ratio units are never negative: amounts, spend, durations (negative ones are left out)
# and counts. No KPI's formula allows a negative currency, duration or count today.
NEGATIVE_ALLOWED: dict[str, str] = {}
# Built from two KPI values (each possibly NaN itself): NaN also when an input is NaN.
COMPOSITE = {"clv_to_cac", "cac_payback_months"}


def expected_value(name: str, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``value`` from ``numerator`` and ``denominator`` as the formula says (den > 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = num / den
    if name in ("revenue_growth", "marketing_roi"):
        return share - 1.0
    if name == "forecast_accuracy":  # max(0, 1 − |ΣF − ΣA| / ΣA)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.maximum(0.0, 1.0 - np.abs(num - den) / den)
    return share


# -- additivity ---------------------------------------------------------------------------------
# Breakdowns partition the rows a KPI is a sum over: every lead, deal, spend row, stat row,
# stage entry, opening customer or open deal falls in exactly one group (a null breakdown value
# is a group of its own), so the groups' numerators and denominators (or values, for counts
# and totals) and ``n`` add up to the overall ones, period by period.
ADDITIVE = {
    "leads": "count of leads",
    "mqls": "count of leads by mql_at",
    "sqls": "count of leads by sql_at",
    "cost_per_lead": "Σ spend / Σ leads, both split by channel or campaign",
    "cost_per_opportunity": "Σ spend / Σ opportunities",
    "lead_to_mql_rate": "share of the leads",
    "mql_to_sql_rate": "share of the MQLs",
    "mql_to_opportunity_rate": "share of the MQLs",
    "lead_to_opportunity_rate": "share of the leads",
    "end_to_end_conversion": "share of the leads",
    "response_within_5_min": "share of the leads",
    "click_through_rate": "Σ clicks / Σ impressions of the stats rows",
    "email_open_rate": "Σ opened / Σ sent",
    "engagement_rate": "Σ engagements / Σ impressions",
    "visit_to_lead_rate": "Σ leads / Σ sessions",
    "opportunity_win_rate": "share of the closed deals",
    "closed_deal_ratio": "share of the deals created",
    "revenue": "Σ amount of the won deals",
    "product_revenue": "Σ amount of the won deals",
    "average_order_value": "Σ amount / count of the won deals",
    "pipeline_value": "Σ amount of the open deals at each snapshot (one grid for all groups)",
    "pipeline_volume": "count of the open deals at each snapshot",
    "pipeline_coverage": "Σ open pipeline / Σ quota, per owner",
    "marketing_roi": "Σ attributed revenue and Σ spend (the value is their ratio − 1)",
    "customer_retention_rate": "share of the opening customers (one group per account)",
    "churn_rate": "share of the opening customers",
    "net_revenue_retention": "Σ closing MRR / Σ opening MRR of the opening customers",
    "gross_revenue_retention": "Σ min(end, start) / Σ start of the opening customers",
    "revenue_per_account": "Σ MRR / count of the closing customers",
    "customer_acquisition_cost": "Σ spend / count of new customers",
    "forecast_accuracy": "ΣF and ΣA add up over owners (the value is not their ratio)",
    "stage_conversion": "share of the stage entries",
    "backward_moves": "count of the moves back (stage entries)",
}
# Medians: the value does not add up, but ``n`` (values behind it) does, and the overall
# median lies between the smallest and the largest group median.
MEDIANS = {
    "lead_response_time": "median minutes",
    "touches_to_first_meeting": "median touches",
    "sales_cycle_length": "median days",
    "time_in_stage": "median days",
}
NOT_ADDITIVE = {
    "customer_lifetime_value": "ARPA / churn rate: a ratio of two ratios",
    "clv_to_cac": "CLV / CAC: a ratio of ratios",
    "cac_payback_months": "CAC / ARPA: a ratio of ratios",
    "revenue_growth": "each group against its own previous period (groups come and go)",
    # The denominator is the whole in every row; checked instead: numerators add up and the
    # shares of a period sum to 1.
    "revenue_share": "share of the whole",
}
# No breakdown at all: revenue_concentration (Herfindahl), content_usage_rate (cross join).


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return kw.load_demo(n_leads=2_000)


@pytest.fixture(scope="module")
def demo_lazy(demo):
    return {name: pl.from_pandas(demo[name]).lazy() for name in demo.tables}


def cases():
    for name, entry in ENTRIES.items():
        for period in PERIODS:
            if period is None and entry["needs_period"]:
                continue
            yield pytest.param(name, period, id=f"{name}-{period or 'all'}")


def breakdowns(entry) -> list:
    """None (the KPI's default), [] (overall, when the default is a breakdown), each by."""
    out: list = [None]
    if isinstance(entry["default_by"], str):
        out.append([])
    return out + list(entry["by"])


def key_columns(entry, by, period) -> list[str]:
    if by is None:
        by = [entry["default_by"]] if isinstance(entry["default_by"], str) else []
    elif isinstance(by, str):
        by = [by]
    return (["period"] if period else []) + list(by)


def label(by) -> str:
    return {"None": "default breakdown", "[]": "overall"}.get(repr(by), f"by={by!r}")


def normalized(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.reset_index(drop=True).copy()
    for k in keys:
        if k == "period":
            frame[k] = pd.to_datetime(frame[k]).astype("datetime64[ns]")
        else:
            frame[k] = frame[k].astype(object).where(frame[k].notna(), None)
    return frame


def assert_same(got: pd.DataFrame, expected: pd.DataFrame, keys: list[str], what: str) -> None:
    assert list(got.columns) == list(expected.columns), what
    assert len(got) == len(expected), f"{what}: {len(got)} rows, expected {len(expected)}"
    got, expected = normalized(got, keys), normalized(expected, keys)
    for k in keys:
        assert got[k].tolist() == expected[k].tolist(), f"{what}: {k}"
    for c in got.columns.difference(keys):
        np.testing.assert_allclose(
            got[c].to_numpy(float),
            expected[c].to_numpy(float),
            rtol=1e-9,
            atol=1e-9,
            equal_nan=True,
            err_msg=f"{what}: {c}",
        )


# -- one KPI, one period: every breakdown, both engines -------------------------------------------


def check_shape(entry, got: pd.DataFrame, keys: list[str], period, what: str) -> None:
    cols = list(got.columns)
    assert cols[: len(keys)] == keys, what
    rest = cols[len(keys) :]
    assert rest in (["value", "n"], ["value", "numerator", "denominator", "n"]), what
    if keys:
        assert not got.duplicated(keys).any(), f"{what}: duplicate keys"
    else:
        assert len(got) == 1, f"{what}: {len(got)} rows without keys"
    assert len(got) > 0, f"{what}: no rows on the demo"
    assert pd.api.types.is_integer_dtype(got["n"]), f"{what}: n is {got['n'].dtype}"
    assert (got["n"] >= 0).all(), what
    if period:
        starts = pd.to_datetime(got["period"])
        assert starts.notna().all(), what
        assert (starts == starts.dt.normalize()).all() and (starts.dt.day == 1).all(), what
        months = {"M": set(range(1, 13)), "Q": {1, 4, 7, 10}, "Y": {1}}[period]
        assert set(starts.dt.month) <= months, f"{what}: periods {sorted(set(starts))}"
        assert starts.is_monotonic_increasing, f"{what}: not sorted by period"


def check_values(entry, got: pd.DataFrame, what: str) -> None:
    name, unit = entry["name"], entry["unit"]
    value = got["value"].to_numpy(float)
    assert not np.isinf(value).any(), what
    if "denominator" in got:
        num = got["numerator"].to_numpy(float)
        den = got["denominator"].to_numpy(float)
        undefined = den <= 0
        if name in COMPOSITE:
            undefined |= np.isnan(den) | np.isnan(num)
        else:
            assert not np.isnan(num).any() and not np.isnan(den).any(), what
        np.testing.assert_array_equal(np.isnan(value), undefined, err_msg=f"{what}: NaN rule")
        ok = ~undefined
        np.testing.assert_allclose(
            value[ok], expected_value(name, num[ok], den[ok]), rtol=1e-9, err_msg=what
        )
    else:
        assert not np.isnan(value).any(), f"{what}: NaN without a denominator"
    value = value[~np.isnan(value)]
    if unit == "ratio":
        low = UNBOUNDED_RATIOS.get(name, (0.0,))[0]
        assert (value >= low - 1e-12).all(), f"{what}: below {low}: {value.min()}"
        if name not in UNBOUNDED_RATIOS:
            assert (value <= 1 + 1e-12).all(), f"{what}: above 1: {value.max()}"
    elif name not in NEGATIVE_ALLOWED:
        assert (value >= 0).all(), f"{what}: negative {unit}: {value.min()}"
    if unit == "count":
        assert (value == np.round(value)).all(), f"{what}: fractional count"
        np.testing.assert_array_equal(got["value"], got["n"], err_msg=f"{what}: count ≠ n")
    if unit == "touches":  # a median of whole numbers: whole or halfway
        assert (value * 2 == np.round(value * 2)).all(), what


def sums_by_period(frame: pd.DataFrame, period, columns: list[str]) -> pd.DataFrame:
    if period:
        return frame.groupby("period")[columns].sum()
    return frame[columns].sum().to_frame().T.rename(index={0: "all"})


def check_breakdown(entry, overall: pd.DataFrame, split: pd.DataFrame, by, period, what) -> None:
    name = entry["name"]
    if period:
        extra = set(split["period"]) - set(overall["period"])
        assert not extra, f"{what}: periods only in the breakdown: {sorted(extra)}"
    if name in ADDITIVE or name in MEDIANS or name == "revenue_share":
        if name in ADDITIVE:
            cols = ["numerator", "denominator", "n"] if "denominator" in overall else ["value", "n"]
        elif name in MEDIANS:
            cols = ["n"]
        else:
            cols = ["numerator"]
        parts = sums_by_period(split, period, cols)
        whole = overall.set_index("period")[cols] if period else overall[cols]
        if not period:
            whole = whole.rename(index={0: "all"})
        parts = parts.reindex(whole.index).fillna(0)
        for c in cols:
            np.testing.assert_allclose(
                parts[c].to_numpy(float),
                whole[c].to_numpy(float),
                rtol=1e-9,
                atol=1e-6,
                err_msg=f"{what}: Σ {c} over {by} ≠ overall",
            )
    if name in MEDIANS:  # the overall median lies between the groups' medians
        key = split["period"] if period else pd.Series("all", index=split.index)
        bounds = split["value"].groupby(key).agg(["min", "max"])
        whole = overall.set_index("period")["value"] if period else overall["value"]
        whole = whole.set_axis(["all"]) if not period else whole.reindex(bounds.index)
        assert ((bounds["min"] <= whole + 1e-9) & (whole <= bounds["max"] + 1e-9)).all(), what
    if name == "revenue_share":
        shares = sums_by_period(split, period, ["value"])["value"]
        np.testing.assert_allclose(shares.to_numpy(float), 1.0, rtol=1e-9, err_msg=what)


@pytest.mark.parametrize(("name", "period"), list(cases()))
def test_every_kpi_every_breakdown(demo, demo_lazy, name, period):
    entry = ENTRIES[name]
    results = {}
    for by in breakdowns(entry):
        what = f"{name} period={period} {label(by)}"
        keys = key_columns(entry, by, period)
        got = kw.kpi(name, demo, by=by, period=period)
        assert isinstance(got, pd.DataFrame), what
        check_shape(entry, got, keys, period, what)
        check_values(entry, got, what)
        lazy = kw.kpi(name, demo_lazy, by=by, period=period)
        assert isinstance(lazy, pl.LazyFrame), f"{what}: lazy in, {type(lazy)} out"
        assert_same(lazy.collect().to_pandas(), got, keys, f"{what}: polars lazy vs pandas")
        results[repr(by)] = got
    default_by = entry["default_by"]
    if isinstance(default_by, str):
        keys = key_columns(entry, default_by, period)
        assert_same(results["None"], results[repr(default_by)], keys, f"{name}: default_by")
        overall = results["[]"]
    else:
        overall = results["None"]
    for by in entry["by"]:
        check_breakdown(entry, overall, results[repr(by)], by, period, f"{name} {period} {by}")


@pytest.mark.parametrize("engine", ["pandas", "polars-lazy"])
@pytest.mark.parametrize("name", [n for n, e in ENTRIES.items() if e["needs_period"]])
def test_kpis_comparing_periods_refuse_no_period(demo, demo_lazy, name, engine):
    data = demo if engine == "pandas" else demo_lazy
    with pytest.raises(ValueError, match="period"):
        kw.kpi(name, data)


# -- the catalog itself ---------------------------------------------------------------------------


def test_catalog_columns_and_names():
    assert list(CATALOG.columns)[:12] == [
        "name",
        "label",
        "group",
        "formula",
        "unit",
        "better",
        "tables",
        "period_by",
        "by",
        "default_by",
        "options",
        "needs_period",
    ]
    assert CATALOG["name"].is_unique
    assert CATALOG["name"].str.fullmatch(r"[a-z][a-z0-9_]*").all()


@pytest.mark.parametrize("name", list(ENTRIES))
def test_catalog_entry(name):
    e = ENTRIES[name]
    for text in ("label", "formula", "period_by"):
        assert isinstance(e[text], str) and e[text].strip(), text
    assert e["unit"] in KNOWN_UNITS
    assert e["better"] in ("higher", "lower")
    assert e["group"] in GROUPS
    assert e["tables"] and set(e["tables"]) <= set(kw.TABLES), e["tables"]
    assert len(set(e["tables"])) == len(e["tables"])
    assert isinstance(e["needs_period"], (bool, np.bool_))
    assert all(isinstance(b, str) for b in e["by"]) and len(set(e["by"])) == len(e["by"])
    default_by = e["default_by"]
    assert (
        default_by is None
        or (isinstance(default_by, float) and math.isnan(default_by))
        or (default_by in e["by"])
    )
    for option, spec in e["options"].items():
        assert isinstance(option, str) and option.isidentifier()
        assert isinstance(spec, tuple) and len(spec) == 2, f"{option}: (default, description)"
        assert isinstance(spec[1], str) and spec[1].strip(), f"{option}: no description"
    # Every KPI with a breakdown is classified for the additivity check (a new one must be).
    if e["by"]:
        assert name in {**ADDITIVE, **MEDIANS, **NOT_ADDITIVE}, f"classify {name} above"


@pytest.mark.parametrize("name", [n for n, e in ENTRIES.items() if e["options"]])
def test_options_defaults_are_the_defaults(demo_lazy, name):
    e = ENTRIES[name]
    period = "Q"
    plain = kw.kpi(name, demo_lazy, period=period).collect().to_pandas()
    defaults = {k: spec[0] for k, spec in e["options"].items()}
    explicit = kw.kpi(name, demo_lazy, period=period, **defaults).collect().to_pandas()
    assert_same(explicit, plain, key_columns(e, None, period), name)
    with pytest.raises(TypeError, match="unknown option"):
        kw.kpi(name, demo_lazy, period=period, no_such_option=1)


@pytest.mark.parametrize("name", [n for n, e in ENTRIES.items() if e["by"]])
def test_breakdown_not_allowed_is_refused(demo_lazy, name):
    with pytest.raises(ValueError, match="not a breakdown it allows"):
        kw.kpi(name, demo_lazy, by="no_such_column", period="Y")


def _tables_cases():
    for name in ENTRIES:
        yield pytest.param(name, id=name)


@pytest.mark.parametrize("name", list(_tables_cases()))
def test_catalog_tables_are_all_a_kpi_reads(demo_lazy, name):
    """With only its catalog tables, a KPI computes with every breakdown it allows."""
    e = ENTRIES[name]
    data = {t: demo_lazy[t] for t in e["tables"]}
    for by in [None, *e["by"]]:
        kw.kpi(name, data, by=by, period="Q").collect()


# -- a null breakdown value is a group like any other ---------------------------------------------

NONE = "~none"
BREAKDOWN_COLUMNS = sorted({b for e in ENTRIES.values() for b in e["by"]})
# Where a KPI joins two of its parts on the keys, a null key must still match a null.


@pytest.fixture(scope="module")
def demo_with_nulls(demo):
    """The demo with a quarter of every optional breakdown column nulled (lazy), and the
    same data with those nulls written as the value ``NONE``."""
    rng = np.random.default_rng(3)
    nulls, named = {}, {}
    for table in demo.tables:
        frame = demo[table].copy()
        columns = [
            c for c in BREAKDOWN_COLUMNS if c in frame and not kw.TABLES[table].column(c).required
        ]
        for c in columns:
            frame[c] = frame[c].astype(object).where(rng.random(len(frame)) >= 0.25, None)
        nulls[table] = pl.from_pandas(frame).lazy()
        for c in columns:
            frame[c] = frame[c].where(frame[c].notna(), NONE)
        named[table] = pl.from_pandas(frame).lazy()
    return nulls, named


def _null_cases():
    for name, e in ENTRIES.items():
        for by in e["by"]:
            yield pytest.param(name, by, id=f"{name}-{by}")


@pytest.mark.parametrize(("name", "by"), list(_null_cases()))
def test_a_null_breakdown_value_is_a_group_of_its_own(demo_with_nulls, name, by):
    """The same numbers whether a missing channel (segment, ...) is null or a named value."""
    nulls, named = demo_with_nulls
    got = kw.kpi(name, nulls, by=by, period="Y").collect().to_pandas()
    expected = kw.kpi(name, named, by=by, period="Y").collect().to_pandas()
    expected[by] = expected[by].where(expected[by] != NONE, None)
    keys = ["period", by]
    got = got.sort_values(keys, na_position="last")
    expected = expected.sort_values(keys, na_position="last")
    assert_same(got, expected, keys, f"{name} by {by}")


# -- kpi_table -------------------------------------------------------------------------------------


def _overall(name: str, data, period, by=None) -> pd.DataFrame:
    use = [by] if by is not None and by in ENTRIES[name]["by"] else []
    return kw.kpi(name, data, by=use, period=period).collect().to_pandas()


def test_kpi_table_defaults_to_the_whole_catalog(demo, demo_lazy):
    table = kw.kpi_table(demo, period="Y")
    assert list(table.columns) == ["kpi", "period", "value", "numerator", "denominator", "n"]
    assert list(dict.fromkeys(table["kpi"])) == list(CATALOG["name"])
    assert table.attrs["skipped"] == {}
    for name, rows in table.groupby("kpi", sort=False):
        expected = _overall(name, demo_lazy, "Y")  # overall: no default breakdown here
        assert_same(rows[expected.columns], expected, ["period"], name)


def test_kpi_table_by_applies_only_where_allowed(demo_lazy):
    table = kw.kpi_table(demo_lazy, period="Q", by="channel")  # lazy in, pandas out
    assert isinstance(table, pd.DataFrame)
    assert "channel" in table
    assert list(dict.fromkeys(table["kpi"])) == list(CATALOG["name"])
    for name, rows in table.groupby("kpi", sort=False):
        allowed = "channel" in ENTRIES[name]["by"]
        if allowed:
            assert rows["channel"].notna().any(), name
            keys = ["period", "channel"]
        else:
            assert rows["channel"].isna().all(), f"{name} does not allow channel"
            keys = ["period"]
        expected = _overall(name, demo_lazy, "Q", by="channel")
        assert_same(rows[expected.columns], expected, keys, name)


@pytest.mark.parametrize("missing", ["spend", "revenue", "stage_history", "campaign_stats"])
def test_kpi_table_skips_the_kpis_of_a_missing_table(demo_lazy, missing):
    data = {t: f for t, f in demo_lazy.items() if t != missing}
    blocked = {n for n, e in ENTRIES.items() if missing in e["tables"]}
    assert blocked
    table = kw.kpi_table(data, period="Q", errors="skip")
    assert set(table.attrs["skipped"]) == blocked
    assert all(missing in reason for reason in table.attrs["skipped"].values())
    assert set(table["kpi"]) == set(ENTRIES) - blocked
    with pytest.raises(ValueError, match=missing):
        kw.kpi_table(data, period="Q")  # errors="raise" (the default)


def test_kpi_table_without_a_period(demo_lazy):
    table = kw.kpi_table(demo_lazy, period=None, errors="skip")
    whole_range = {n for n, e in ENTRIES.items() if not e["needs_period"]}
    assert whole_range <= set(table["kpi"])

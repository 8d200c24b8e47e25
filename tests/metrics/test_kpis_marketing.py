"""The marketing KPIs of ``kw.kpi``, each pinned by hand on tiny tables written here.

Every expected number is worked out in the comment next to it from the tables below; dates
are midnight unless a time is given. Checked per KPI: the overall value with its numerator,
denominator and ``n``; ``period="M"`` and ``"Q"``; a ``by`` breakdown; the [start, end) edges
(a row exactly at ``start`` is in, exactly at ``end`` out, so an off-by-one at either edge
changes the answer); then the rules of single KPIs (options, NaN, dropped rows, errors).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings

import pandas as pd
import pytest

import kpiwidgets as kw
from kpiwidgets import DroppedRowsWarning
from kpiwidgets.metrics.kpis import MissingTable

NaN = float("nan")

MARKETING = [
    "leads",
    "cost_per_lead",
    "cost_per_opportunity",
    "mqls",
    "sqls",
    "lead_to_mql_rate",
    "mql_to_sql_rate",
    "mql_to_opportunity_rate",
    "lead_to_opportunity_rate",
    "end_to_end_conversion",
    "lead_response_time",
    "response_within_5_min",
    "touches_to_first_meeting",
    "click_through_rate",
    "email_open_rate",
    "engagement_rate",
    "visit_to_lead_rate",
    "content_usage_rate",
    "marketing_roi",
]


def _frame(columns: str, rows: list[tuple], times: str = "") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns.split())
    for c in times.split():
        frame[c] = pd.to_datetime(frame[c], format="ISO8601")
    return frame


# -- the tables --------------------------------------------------------------------------------

# Five leads. L3 became an opportunity without being an MQL; L2 never got further than MQL.
LEADS = _frame(
    "lead_id created_at channel campaign owner segment mql_at sql_at opportunity_id",
    [
        ("L1", "2024-01-05", "ads", "a1", "ann", "smb", "2024-01-10", "2024-02-01", "O1"),
        ("L2", "2024-01-20", "seo", "s1", "bob", "ent", "2024-02-10", None, None),
        ("L3", "2024-02-03", "ads", "a1", "ann", "smb", None, None, "O3"),
        ("L4", "2024-04-02", "ads", "a2", "bob", "ent", "2024-04-05", "2024-04-09", "O2"),
        ("L5", "2024-04-15", "seo", "s1", "ann", "ent", "2024-05-01", "2024-05-02", None),
    ],
    "created_at mql_at sql_at",
)

# Marketing spend 300 + 90 + 60 + 240 = 690; the 1 000 of team "sales" is never counted.
# March has spend but no lead and no opportunity.
SPEND = _frame(
    "date channel campaign team amount",
    [
        ("2024-01-01", "ads", "a1", "marketing", 300.0),
        ("2024-01-15", "seo", "s1", "marketing", 90.0),
        ("2024-02-01", "ads", "a1", "sales", 1000.0),
        ("2024-03-01", "ads", "a1", "marketing", 60.0),
        ("2024-04-01", "ads", "a2", "marketing", 240.0),
    ],
    "date",
)

# O3 is L3's deal, but assigned to channel "seo". Won: O1 and O3.
OPPORTUNITIES = _frame(
    "opportunity_id lead_id channel created_at closed_at status amount",
    [
        ("O1", "L1", "ads", "2024-01-25", "2024-03-10", "won", 1000.0),
        ("O2", "L4", "ads", "2024-04-10", "2024-05-20", "lost", 500.0),
        ("O3", "L3", "seo", "2024-02-10", "2024-04-15", "won", 2000.0),
    ],
    "created_at closed_at",
)

# First meetings: L1 2024-01-05 (2 touches before it; the email after and the second meeting
# are not counted), L2 2024-02-10 (4 touches, two of them content), L3 2024-04-03 (0),
# L4 2024-04-20 10:00 (1: the call at the meeting's own time is not before it). L5 never met.
TOUCHES = _frame(
    "lead_id timestamp kind content_id",
    [
        ("L1", "2024-01-02", "email", None),
        ("L1", "2024-01-03", "call", None),
        ("L1", "2024-01-05", "meeting", None),
        ("L1", "2024-01-06", "email", None),
        ("L1", "2024-02-01", "meeting", None),
        ("L2", "2024-01-10", "content", "C1"),
        ("L2", "2024-01-11", "call", None),
        ("L2", "2024-01-20", "content", "C1"),
        ("L2", "2024-02-05", "content", "C2"),
        ("L2", "2024-02-10", "meeting", None),
        ("L3", "2024-04-03", "meeting", None),
        ("L4", "2024-04-10", "content", "C3"),
        ("L4", "2024-04-20 10:00", "call", None),
        ("L4", "2024-04-20 10:00", "meeting", None),
        ("L5", "2024-04-16", "email", None),
    ],
    "timestamp",
)

# Content used: C1 (twice in January: one item), C2 in February, C3 in April; C4 is never used
# and is created exactly at April's end.
CONTENT = _frame(
    "content_id created_at",
    [
        ("C1", "2023-12-01"),
        ("C2", "2024-01-15"),
        ("C3", "2024-02-20"),
        ("C4", "2024-05-01"),
    ],
    "created_at",
)

# Sums: impressions 2 500, clicks 90, sent 300, opened 90, engagements 275, sessions 100.
# May is all zeros: every ratio of May has a zero denominator.
STATS = _frame(
    "date channel campaign impressions clicks emails_sent emails_opened engagements sessions",
    [
        ("2024-01-10", "ads", "a1", 1000, 50, 200, 50, 100, 40),
        ("2024-02-10", "seo", "s1", 500, 10, 0, 0, 25, 10),
        ("2024-04-10", "ads", "a2", 1000, 30, 100, 40, 150, 50),
        ("2024-05-10", "seo", "s1", 0, 0, 0, 0, 0, 0),
    ],
    "date",
)

DATA = {
    "leads": LEADS,
    "spend": SPEND,
    "opportunities": OPPORTUNITIES,
    "touches": TOUCHES,
    "content": CONTENT,
    "campaign_stats": STATS,
}

# Response minutes: R1 1.5 (90 s), R2 exactly 5.0, R3 20, R4 unanswered, R5 3.
RESPONSES = _frame(
    "lead_id created_at channel first_response_at",
    [
        ("R1", "2024-01-10 09:00", "ads", "2024-01-10 09:01:30"),
        ("R2", "2024-01-15 09:00", "seo", "2024-01-15 09:05:00"),
        ("R3", "2024-02-20 09:00", "ads", "2024-02-20 09:20:00"),
        ("R4", "2024-04-05 09:00", "ads", None),
        ("R5", "2024-04-10 09:00", "seo", "2024-04-10 09:03:00"),
    ],
    "created_at first_response_at",
)
RESPONSE_DATA = {"leads": RESPONSES}

# ROI: won O1 2 000 (closed Feb; lead L1 is ads, the deal ads) and O2 1 000 (closed Apr; lead
# L2 is seo, the deal ads); lost O3 and open O4 bring no revenue. Marketing spend 2 000
# (ads 500 + 1 000, seo 500); the 5 000 of team "sales" is not counted.
ROI_LEADS = _frame(
    "lead_id created_at channel campaign",
    [("L1", "2024-01-05", "ads", "a1"), ("L2", "2024-01-06", "seo", "s1")],
    "created_at",
)
ROI_OPPORTUNITIES = _frame(
    "opportunity_id lead_id channel created_at closed_at status amount",
    [
        ("O1", "L1", "ads", "2024-01-10", "2024-02-15", "won", 2000.0),
        ("O2", "L2", "ads", "2024-01-12", "2024-04-20", "won", 1000.0),
        ("O3", "L1", "ads", "2024-01-15", "2024-01-20", "lost", 9999.0),
        ("O4", "L2", "seo", "2024-03-01", None, "open", 7777.0),
    ],
    "created_at closed_at",
)
ROI_SPEND = _frame(
    "date channel campaign team amount",
    [
        ("2024-01-01", "ads", "a1", "marketing", 500.0),
        ("2024-01-01", "seo", "s1", "marketing", 500.0),
        ("2024-02-01", "ads", "a1", "sales", 5000.0),
        ("2024-04-01", "ads", "a2", "marketing", 1000.0),
    ],
    "date",
)
ROI_DATA = {"leads": ROI_LEADS, "opportunities": ROI_OPPORTUNITIES, "spend": ROI_SPEND}


def _data(name: str) -> dict:
    if name in ("lead_response_time", "response_within_5_min"):
        return RESPONSE_DATA
    if name == "marketing_roi":
        return ROI_DATA
    return DATA


def _keys(result: pd.DataFrame, column: str) -> list[str]:
    if column == "period":
        return result["period"].dt.strftime("%Y-%m-%d").tolist()
    return result[column].tolist()


def _same(actual, expected) -> bool:
    return list(actual) == pytest.approx(list(expected), nan_ok=True)


def test_the_catalog_marketing_group_is_the_kpis_tested_here():
    catalog = kw.kpi_catalog()
    assert sorted(catalog.loc[catalog["group"] == "marketing", "name"]) == sorted(MARKETING)


@pytest.mark.parametrize(
    ("name", "unit", "better", "tables"),
    [
        ("leads", "count", "higher", ["leads"]),
        ("cost_per_lead", "currency", "lower", ["spend", "leads"]),
        ("cost_per_opportunity", "currency", "lower", ["spend", "opportunities"]),
        ("mqls", "count", "higher", ["leads"]),
        ("sqls", "count", "higher", ["leads"]),
        ("lead_to_mql_rate", "ratio", "higher", ["leads"]),
        ("mql_to_sql_rate", "ratio", "higher", ["leads"]),
        ("mql_to_opportunity_rate", "ratio", "higher", ["leads"]),
        ("lead_to_opportunity_rate", "ratio", "higher", ["leads"]),
        ("end_to_end_conversion", "ratio", "higher", ["leads", "opportunities"]),
        ("lead_response_time", "minutes", "lower", ["leads"]),
        ("response_within_5_min", "ratio", "higher", ["leads"]),
        ("touches_to_first_meeting", "touches", "lower", ["touches", "leads"]),
        ("click_through_rate", "ratio", "higher", ["campaign_stats"]),
        ("email_open_rate", "ratio", "higher", ["campaign_stats"]),
        ("engagement_rate", "ratio", "higher", ["campaign_stats"]),
        ("visit_to_lead_rate", "ratio", "higher", ["campaign_stats", "leads"]),
        ("content_usage_rate", "ratio", "higher", ["touches", "content"]),
        ("marketing_roi", "ratio", "higher", ["spend", "opportunities", "leads"]),
    ],
)
def test_catalog_entry(name, unit, better, tables):
    row = kw.kpi_catalog().set_index("name").loc[name]
    assert (row["unit"], row["better"], row["tables"]) == (unit, better, tables)
    assert row["formula"] and row["label"]


def test_catalog_lists_the_options_with_their_defaults():
    options = kw.kpi_catalog().set_index("name")["options"]
    assert options["response_within_5_min"]["minutes"][0] == 5.0
    assert options["marketing_roi"]["attribution"][0] == "lead"
    assert all(
        options[n] == {} for n in MARKETING if n not in ("response_within_5_min", "marketing_roi")
    )


# -- overall: value, numerator, denominator, n -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "numerator", "denominator", "n"),
    [
        ("leads", 5, None, None, 5),  # L1..L5
        ("mqls", 4, None, None, 4),  # L1 L2 L4 L5 have mql_at
        ("sqls", 3, None, None, 3),  # L1 L4 L5 have sql_at
        ("lead_to_mql_rate", 0.8, 4, 5, 5),  # 4 of the 5 leads became MQL
        ("mql_to_sql_rate", 0.75, 3, 4, 4),  # MQLs L1 L2 L4 L5; SQL L1 L4 L5
        ("mql_to_opportunity_rate", 0.5, 2, 4, 4),  # MQLs with a deal: L1 L4 (L3 is no MQL)
        ("lead_to_opportunity_rate", 0.6, 3, 5, 5),  # L1 L3 L4
        ("end_to_end_conversion", 0.4, 2, 5, 5),  # won O1 (L1), O3 (L3); O2 lost
        ("cost_per_lead", 138.0, 690, 5, 5),  # 690 / 5 leads
        ("cost_per_opportunity", 230.0, 690, 3, 3),  # 690 / 3 opportunities
        ("touches_to_first_meeting", 1.5, None, None, 4),  # median(2, 4, 0, 1)
        ("click_through_rate", 0.036, 90, 2500, 4),  # 90 / 2 500, 4 stats rows
        ("email_open_rate", 0.3, 90, 300, 4),  # 90 / 300
        ("engagement_rate", 0.11, 275, 2500, 4),  # 275 / 2 500
        ("visit_to_lead_rate", 0.05, 5, 100, 4),  # 5 leads / 100 sessions; n: stats rows
        ("content_usage_rate", 0.75, 3, 4, 4),  # {C1 C2 C3} used / 4 items; n: items
        ("lead_response_time", 4.0, None, None, 4),  # median(1.5, 5, 20, 3), R4 unanswered
        ("response_within_5_min", 0.6, 3, 5, 5),  # R1 R2 R5 of 5 (R4 unanswered: not)
        ("marketing_roi", 0.5, 3000, 2000, 3),  # (3 000 - 2 000) / 2 000; n: spend rows
    ],
)
def test_overall(name, value, numerator, denominator, n):
    result = kw.kpi(name, _data(name))
    assert len(result) == 1
    row = result.iloc[0]
    assert row["value"] == pytest.approx(value)
    assert row["n"] == n
    if numerator is None:
        assert "numerator" not in result and "denominator" not in result
    else:
        assert (row["numerator"], row["denominator"]) == (numerator, denominator)


# -- per period ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "period", "expected"),
    [
        # leads by created_at: Jan L1 L2, Feb L3, Apr L4 L5.
        ("leads", "M", {"2024-01-01": 2, "2024-02-01": 1, "2024-04-01": 2}),
        ("leads", "Q", {"2024-01-01": 3, "2024-04-01": 2}),
        # by mql_at: Jan L1, Feb L2, Apr L4, May L5.
        ("mqls", "M", {"2024-01-01": 1, "2024-02-01": 1, "2024-04-01": 1, "2024-05-01": 1}),
        ("mqls", "Q", {"2024-01-01": 2, "2024-04-01": 2}),
        # by sql_at: Feb L1, Apr L4, May L5.
        ("sqls", "M", {"2024-02-01": 1, "2024-04-01": 1, "2024-05-01": 1}),
        ("sqls", "Q", {"2024-01-01": 1, "2024-04-01": 2}),
        # Jan L1 L2 both MQL 2/2; Feb L3 0/1; Apr L4 L5 2/2.
        ("lead_to_mql_rate", "M", {"2024-01-01": 1.0, "2024-02-01": 0.0, "2024-04-01": 1.0}),
        ("lead_to_mql_rate", "Q", {"2024-01-01": 2 / 3, "2024-04-01": 1.0}),
        # MQL month: Jan L1 (SQL), Feb L2 (not), Apr L4 (SQL), May L5 (SQL).
        (
            "mql_to_sql_rate",
            "M",
            {"2024-01-01": 1.0, "2024-02-01": 0.0, "2024-04-01": 1.0, "2024-05-01": 1.0},
        ),
        ("mql_to_sql_rate", "Q", {"2024-01-01": 0.5, "2024-04-01": 1.0}),
        # MQL month: Jan L1 (deal), Feb L2 (none), Apr L4 (deal), May L5 (none).
        (
            "mql_to_opportunity_rate",
            "M",
            {"2024-01-01": 1.0, "2024-02-01": 0.0, "2024-04-01": 1.0, "2024-05-01": 0.0},
        ),
        ("mql_to_opportunity_rate", "Q", {"2024-01-01": 0.5, "2024-04-01": 0.5}),
        # Jan L1 of L1 L2; Feb L3 of L3; Apr L4 of L4 L5.
        (
            "lead_to_opportunity_rate",
            "M",
            {"2024-01-01": 0.5, "2024-02-01": 1.0, "2024-04-01": 0.5},
        ),
        ("lead_to_opportunity_rate", "Q", {"2024-01-01": 2 / 3, "2024-04-01": 0.5}),
        # Jan L1 won of 2; Feb L3 won of 1; Apr L4 lost, L5 no deal: 0 of 2.
        ("end_to_end_conversion", "M", {"2024-01-01": 0.5, "2024-02-01": 1.0, "2024-04-01": 0.0}),
        ("end_to_end_conversion", "Q", {"2024-01-01": 2 / 3, "2024-04-01": 0.0}),
        # Jan 390 / 2; Feb 0 / 1 (sales spend left out); Mar 60 / 0 leads: NaN; Apr 240 / 2.
        (
            "cost_per_lead",
            "M",
            {"2024-01-01": 195.0, "2024-02-01": 0.0, "2024-03-01": NaN, "2024-04-01": 120.0},
        ),
        ("cost_per_lead", "Q", {"2024-01-01": 150.0, "2024-04-01": 120.0}),  # 450/3, 240/2
        # Opportunities created: Jan O1, Feb O3, Apr O2. Jan 390/1; Feb 0/1; Mar 60/0; Apr 240/1.
        (
            "cost_per_opportunity",
            "M",
            {"2024-01-01": 390.0, "2024-02-01": 0.0, "2024-03-01": NaN, "2024-04-01": 240.0},
        ),
        ("cost_per_opportunity", "Q", {"2024-01-01": 225.0, "2024-04-01": 240.0}),  # 450/2, 240/1
        # By first meeting: Jan L1 2; Feb L2 4; Apr L3 0, L4 1 -> median 0.5.
        (
            "touches_to_first_meeting",
            "M",
            {"2024-01-01": 2.0, "2024-02-01": 4.0, "2024-04-01": 0.5},
        ),
        ("touches_to_first_meeting", "Q", {"2024-01-01": 3.0, "2024-04-01": 0.5}),
        # 50/1000, 10/500, 30/1000, 0/0.
        (
            "click_through_rate",
            "M",
            {"2024-01-01": 0.05, "2024-02-01": 0.02, "2024-04-01": 0.03, "2024-05-01": NaN},
        ),
        # Q1 (50 + 10) / 1 500 = 0.04: a ratio of sums, not the mean 0.035 of the daily ratios.
        ("click_through_rate", "Q", {"2024-01-01": 0.04, "2024-04-01": 0.03}),
        # 50/200, 0/0, 40/100, 0/0.
        (
            "email_open_rate",
            "M",
            {"2024-01-01": 0.25, "2024-02-01": NaN, "2024-04-01": 0.4, "2024-05-01": NaN},
        ),
        ("email_open_rate", "Q", {"2024-01-01": 0.25, "2024-04-01": 0.4}),  # 50/200, 40/100
        # 100/1000, 25/500, 150/1000, 0/0.
        (
            "engagement_rate",
            "M",
            {"2024-01-01": 0.1, "2024-02-01": 0.05, "2024-04-01": 0.15, "2024-05-01": NaN},
        ),
        ("engagement_rate", "Q", {"2024-01-01": 125 / 1500, "2024-04-01": 0.15}),
        # Leads / sessions: Jan 2/40, Feb 1/10, Apr 2/50, May 0/0.
        (
            "visit_to_lead_rate",
            "M",
            {"2024-01-01": 0.05, "2024-02-01": 0.1, "2024-04-01": 0.04, "2024-05-01": NaN},
        ),
        ("visit_to_lead_rate", "Q", {"2024-01-01": 0.06, "2024-04-01": 0.04}),  # 3/50, 2/50
        # Used / created before the period's end: Jan {C1} / C1 C2; Feb {C2} / C1 C2 C3;
        # Apr {C3} / C1 C2 C3 (C4 is created exactly at April's end: not yet).
        ("content_usage_rate", "M", {"2024-01-01": 0.5, "2024-02-01": 1 / 3, "2024-04-01": 1 / 3}),
        # Q1 {C1 C2} / C1 C2 C3; Q2 {C3} / all 4.
        ("content_usage_rate", "Q", {"2024-01-01": 2 / 3, "2024-04-01": 0.25}),
        # Jan median(1.5, 5) = 3.25 (fractional minutes); Feb 20; Apr 3 (R4 unanswered).
        ("lead_response_time", "M", {"2024-01-01": 3.25, "2024-02-01": 20.0, "2024-04-01": 3.0}),
        ("lead_response_time", "Q", {"2024-01-01": 5.0, "2024-04-01": 3.0}),
        # Jan R1 R2 2/2; Feb R3 0/1; Apr R5 of R4 R5.
        (
            "response_within_5_min",
            "M",
            {"2024-01-01": 1.0, "2024-02-01": 0.0, "2024-04-01": 0.5},
        ),
        ("response_within_5_min", "Q", {"2024-01-01": 2 / 3, "2024-04-01": 0.5}),
        # Revenue by closed_at, spend by date: Jan 0/1 000 - 1; Feb 2 000 / 0 (the sales 5 000
        # left out): NaN; Apr 1 000 / 1 000 - 1.
        ("marketing_roi", "M", {"2024-01-01": -1.0, "2024-02-01": NaN, "2024-04-01": 0.0}),
        ("marketing_roi", "Q", {"2024-01-01": 1.0, "2024-04-01": 0.0}),  # 2000/1000-1, 1000/1000-1
    ],
)
def test_per_period(name, period, expected):
    result = kw.kpi(name, _data(name), period=period)
    assert _keys(result, "period") == list(expected)
    assert _same(result["value"], expected.values())


# -- by ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "by", "expected"),
    [
        ("leads", "channel", {"ads": 3, "seo": 2}),  # L1 L3 L4 | L2 L5
        ("leads", "owner", {"ann": 3, "bob": 2}),  # L1 L3 L5 | L2 L4
        ("mqls", "segment", {"ent": 3, "smb": 1}),  # L2 L4 L5 | L1
        ("sqls", "channel", {"ads": 2, "seo": 1}),  # L1 L4 | L5
        ("lead_to_mql_rate", "channel", {"ads": 2 / 3, "seo": 1.0}),  # L1 L4 of 3 | 2 of 2
        ("mql_to_sql_rate", "channel", {"ads": 1.0, "seo": 0.5}),  # L1 L4 | L5 of L2 L5
        ("mql_to_opportunity_rate", "channel", {"ads": 1.0, "seo": 0.0}),
        ("lead_to_opportunity_rate", "campaign", {"a1": 1.0, "a2": 1.0, "s1": 0.0}),
        ("end_to_end_conversion", "channel", {"ads": 2 / 3, "seo": 0.0}),  # L1 L3 won of 3
        ("cost_per_lead", "channel", {"ads": 200.0, "seo": 45.0}),  # 600/3 | 90/2
        ("cost_per_lead", "campaign", {"a1": 180.0, "a2": 240.0, "s1": 45.0}),  # 360/2 240/1 90/2
        # The opportunity's own channel: ads O1 O2, seo O3. 600/2 | 90/1.
        ("cost_per_opportunity", "channel", {"ads": 300.0, "seo": 90.0}),
        # Lead's channel: ads L1 2, L3 0, L4 1 -> 1; seo L2 4.
        ("touches_to_first_meeting", "channel", {"ads": 1.0, "seo": 4.0}),
        ("click_through_rate", "channel", {"ads": 0.04, "seo": 0.02}),  # 80/2000 | 10/500
        ("email_open_rate", "channel", {"ads": 0.3, "seo": NaN}),  # 90/300 | 0/0
        ("engagement_rate", "campaign", {"a1": 0.1, "a2": 0.15, "s1": 0.05}),
        ("visit_to_lead_rate", "channel", {"ads": 3 / 90, "seo": 0.2}),  # 3 leads/90 | 2/10
        ("lead_response_time", "channel", {"ads": 10.75, "seo": 4.0}),  # med(1.5,20) | med(5,3)
        ("response_within_5_min", "channel", {"ads": 1 / 3, "seo": 1.0}),  # R1 of R1 R3 R4
        # attribution "lead": O1 -> ads (L1), O2 -> seo (L2). 2000/1500 - 1 | 1000/500 - 1.
        ("marketing_roi", "channel", {"ads": 1 / 3, "seo": 1.0}),
        # a1 2000/500 - 1; a2 0/1000 - 1; s1 1000/500 - 1.
        ("marketing_roi", "campaign", {"a1": 3.0, "a2": -1.0, "s1": 1.0}),
    ],
)
def test_by(name, by, expected):
    result = kw.kpi(name, _data(name), by=by)
    assert _keys(result, by) == list(expected)
    assert _same(result["value"], expected.values())


def test_period_and_by_give_period_then_by_then_the_output_columns():
    result = kw.kpi("cost_per_lead", DATA, period="Q", by="channel")
    assert list(result.columns) == ["period", "channel", "value", "numerator", "denominator", "n"]
    # Q1 ads 360 / L1 L3, seo 90 / L2; Q2 ads 240 / L4, seo 0 / L5.
    assert list(zip(_keys(result, "period"), result["channel"], strict=True)) == [
        ("2024-01-01", "ads"),
        ("2024-01-01", "seo"),
        ("2024-04-01", "ads"),
        ("2024-04-01", "seo"),
    ]
    assert _same(result["value"], [180.0, 90.0, 240.0, 0.0])
    assert list(kw.kpi("leads", DATA, by="channel").columns) == ["channel", "value", "n"]


# -- start / end -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "start", "end", "value", "numerator", "denominator", "n"),
    [
        # created_at in [01-20, 04-02): L2 (at start) and L3; L4 (at end) out.
        ("leads", "2024-01-20", "2024-04-02", 2, None, None, 2),
        # mql_at in [02-10, 05-01): L2 (at start), L4; L5 (at end) out.
        ("mqls", "2024-02-10", "2024-05-01", 2, None, None, 2),
        # sql_at in [02-01, 05-02): L1 (at start), L4; L5 (at end) out.
        ("sqls", "2024-02-01", "2024-05-02", 2, None, None, 2),
        ("lead_to_mql_rate", "2024-01-20", "2024-04-02", 0.5, 1, 2, 2),  # L2 yes, L3 no
        ("mql_to_sql_rate", "2024-02-10", "2024-05-01", 0.5, 1, 2, 2),  # L2 no, L4 yes
        ("mql_to_opportunity_rate", "2024-02-10", "2024-05-01", 0.5, 1, 2, 2),  # L2 no, L4 yes
        ("lead_to_opportunity_rate", "2024-01-20", "2024-04-02", 0.5, 1, 2, 2),  # L2 no, L3 yes
        ("end_to_end_conversion", "2024-01-20", "2024-04-02", 0.5, 1, 2, 2),  # L3's O3 won
        # Spend in [01-15, 04-01): 90 (at start) + 60; the 240 at end out. Leads L2 L3.
        ("cost_per_lead", "2024-01-15", "2024-04-01", 75.0, 150, 2, 2),
        # Spend in [01-15, 04-10): 90 + 60 + 240; deals O1 O3 (O2 created at end: out).
        ("cost_per_opportunity", "2024-01-15", "2024-04-10", 195.0, 390, 2, 2),
        # First meetings in [02-10, 04-20 10:00): L2 (at start) 4, L3 0; L4 (at end) out.
        ("touches_to_first_meeting", "2024-02-10", "2024-04-20 10:00", 2.0, None, None, 2),
        # Stats rows in [02-10, 04-10): February only.
        ("click_through_rate", "2024-02-10", "2024-04-10", 0.02, 10, 500, 1),
        ("email_open_rate", "2024-01-10", "2024-04-10", 0.25, 50, 200, 2),  # Jan + Feb (0/0)
        ("engagement_rate", "2024-02-10", "2024-04-10", 0.05, 25, 500, 1),
        # Sessions 10 (Feb, at start); leads created in range: L4 (04-02).
        ("visit_to_lead_rate", "2024-02-10", "2024-04-10", 0.1, 1, 10, 1),
        # Touches in range: C1 (01-20, at start), C2; items created before 02-20: C1 C2 (C3
        # is created at end: not counted).
        ("content_usage_rate", "2024-01-20", "2024-02-20", 1.0, 2, 2, 2),
        # Created in [01-15 09:00, 04-10 09:00): R2 (at start) 5, R3 20, R4 unanswered;
        # R5 (at end) out.
        ("lead_response_time", "2024-01-15 09:00", "2024-04-10 09:00", 12.5, None, None, 2),
        ("response_within_5_min", "2024-01-15 09:00", "2024-04-10 09:00", 1 / 3, 1, 3, 3),
        # Spend from 01-01 (at start): 500 + 500 + 1 000; revenue O1 (O2 closed at end: out).
        ("marketing_roi", "2024-01-01", "2024-04-20", 0.0, 2000, 2000, 3),
    ],
)
def test_start_is_in_and_end_is_out(name, start, end, value, numerator, denominator, n):
    result = kw.kpi(name, _data(name), start=start, end=end)
    row = result.iloc[0]
    assert row["value"] == pytest.approx(value)
    assert row["n"] == n
    if numerator is not None:
        assert (row["numerator"], row["denominator"]) == (numerator, denominator)


def test_start_and_end_accept_timestamps_and_dates():
    by_text = kw.kpi("leads", DATA, start="2024-01-20", end="2024-04-02")
    by_timestamp = kw.kpi("leads", DATA, start=pd.Timestamp("2024-01-20"), end=dt.date(2024, 4, 2))
    assert by_text["value"].tolist() == by_timestamp["value"].tolist() == [2.0]


# -- zero denominators, the sales team's spend -------------------------------------------------


def test_cost_per_lead_month_with_spend_and_no_leads_shows_nan():
    result = kw.kpi("cost_per_lead", DATA, period="M").set_index("period")
    march = result.loc[pd.Timestamp("2024-03-01")]
    # 60 of marketing spend, no lead: the row shows, with a NaN value and n = 0 leads.
    assert math.isnan(march["value"])
    assert (march["numerator"], march["denominator"], march["n"]) == (60.0, 0.0, 0)


def test_cost_per_lead_leaves_out_the_sales_teams_spend():
    # 690 of marketing spend, not 690 + 1 000; February has only sales spend: 0 / 1 lead.
    assert kw.kpi("cost_per_lead", DATA)["numerator"].tolist() == [690.0]
    february = kw.kpi("cost_per_lead", DATA, start="2024-02-01", end="2024-03-01")
    assert february[["value", "numerator", "denominator"]].iloc[0].tolist() == [0.0, 0.0, 1.0]


def test_cost_per_opportunity_leaves_out_the_sales_teams_spend():
    # February: the 1 000 of team sales is not spend; O3 was created then: 0 / 1.
    result = kw.kpi("cost_per_opportunity", DATA, start="2024-02-01", end="2024-03-01")
    assert result[["value", "numerator", "denominator"]].iloc[0].tolist() == [0.0, 0.0, 1.0]


def test_a_ratio_over_no_rows_at_all_is_nan():
    # No lead in 2023: 0 / 0.
    result = kw.kpi("lead_to_mql_rate", DATA, start="2023-01-01", end="2024-01-01")
    assert math.isnan(result["value"].iloc[0])
    assert result["n"].tolist() == [0]


# -- response time: fractional, inclusive threshold, dropped rows ------------------------------


def test_a_90_second_response_is_one_and_a_half_minutes():
    leads = RESPONSES.iloc[[0]]  # R1: 09:00 -> 09:01:30
    assert kw.kpi("lead_response_time", {"leads": leads})["value"].tolist() == [1.5]


def test_response_within_5_min_counts_a_response_at_exactly_5_minutes():
    # R2 is answered in exactly 5.0 minutes: R1 R2 R5 of 5 = 0.6 (with "<" it would be 0.4).
    assert kw.kpi("response_within_5_min", RESPONSE_DATA)["value"].tolist() == [0.6]
    r2 = RESPONSES.iloc[[1]]
    assert kw.kpi("response_within_5_min", {"leads": r2})["value"].tolist() == [1.0]


@pytest.mark.parametrize(
    ("minutes", "value"),
    [
        (1.4, 0.0),  # R1's 1.5 minutes are over 1.4 (a duration cut to 1 minute would count)
        (1.5, 0.2),  # R1 at exactly the threshold counts (inclusive)
        (3, 0.4),  # R1 R5
        (20, 0.8),  # R1 R2 R3 R5; R4 unanswered never counts
    ],
)
def test_response_within_minutes_option_is_an_inclusive_threshold(minutes, value):
    result = kw.kpi("response_within_5_min", RESPONSE_DATA, minutes=minutes)
    assert result["value"].tolist() == [pytest.approx(value)]
    assert result["denominator"].tolist() == [5.0]


def test_an_unanswered_lead_is_not_a_dropped_row():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = kw.kpi("lead_response_time", RESPONSE_DATA)
    assert result.attrs["dropped_rows"] == {}


# R6 is answered a minute before it was created.
NEGATIVE = pd.concat(
    [
        RESPONSES,
        _frame(
            "lead_id created_at channel first_response_at",
            [("R6", "2024-01-25 09:00", "ads", "2024-01-25 08:59")],
            "created_at first_response_at",
        ),
    ],
    ignore_index=True,
)


def test_lead_response_time_leaves_out_and_counts_a_negative_duration():
    with pytest.warns(DroppedRowsWarning, match="answered before created") as record:
        result = kw.kpi("lead_response_time", {"leads": NEGATIVE})
    # Still median(1.5, 5, 20, 3) over 4 answered leads: R6's -1 is not among them.
    assert result[["value", "n"]].iloc[0].tolist() == [4.0, 4]
    assert result.attrs["dropped_rows"] == {"answered before created": 1}
    assert [w.message.counts for w in record if w.category is DroppedRowsWarning] == [
        {"answered before created": 1}
    ]


def test_response_within_5_min_leaves_out_a_negative_duration_from_the_denominator():
    with pytest.warns(DroppedRowsWarning, match="left out 1 row"):
        result = kw.kpi("response_within_5_min", {"leads": NEGATIVE})
    # 3 of the 5 usable leads (R6's -1 minute is neither quick nor counted).
    assert result[["value", "numerator", "denominator", "n"]].iloc[0].tolist() == [0.6, 3, 5, 5]
    assert result.attrs["dropped_rows"] == {"answered before created": 1}


def test_a_negative_duration_outside_start_end_is_not_counted_as_dropped():
    # R6 is created on 01-25: outside [02-01, 05-01), so nothing is left out for it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = kw.kpi(
            "lead_response_time", {"leads": NEGATIVE}, start="2024-02-01", end="2024-05-01"
        )
    assert result.attrs["dropped_rows"] == {}
    assert result[["value", "n"]].iloc[0].tolist() == [11.5, 2]  # median(20, 3)


# 5 minutes and 0.6 seconds: 5.01 minutes, over the 5-minute threshold.
JUST_LATE = _frame(
    "lead_id created_at first_response_at",
    [("S1", "2024-01-10 09:00", "2024-01-10 09:05:00.600")],
    "created_at first_response_at",
)


def test_a_response_in_5_minutes_and_0_6_seconds_is_not_within_5_minutes():
    assert kw.kpi("response_within_5_min", {"leads": JUST_LATE})["value"].tolist() == [0.0]


def test_lead_response_time_keeps_sub_second_fractions():
    result = kw.kpi("lead_response_time", {"leads": JUST_LATE})
    assert result["value"].tolist() == [pytest.approx(5.01)]


# -- touches, content ----------------------------------------------------------------------------


def test_touches_to_first_meeting_needs_no_leads_table_without_by():
    # Overall median(2, 4, 0, 1) from the touches alone.
    assert kw.kpi("touches_to_first_meeting", {"touches": TOUCHES})["value"].tolist() == [1.5]


def test_touches_to_first_meeting_counts_only_touches_before_the_first_meeting():
    # L1: email, call, meeting (01-05), email, meeting: 2 (not 3, and not 4 for the second one).
    l1 = TOUCHES[TOUCHES["lead_id"] == "L1"]
    result = kw.kpi("touches_to_first_meeting", {"touches": l1}, period="M")
    assert _keys(result, "period") == ["2024-01-01"]
    assert result[["value", "n"]].iloc[0].tolist() == [2.0, 1]


def test_content_usage_counts_an_item_used_twice_once():
    # January: C1 is used on 01-10 and 01-20: 1 item of C1 C2 (created by Feb 1).
    result = kw.kpi("content_usage_rate", DATA, start="2024-01-01", end="2024-02-01")
    assert result[["value", "numerator", "denominator"]].iloc[0].tolist() == [0.5, 1, 2]


def test_content_usage_allows_no_breakdown():
    with pytest.raises(ValueError, match="no breakdown"):
        kw.kpi("content_usage_rate", DATA, by="channel")


# -- marketing ROI attribution -------------------------------------------------------------------


def test_marketing_roi_default_attribution_is_lead():
    default = kw.kpi("marketing_roi", ROI_DATA, by="channel")
    lead = kw.kpi("marketing_roi", ROI_DATA, by="channel", attribution="lead")
    pd.testing.assert_frame_equal(default, lead)


def test_marketing_roi_attribution_opportunity_uses_the_deals_channel():
    lead = kw.kpi("marketing_roi", ROI_DATA, by="channel", attribution="lead")
    opportunity = kw.kpi("marketing_roi", ROI_DATA, by="channel", attribution="opportunity")
    # lead: ads 2 000 (O1 via L1) / 1 500, seo 1 000 (O2 via L2) / 500.
    assert lead["numerator"].tolist() == [2000.0, 1000.0]
    assert _same(lead["value"], [1 / 3, 1.0])
    # opportunity: both deals are ads: 3 000 / 1 500 - 1 = 1; seo 0 / 500 - 1 = -1.
    assert opportunity["channel"].tolist() == ["ads", "seo"]
    assert opportunity["numerator"].tolist() == [3000.0, 0.0]
    assert _same(opportunity["value"], [1.0, -1.0])
    assert opportunity["denominator"].tolist() == lead["denominator"].tolist() == [1500.0, 500.0]


def test_marketing_roi_attribution_does_not_change_the_overall_value():
    # Overall, all won revenue counts whoever gets it: (3 000 - 2 000) / 2 000.
    for attribution in ("lead", "opportunity"):
        result = kw.kpi("marketing_roi", ROI_DATA, attribution=attribution)
        assert result["value"].tolist() == [0.5]


def test_marketing_roi_leaves_out_the_sales_teams_spend():
    # February: revenue 2 000 (O1), no marketing spend (only sales' 5 000): NaN, not -0.6.
    result = kw.kpi("marketing_roi", ROI_DATA, start="2024-02-01", end="2024-03-01")
    row = result.iloc[0]
    assert (row["numerator"], row["denominator"]) == (2000.0, 0.0)
    assert math.isnan(row["value"])


def test_marketing_roi_unknown_attribution_is_a_value_error():
    with pytest.raises(ValueError, match="attribution must be 'lead' or 'opportunity'"):
        kw.kpi("marketing_roi", ROI_DATA, attribution="first_touch")


def test_marketing_roi_attribution_opportunity_needs_no_lead_id():
    data = {"opportunities": ROI_OPPORTUNITIES.drop(columns="lead_id"), "spend": ROI_SPEND}
    result = kw.kpi("marketing_roi", data, by="channel", attribution="opportunity")
    assert _same(result["value"], [1.0, -1.0])  # as in the test with lead_id


def test_marketing_roi_opportunity_attribution_by_campaign_is_an_error_not_a_silent_switch():
    # Opportunities have no campaign column: attributing by the deal's own channel cannot
    # break revenue down by campaign, and is said instead of quietly using the lead's.
    with pytest.raises(ValueError, match="attribution='opportunity' breaks revenue down by"):
        kw.kpi("marketing_roi", ROI_DATA, by=["channel", "campaign"], attribution="opportunity")


# -- Dataset input -------------------------------------------------------------------------------


def test_a_dataset_gives_the_same_numbers_as_a_dict():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = kw.Dataset(leads=LEADS, spend=SPEND, campaign_stats=STATS)
    for name in ("cost_per_lead", "lead_to_mql_rate", "visit_to_lead_rate"):
        pd.testing.assert_frame_equal(
            kw.kpi(name, ds, period="Q", by="channel"),
            kw.kpi(name, DATA, period="Q", by="channel"),
        )


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("lead", "'leads'"),
        ("cost_per_leads", "'cost_per_lead'"),
        ("mql_to_sql", "'mql_to_sql_rate'"),
    ],
)
def test_an_unknown_kpi_lists_close_matches(typo, suggestion):
    with pytest.raises(ValueError, match="unknown KPI") as info:
        kw.kpi(typo, DATA)
    assert "did you mean" in str(info.value)
    assert suggestion in str(info.value)


def test_a_missing_table_names_it_and_the_kpis_it_blocks():
    with pytest.raises(MissingTable) as info:
        kw.kpi("cost_per_lead", {"leads": LEADS})
    message = str(info.value)
    assert info.value.table == "spend"
    assert isinstance(info.value, ValueError)
    assert "no 'spend' table" in message
    catalog = kw.kpi_catalog()
    blocked = sorted(catalog.loc[catalog["tables"].map(lambda t: "spend" in t), "name"])
    assert {"cost_per_lead", "cost_per_opportunity", "marketing_roi"} <= set(blocked)
    assert message.endswith(", ".join(blocked))


def test_a_missing_by_column_names_the_column():
    with pytest.raises(MissingTable, match=r"no column\(s\) \['channel'\]"):
        kw.kpi("leads", {"leads": LEADS.drop(columns="channel")}, by="channel")


@pytest.mark.parametrize(
    ("name", "by"),
    [
        ("cost_per_lead", "owner"),  # spend has no owner
        ("cost_per_opportunity", "campaign"),
        ("click_through_rate", "segment"),
        ("leads", "product"),
    ],
)
def test_a_by_the_kpi_does_not_allow_is_a_value_error(name, by):
    with pytest.raises(ValueError, match="not a breakdown it allows"):
        kw.kpi(name, DATA, by=by)


@pytest.mark.parametrize(
    ("name", "option", "allowed"),
    [
        ("leads", {"minutes": 5}, "its options: none"),
        ("response_within_5_min", {"threshold": 3}, "its options: minutes"),
        ("marketing_roi", {"attribute": "lead"}, "its options: attribution"),
    ],
)
def test_an_unknown_option_is_a_type_error(name, option, allowed):
    with pytest.raises(TypeError, match="unknown option") as info:
        kw.kpi(name, _data(name), **option)
    assert allowed in str(info.value)

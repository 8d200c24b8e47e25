"""The sales, customer and plan KPIs of the catalog (kw.kpi) on tiny hand-made tables.

Every expected number is worked out by hand in a comment next to it: overall, per period, a
``by`` breakdown where the KPI allows one, and numerator / denominator / n.
"""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest

import kpiwidgets as kw
from kpiwidgets import DroppedRowsWarning
from kpiwidgets.metrics.kpis import REGISTRY
from tests.helpers import to_pandas

NAN = float("nan")


# -- helpers ------------------------------------------------------------------------------------


def _ts(values):
    return pd.to_datetime(pd.Series(values, dtype="object"), format="ISO8601")


def _opps(rows: list[tuple]) -> pd.DataFrame:
    cols = [
        "opportunity_id",
        "account_id",
        "owner",
        "channel",
        "segment",
        "product",
        "created_at",
        "closed_at",
        "status",
        "amount",
        "expected_close_at",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    frame.insert(1, "lead_id", "L" + frame["opportunity_id"])
    for c in ("created_at", "closed_at", "expected_close_at"):
        frame[c] = _ts(frame[c])
    frame["amount"] = frame["amount"].astype(float)
    return frame


def _frame(rows: list[tuple], columns: list[str], times: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for c in times:
        frame[c] = _ts(frame[c])
    return frame


def check(result, **expected) -> None:
    """``result`` has exactly these rows, in this order: key columns compared exactly
    (periods as 'YYYY-MM-DD'), numbers with a tolerance (NaN equals NaN)."""
    result = to_pandas(result)
    lengths = {len(v) for v in expected.values()}
    assert lengths == {len(result)}, result
    for column, want in expected.items():
        got = result[column]
        if column == "period":
            assert got.dt.strftime("%Y-%m-%d").tolist() == want, column
        elif pd.api.types.is_numeric_dtype(got):
            assert got.astype(float).tolist() == pytest.approx(want, nan_ok=True, rel=1e-9), column
        else:
            assert got.tolist() == want, column


def kpi(name, data, **kwargs):
    result = kw.kpi(name, data, **kwargs)
    assert isinstance(result, pd.DataFrame)
    return result


# -- the deals table -----------------------------------------------------------------------------
#
# id  acct owner channel seg  product created     closed            status amount expected
# o1  A    ann   web     smb  basic   01-05       02-10 12:00       won    100    02-15
# o2  B    ann   web     ent  pro     01-20       03-05             lost   300    03-01
# o3  C    bob   ads     smb  pro     02-01       04-15             won    400    05-01
# o4  D    bob   ads     ent  basic   02-15       -                 open   250    06-15
# o5  E    ann   ads     smb  basic   04-01 00:00 05-20             won    200    05-15
# o6  F    bob   web     ent  pro     05-01       06-01 00:00       lost   150    06-30
# o7  G    ann   web     smb  basic   06-10       -                 open   500    08-01
# (all 2024). Won: o1 (Q1, 100), o3 (Q2, 400), o5 (Q2, 200): 700 in all.
OPPS = _opps(
    [
        ("o1", "A", "ann", "web", "smb", "basic", "2024-01-05", "2024-02-10 12:00", "won", 100,
         "2024-02-15"),
        ("o2", "B", "ann", "web", "ent", "pro", "2024-01-20", "2024-03-05", "lost", 300,
         "2024-03-01"),
        ("o3", "C", "bob", "ads", "smb", "pro", "2024-02-01", "2024-04-15", "won", 400,
         "2024-05-01"),
        ("o4", "D", "bob", "ads", "ent", "basic", "2024-02-15", None, "open", 250, "2024-06-15"),
        ("o5", "E", "ann", "ads", "smb", "basic", "2024-04-01", "2024-05-20", "won", 200,
         "2024-05-15"),
        ("o6", "F", "bob", "web", "ent", "pro", "2024-05-01", "2024-06-01", "lost", 150,
         "2024-06-30"),
        ("o7", "G", "ann", "web", "smb", "basic", "2024-06-10", None, "open", 500, "2024-08-01"),
    ]
)  # fmt: skip
SALES = {"opportunities": OPPS}


# -- opportunity_win_rate / closed_deal_ratio ------------------------------------------------------


def test_win_rate_over_closed():
    # Closed: o1 W, o2 L, o3 W, o5 W, o6 L -> 3 / 5 (open o4, o7 not counted).
    result = kpi("opportunity_win_rate", SALES)
    assert list(result.columns) == ["value", "numerator", "denominator", "n"]
    check(result, value=[0.6], numerator=[3], denominator=[5], n=[5])
    # By close quarter: Q1 o1 W (Feb), o2 L (Mar) -> 1/2; Q2 o3 W, o5 W, o6 L -> 2/3.
    result = kpi("opportunity_win_rate", SALES, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=["2024-01-01", "2024-04-01"],
        value=[1 / 2, 2 / 3],
        numerator=[1, 2],
        denominator=[2, 3],
        n=[2, 3],
    )
    # By owner: ann o1 W, o2 L, o5 W -> 2/3; bob o3 W, o6 L -> 1/2.
    check(
        kpi("opportunity_win_rate", SALES, by="owner", over="closed"),
        owner=["ann", "bob"],
        value=[2 / 3, 1 / 2],
        numerator=[2, 1],
        denominator=[3, 2],
    )


def test_win_rate_over_all():
    # Every deal created counts, open ones as not won: won o1, o3, o5 of 7 -> 3/7.
    check(kpi("opportunity_win_rate", SALES, over="all"), value=[3 / 7], n=[7])
    # By creation quarter: Q1 o1..o4 (o1, o3 won) -> 2/4; Q2 o5, o6, o7 (o5 won) -> 1/3.
    check(
        kpi("opportunity_win_rate", SALES, over="all", period="Q"),
        period=["2024-01-01", "2024-04-01"],
        value=[2 / 4, 1 / 3],
        numerator=[2, 1],
        denominator=[4, 3],
        n=[4, 3],
    )


def test_win_rate_window_and_bad_option():
    # [2024-04-01, ...) on closed_at: o3 W, o5 W, o6 L -> 2/3.
    check(kpi("opportunity_win_rate", SALES, start="2024-04-01"), value=[2 / 3], n=[3])
    # [.., 2024-03-05): o1 only (o2 closed exactly at the end is out) -> 1/1.
    check(kpi("opportunity_win_rate", SALES, end="2024-03-05"), value=[1.0], n=[1])
    with pytest.raises(ValueError, match="over must be"):
        kw.kpi("opportunity_win_rate", SALES, over="open")


def test_closed_deal_ratio():
    # Same as win rate over="all": 3/7 overall.
    check(kpi("closed_deal_ratio", SALES), value=[3 / 7], numerator=[3], denominator=[7])
    # By channel: web o1 W, o2 L, o6 L, o7 open -> 1/4; ads o3 W, o4 open, o5 W -> 2/3.
    check(
        kpi("closed_deal_ratio", SALES, by="channel"),
        channel=["ads", "web"],
        value=[2 / 3, 1 / 4],
        numerator=[2, 1],
        denominator=[3, 4],
        n=[3, 4],
    )
    # Per creation month, segment: Jan o1 smb W, o2 ent L; Feb o3 smb W, o4 ent open;
    # Apr o5 smb W; May o6 ent L; Jun o7 smb open.
    check(
        kpi("closed_deal_ratio", SALES, by="segment", period="M"),
        period=["2024-01-01"] * 2 + ["2024-02-01"] * 2 + ["2024-04-01", "2024-05-01", "2024-06-01"],
        segment=["ent", "smb", "ent", "smb", "smb", "ent", "smb"],
        value=[0, 1, 0, 1, 1, 0, 0],
    )


# -- revenue, product_revenue, revenue_growth, revenue_share, concentration, AOV -------------------


def test_revenue():
    # Won: 100 + 400 + 200 = 700 in 3 deals.
    result = kpi("revenue", SALES)
    assert list(result.columns) == ["value", "n"]
    check(result, value=[700], n=[3])
    # Q1: o1 100; Q2: o3 400 + o5 200 = 600.
    check(kpi("revenue", SALES, period="Q"), period=["2024-01-01", "2024-04-01"],
          value=[100, 600], n=[1, 2])  # fmt: skip
    # By channel: web o1 100; ads o3 400 + o5 200 = 600.
    check(kpi("revenue", SALES, by="channel"), channel=["ads", "web"], value=[600, 100], n=[2, 1])
    # Per quarter and owner: Q1 ann 100; Q2 ann 200, bob 400.
    check(
        kpi("revenue", SALES, period="Q", by="owner"),
        period=["2024-01-01", "2024-04-01", "2024-04-01"],
        owner=["ann", "ann", "bob"],
        value=[100, 200, 400],
    )
    # [2024-02-10 12:00, 2024-05-20): o1 (exactly at start) + o3 -> 500.
    check(kpi("revenue", SALES, start="2024-02-10T12:00", end="2024-05-20"), value=[500], n=[2])


def test_revenue_from_a_dataset_matches_the_dict():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # data-quality notes are not under test here
        ds = kw.Dataset(opportunities=OPPS)
    check(kpi("revenue", ds, period="Q"), value=[100, 600], n=[1, 2])


def test_product_revenue_defaults_to_by_product():
    # basic: o1 100 + o5 200 = 300; pro: o3 400.
    result = kpi("product_revenue", SALES)
    assert list(result.columns) == ["product", "value", "n"]
    check(result, product=["basic", "pro"], value=[300, 400], n=[2, 1])
    # Another breakdown replaces the default: by owner ann 100 + 200, bob 400.
    result = kpi("product_revenue", SALES, by="owner")
    assert "product" not in result.columns
    check(result, owner=["ann", "bob"], value=[300, 400])
    # Per quarter: Q1 basic 100; Q2 basic 200, pro 400.
    check(
        kpi("product_revenue", SALES, period="Q"),
        period=["2024-01-01", "2024-04-01", "2024-04-01"],
        product=["basic", "basic", "pro"],
        value=[100, 200, 400],
    )


def test_revenue_growth():
    # Q1 100 (no Q4 2023 revenue: NaN); Q2 600 / 100 - 1 = 5.
    result = kpi("revenue_growth", SALES, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=["2024-01-01", "2024-04-01"],
        value=[NAN, 5.0],
        numerator=[100, 600],
        denominator=[0, 100],
        n=[1, 2],
    )
    # Months: Feb 100 (Jan: none -> NaN); Apr 400 (March, the previous calendar month, had
    # no revenue: the gap gives NaN, not a comparison with Feb); May 200 / 400 - 1 = -0.5.
    check(
        kpi("revenue_growth", SALES, period="M"),
        period=["2024-02-01", "2024-04-01", "2024-05-01"],
        value=[NAN, NAN, -0.5],
        denominator=[0, 0, 400],
    )
    # By owner, per quarter: Q1 ann 100 -> NaN; Q2 ann 200 / 100 - 1 = 1; bob 400 (no Q1) NaN.
    check(
        kpi("revenue_growth", SALES, period="Q", by="owner"),
        period=["2024-01-01", "2024-04-01", "2024-04-01"],
        owner=["ann", "ann", "bob"],
        value=[NAN, 1.0, NAN],
        numerator=[100, 200, 400],
        denominator=[0, 100, 0],
    )


def test_revenue_growth_needs_a_period():
    with pytest.raises(ValueError, match="compares periods"):
        kw.kpi("revenue_growth", SALES)


def test_revenue_share_defaults_to_by_channel():
    # ads 600 / 700, web 100 / 700.
    result = kpi("revenue_share", SALES)
    assert list(result.columns) == ["channel", "value", "numerator", "denominator", "n"]
    check(
        result,
        channel=["ads", "web"],
        value=[6 / 7, 1 / 7],
        numerator=[600, 100],
        denominator=[700, 700],
        n=[2, 1],
    )
    # Per quarter by owner, shares of the quarter's revenue: Q1 ann 100/100; Q2 ann 200/600,
    # bob 400/600.
    check(
        kpi("revenue_share", SALES, period="Q", by="owner"),
        period=["2024-01-01", "2024-04-01", "2024-04-01"],
        owner=["ann", "ann", "bob"],
        value=[1.0, 1 / 3, 2 / 3],
        denominator=[100, 600, 600],
    )


def test_revenue_concentration():
    # Herfindahl across channels: ads 6/7, web 1/7 -> 36/49 + 1/49 = 37/49; n = 2 channels.
    result = kpi("revenue_concentration", SALES)
    assert list(result.columns) == ["value", "n"]
    check(result, value=[37 / 49], n=[2])
    # Per quarter: Q1 only web, Q2 only ads -> 1 each.
    check(kpi("revenue_concentration", SALES, period="Q"), value=[1.0, 1.0], n=[1, 1])
    # across owners: ann 300, bob 400 -> (3/7)^2 + (4/7)^2 = 25/49; per quarter Q1 ann -> 1,
    # Q2 bob 400, ann 200 -> (2/3)^2 + (1/3)^2 = 5/9.
    check(kpi("revenue_concentration", SALES, across="owner"), value=[25 / 49], n=[2])
    check(
        kpi("revenue_concentration", SALES, across="owner", period="Q"),
        period=["2024-01-01", "2024-04-01"],
        value=[1.0, 5 / 9],
        n=[1, 2],
    )
    with pytest.raises(ValueError, match="not a breakdown it allows"):
        kw.kpi("revenue_concentration", SALES, by="channel")


def test_average_order_value():
    # 700 / 3 won deals.
    check(kpi("average_order_value", SALES), value=[700 / 3], numerator=[700], denominator=[3])
    # Q1 100 / 1; Q2 600 / 2 = 300.
    check(
        kpi("average_order_value", SALES, period="Q"),
        value=[100, 300],
        numerator=[100, 600],
        denominator=[1, 2],
        n=[1, 2],
    )
    # By channel: ads 600 / 2 = 300; web 100 / 1.
    check(kpi("average_order_value", SALES, by="channel"), channel=["ads", "web"], value=[300, 100])


# -- sales_cycle_length ----------------------------------------------------------------------------


def test_sales_cycle_length():
    # Won deals, fractional days: o1 Jan 5 -> Feb 10 12:00 = 31 + 5 + 0.5 = 36.5;
    # o3 Feb 1 -> Apr 15 = 29 (leap Feb) + 31 + 14 = 74; o5 Apr 1 -> May 20 = 30 + 19 = 49.
    # Median of 36.5, 49, 74 = 49.
    result = kpi("sales_cycle_length", SALES)
    assert list(result.columns) == ["value", "n"]
    check(result, value=[49.0], n=[3])
    assert result.attrs["dropped_rows"] == {}
    # By close quarter: Q1 [36.5]; Q2 [74, 49] -> 61.5.
    check(kpi("sales_cycle_length", SALES, period="Q"), value=[36.5, 61.5], n=[1, 2])
    # By owner: ann [36.5, 49] -> 42.75; bob [74].
    check(kpi("sales_cycle_length", SALES, by="owner"), owner=["ann", "bob"], value=[42.75, 74])


def test_sales_cycle_length_leaves_out_and_counts_a_deal_closed_before_created():
    bad = _opps(
        [("o8", "H", "ann", "web", "smb", "pro", "2024-03-10", "2024-03-01", "won", 50, None)]
    )
    data = {"opportunities": pd.concat([OPPS, bad], ignore_index=True)}
    with pytest.warns(DroppedRowsWarning, match="closed before created") as caught:
        result = kw.kpi("sales_cycle_length", data, period="Q")
    # o8 (-9 days) is left out: Q1 is still o1's 36.5 from one deal.
    check(result, value=[36.5, 61.5], n=[1, 2])
    assert result.attrs["dropped_rows"] == {"closed before created": 1}
    assert [w.message.counts for w in caught if w.category is DroppedRowsWarning] == [
        {"closed before created": 1}
    ]


# -- pipeline_value / pipeline_volume --------------------------------------------------------------
#
# Open at a snapshot t: created_at < t and (closed_at null or closed_at >= t).
# End of Jan (t = Feb 1): o1 (closes Feb 10), o2 (Mar 5)             -> 400, 2 deals
# End of Feb (Mar 1):     o2, o3 (Apr 15), o4 (open)                  -> 950, 3
# End of Mar (Apr 1):     o3, o4 (o5 created exactly Apr 1: not yet)  -> 650, 2
# End of Apr (May 1):     o4, o5 (May 20)                             -> 450, 2
# End of May (Jun 1):     o4, o6 (closed exactly Jun 1: still open)   -> 400, 2
# End of Jun (Jul 1):     o4, o7                                      -> 750, 2


def test_pipeline_per_quarter_and_owner():
    # End of Q1 = end of March: 650 in 2 deals; end of Q2 = end of June: 750 in 2.
    result = kpi("pipeline_value", SALES, period="Q")
    assert list(result.columns) == ["period", "value", "n"]
    check(result, period=["2024-01-01", "2024-04-01"], value=[650, 750], n=[2, 2])
    check(kpi("pipeline_volume", SALES, period="Q"), value=[2, 2], n=[2, 2])
    # By owner: Q1 bob o3 + o4 = 650 (ann has nothing open: no row); Q2 ann o7 500, bob o4 250.
    check(
        kpi("pipeline_value", SALES, period="Q", by="owner"),
        period=["2024-01-01", "2024-04-01", "2024-04-01"],
        owner=["bob", "ann", "bob"],
        value=[650, 500, 250],
        n=[2, 1, 1],
    )


def test_pipeline_snapshot_edges_at_period_end():
    # A deal closed exactly at the period end (o6, Jun 1 00:00) is still open at the end of
    # May; a deal created exactly at the end (o5, Apr 1 00:00) is not yet open at the end of
    # March. Months with a creation: Jan, Feb, Apr, May, Jun.
    result = kpi("pipeline_value", SALES, period="M")
    got = dict(zip(result["period"].dt.strftime("%m"), result["value"], strict=True))
    assert got["01"] == 400
    assert got["02"] == 950
    assert got["04"] == 450
    assert got["05"] == 400  # o4 250 + o6 150
    assert got["06"] == 750
    volume = kpi("pipeline_volume", SALES, period="M").set_index("period")["value"]
    assert volume[pd.Timestamp("2024-05-01")] == 2  # o4, o6
    # One snapshot at end=: the same rule. Apr 1: o3, o4 (o5 created at Apr 1 is not in).
    check(kpi("pipeline_value", SALES, end="2024-04-01"), value=[650], n=[2])
    # Jun 1: o4 and o6 (closed exactly at Jun 1, still open then) -> 400.
    check(kpi("pipeline_value", SALES, end="2024-06-01"), value=[400], n=[2])
    check(kpi("pipeline_volume", SALES, end="2024-06-01"), value=[2], n=[2])


def test_pipeline_without_period_or_end_is_at_the_latest_timestamp():
    # The latest timestamp is o7's creation (Jun 10): open then o4 and o7 -> 750.
    check(kpi("pipeline_value", SALES), value=[750], n=[2])
    check(kpi("pipeline_volume", SALES, by="channel"), channel=["ads", "web"], value=[1, 1])


def test_pipeline_at_the_latest_timestamp_leaves_out_a_deal_closed_then():
    # Without o7 the latest timestamp is o6's close (Jun 1 00:00): o6 is closed at that
    # moment, so only o4 is open -> 250 (o5 closed May 20, o3 Apr 15).
    data = {"opportunities": OPPS[OPPS["opportunity_id"] != "o7"]}
    check(kpi("pipeline_value", data), value=[250], n=[1])
    # A deal created exactly at the latest timestamp is open then: o7 alone is created last.
    check(kpi("pipeline_volume", SALES), value=[2], n=[2])


def test_pipeline_quiet_period_still_has_its_snapshot():
    # End of March: o3, o4 open -> 650 (see the table above), though nothing was created then.
    check(
        kpi("pipeline_value", SALES, period="M"),
        period=[f"2024-0{m}-01" for m in range(1, 7)],
        value=[400, 950, 650, 450, 400, 750],
        n=[2, 3, 2, 2, 2, 2],
    )


# -- pipeline_coverage -----------------------------------------------------------------------------

QUOTAS = _frame(
    [
        ("ann", "2024-04-01", 1000.0),
        ("bob", "2024-04-01", 500.0),
        ("ann", "2024-07-01", 800.0),
        ("bob", "2024-07-01", 0.0),
    ],
    ["owner", "period", "quota"],
    ("period",),
)
COVERAGE = {"opportunities": OPPS, "quotas": QUOTAS}


def test_pipeline_coverage():
    # Q2 (Apr 1 - Jul 1): open at Apr 1 (created before, not closed by it): o3, o4 (o5 is
    # created exactly at Apr 1: not open at the start); both expected in Q2 (May 1, Jun 15):
    # 400 + 250 = 650 over quota 1000 + 500 = 1500. Q3: open at Jul 1: o4, o7; only o7 is
    # expected in Q3 (Aug 1): 500 / (800 + 0).
    result = kpi("pipeline_coverage", COVERAGE, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=["2024-04-01", "2024-07-01"],
        value=[650 / 1500, 500 / 800],
        numerator=[650, 500],
        denominator=[1500, 800],
        n=[2, 2],
    )
    # By owner: Q2 ann 0 / 1000 = 0, bob 650 / 500 = 1.3; Q3 ann 500 / 800, bob 0 / 0 -> NaN.
    check(
        kpi("pipeline_coverage", COVERAGE, period="Q", by="owner"),
        period=["2024-04-01", "2024-04-01", "2024-07-01", "2024-07-01"],
        owner=["ann", "bob", "ann", "bob"],
        value=[0.0, 1.3, 0.625, NAN],
        numerator=[0, 650, 500, 0],
        denominator=[1000, 500, 800, 0],
        n=[1, 1, 1, 1],
    )
    # start= keeps the quota periods from Jul 1 on: Q3 only.
    check(kpi("pipeline_coverage", COVERAGE, period="Q", start="2024-07-01"), value=[0.625])
    with pytest.raises(ValueError, match="compares periods"):
        kw.kpi("pipeline_coverage", COVERAGE)
    with pytest.raises(ValueError, match="not a breakdown it allows"):
        kw.kpi("pipeline_coverage", COVERAGE, period="Q", by="channel")


def test_pipeline_coverage_edges():
    # e1 closes exactly at Q2's start (Apr 1 00:00) and was expected then: still open at the
    # start, and expected in [Apr 1, Jul 1) -> counts in Q2. e2 is expected exactly at Q2's
    # end (Jul 1): not in Q2, but in Q3 (open at Jul 1, expected in [Jul 1, Oct 1)).
    extra = _opps(
        [
            ("e1", "X", "bob", "ads", "smb", "pro", "2024-03-01", "2024-04-01", "won", 30,
             "2024-04-01"),
            ("e2", "Y", "bob", "ads", "smb", "pro", "2024-03-02", None, "open", 70,
             "2024-07-01"),
        ]
    )  # fmt: skip
    data = {"opportunities": pd.concat([OPPS, extra], ignore_index=True), "quotas": QUOTAS}
    # Q2: 650 + 30 = 680 / 1500; Q3: 500 + 70 = 570 / 800.
    check(
        kpi("pipeline_coverage", data, period="Q"),
        period=["2024-04-01", "2024-07-01"],
        numerator=[680, 570],
        denominator=[1500, 800],
    )


# -- stage history: time_in_stage, stage_conversion, backward_moves --------------------------------
#
# s1: lead 01-01, qualified 01-03, proposal 01-08 12:00, closed_won 01-10
# s2: lead 01-02, qualified 01-06, lead 01-07 (back), closed_lost 02-09
# s3: lead 02-01, qualified 02-04, lead 02-20 (back; still there)
# Days in a stage until the next entry:
#   lead: s1 2, s2 4, s2 33 (Jan 7 -> Feb 9 = 24 + 9), s3 3; s3's last lead entry: none yet
#   qualified: s1 5.5, s2 1, s3 16;  proposal: s1 1.5;  closed_*: last entries, none
STAGES = _frame(
    [
        ("s1", "lead", "2024-01-01"),
        ("s1", "qualified", "2024-01-03"),
        ("s1", "proposal", "2024-01-08 12:00"),
        ("s1", "closed_won", "2024-01-10"),
        ("s2", "lead", "2024-01-02"),
        ("s2", "qualified", "2024-01-06"),
        ("s2", "lead", "2024-01-07"),
        ("s2", "closed_lost", "2024-02-09"),
        ("s3", "qualified", "2024-02-04"),  # rows out of order: the order is by entered_at
        ("s3", "lead", "2024-02-01"),
        ("s3", "lead", "2024-02-20"),
    ],
    ["opportunity_id", "stage", "entered_at"],
    ("entered_at",),
)
HISTORY = {"stage_history": STAGES}


def test_time_in_stage():
    # By stage (default): lead [2, 4, 33, 3] -> 3.5; proposal [1.5]; qualified [5.5, 1, 16]
    # -> 5.5. Stages with no finished stay (closed_*) have no row.
    result = kpi("time_in_stage", HISTORY)
    assert list(result.columns) == ["stage", "value", "n"]
    check(result, stage=["lead", "proposal", "qualified"], value=[3.5, 1.5, 5.5], n=[4, 1, 3])
    # Per month of entry: Jan lead [2, 4, 33] -> 4, proposal 1.5, qualified [5.5, 1] -> 3.25;
    # Feb lead [3], qualified [16].
    check(
        kpi("time_in_stage", HISTORY, period="M"),
        period=["2024-01-01"] * 3 + ["2024-02-01"] * 2,
        stage=["lead", "proposal", "qualified", "lead", "qualified"],
        value=[4, 1.5, 3.25, 3, 16],
        n=[3, 1, 2, 1, 1],
    )
    # No breakdown: [1, 1.5, 2, 3, 4, 5.5, 16, 33] -> (3 + 4) / 2.
    check(kpi("time_in_stage", HISTORY, by=[]), value=[3.5], n=[8])
    # end= filters the entries, not the next entry they are measured to: s2's lead entry of
    # Jan 7 still lasts 33 days though the next entry (Feb 9) is outside [.., Feb 1).
    check(
        kpi("time_in_stage", HISTORY, end="2024-02-01"),
        stage=["lead", "proposal", "qualified"],
        value=[4, 1.5, 3.25],
    )


def test_stage_conversion():
    # Entries outside closed_*: lead s1 Y, s2 Y, s2 Y, s3 Y, s3 (Feb 20) N -> 4/5;
    # proposal s1 Y -> 1/1; qualified s1, s2, s3 all moved on -> 3/3.
    result = kpi("stage_conversion", HISTORY)
    assert list(result.columns) == ["stage", "value", "numerator", "denominator", "n"]
    check(
        result,
        stage=["lead", "proposal", "qualified"],
        value=[0.8, 1.0, 1.0],
        numerator=[4, 1, 3],
        denominator=[5, 1, 3],
        n=[5, 1, 3],
    )
    # No breakdown: 8 of 9 entries moved on.
    check(kpi("stage_conversion", HISTORY, by=[]), value=[8 / 9], numerator=[8], denominator=[9])
    # Per month: Jan lead 3/3, proposal 1/1, qualified 2/2; Feb lead 1/2, qualified 1/1.
    check(
        kpi("stage_conversion", HISTORY, period="M"),
        period=["2024-01-01"] * 3 + ["2024-02-01"] * 2,
        stage=["lead", "proposal", "qualified", "lead", "qualified"],
        value=[1, 1, 1, 0.5, 1],
        denominator=[3, 1, 2, 2, 1],
    )


def test_backward_moves():
    # Re-entries of a stage already entered: s2 lead Jan 7, s3 lead Feb 20 -> 2.
    result = kpi("backward_moves", HISTORY)
    assert list(result.columns) == ["value", "n"]
    check(result, value=[2], n=[2])
    check(kpi("backward_moves", HISTORY, period="M"), period=["2024-01-01", "2024-02-01"],
          value=[1, 1])  # fmt: skip
    check(kpi("backward_moves", HISTORY, by="stage"), stage=["lead"], value=[2])
    # A window does not forget earlier entries: from Jan 5 on, s2's lead entry of Jan 7 is
    # still a re-entry (its first lead entry, Jan 2, is before the window).
    check(kpi("backward_moves", HISTORY, start="2024-01-05"), value=[2])
    check(kpi("backward_moves", HISTORY, start="2024-01-05", end="2024-02-01"), value=[1])


def test_a_bounce_back_and_forth_is_one_backward_move():
    # lead → qualified → lead → qualified: only the move back to lead is backward (lead was
    # first reached before qualified); going on to qualified again is forward.
    bounce = _frame(
        [
            ("b1", "lead", "2024-01-01"),
            ("b1", "qualified", "2024-01-02"),
            ("b1", "lead", "2024-01-03"),
            ("b1", "qualified", "2024-01-04"),
        ],
        ["opportunity_id", "stage", "entered_at"],
        ("entered_at",),
    )
    check(kpi("backward_moves", {"stage_history": bounce}), value=[1], n=[1])


# -- customers: the monthly revenue table ----------------------------------------------------------
#
# MRR by month (Dec 2023 - Jun 2024); a blank is no customer that month.
#        Dec  Jan  Feb  Mar  Apr  May  Jun
#   A    100  100  100  150  150  150  250   expands (Jun in two rows: 200 + 50)
#   B    200  200  150  150  150             contracts in Q1, churns in Q2
#   C    300  300  300   0¹                  churns in Q1 (¹ a zero row: not a customer)
#   D              50   50   50   40   40    new in Q1, contracts in Q2
#   E                   80   80   80   80    new in Q1 (March), flat
# First won deal (its channel is the account's): A web, B ads, C web, D ads, E web.
#
# Q1 2024: opening = Dec {A 100, B 200, C 300} (600); closing = Mar {A 150, B 150, D 50, E 80}
# Q2 2024: opening = Mar {A 150, B 150, D 50, E 80} (430); closing = Jun {A 250, D 40, E 80}
# Q4 2023: no opening (Nov is not in the data): no retention row.
REVENUE = _frame(
    [
        ("A", "2023-12-01", 100.0), ("A", "2024-01-01", 100.0), ("A", "2024-02-01", 100.0),
        ("A", "2024-03-01", 150.0), ("A", "2024-04-01", 150.0), ("A", "2024-05-01", 150.0),
        ("A", "2024-06-01", 200.0), ("A", "2024-06-20", 50.0),
        ("B", "2023-12-01", 200.0), ("B", "2024-01-01", 200.0), ("B", "2024-02-01", 150.0),
        ("B", "2024-03-01", 150.0), ("B", "2024-04-01", 150.0),
        ("C", "2023-12-01", 300.0), ("C", "2024-01-01", 300.0), ("C", "2024-02-01", 300.0),
        ("C", "2024-03-01", 0.0),
        ("D", "2024-02-01", 50.0), ("D", "2024-03-01", 50.0), ("D", "2024-04-01", 50.0),
        ("D", "2024-05-01", 40.0), ("D", "2024-06-01", 40.0),
        ("E", "2024-03-01", 80.0), ("E", "2024-04-01", 80.0), ("E", "2024-05-01", 80.0),
        ("E", "2024-06-01", 80.0),
    ],
    ["account_id", "month", "mrr"],
    ("month",),
)  # fmt: skip

# Won deals by account (first one per account: A Nov, B Dec, C Dec (Q4 2023); D Jan, E Feb
# (Q1); G May (Q2)). A's second deal (ads, Apr) changes neither its channel nor makes it new;
# F's lost deal makes no customer.
CUSTOMER_OPPS = _opps(
    [
        ("c1", "A", "ann", "web", "smb", "basic", "2023-11-01", "2023-11-15", "won", 1000, None),
        ("c2", "B", "ann", "ads", "ent", "pro", "2023-11-20", "2023-12-10", "won", 2000, None),
        ("c3", "C", "bob", "web", "smb", "pro", "2023-12-01", "2023-12-20", "won", 3000, None),
        ("c4", "D", "bob", "ads", "smb", "basic", "2024-01-02", "2024-01-25", "won", 500, None),
        ("c5", "E", "ann", "web", "ent", "basic", "2024-02-01", "2024-02-20", "won", 800, None),
        ("c6", "A", "ann", "ads", "smb", "pro", "2024-03-01", "2024-04-10", "won", 400, None),
        ("c7", "F", "bob", "web", "smb", "pro", "2024-04-01", "2024-05-05", "lost", 100, None),
        ("c8", "G", "bob", "ads", "ent", "pro", "2024-05-01", "2024-05-15", "won", 600, None),
    ]
)

SPEND = _frame(
    [
        ("2023-12-05", "web", "c1", "marketing", 300.0),
        ("2023-12-05", "ads", "c2", "sales", 250.0),
        ("2024-01-10", "web", "c1", "marketing", 200.0),
        ("2024-02-10", "ads", "c2", "marketing", 100.0),
        ("2024-03-01", "ads", "c3", "sales", 120.0),
        ("2024-05-01", "web", "c1", "marketing", 90.0),
        ("2024-06-30", "ads", "c2", "sales", 70.0),
    ],
    ["date", "channel", "campaign", "team", "amount"],
    ("date",),
)
CUSTOMERS = {"revenue": REVENUE, "opportunities": CUSTOMER_OPPS, "spend": SPEND}
Q1_Q2 = ["2024-01-01", "2024-04-01"]


def test_customer_retention_rate():
    # Q1: of {A, B, C}, A and B pay in March -> 2/3. Q2: of {A, B, D, E}, A, D, E pay in
    # June -> 3/4. New customers (D, E in Q1; none in Q2) are in neither number.
    result = kpi("customer_retention_rate", CUSTOMERS, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=Q1_Q2,
        value=[2 / 3, 3 / 4],
        numerator=[2, 3],
        denominator=[3, 4],
        n=[3, 4],
    )
    # Whole range: opening = the first month (Dec: A, B, C), closing = the last (Jun): A -> 1/3.
    check(kpi("customer_retention_rate", CUSTOMERS), value=[1 / 3], numerator=[1], n=[3])
    # By channel: Q1 ads {B} 1/1, web {A, C} 1/2; Q2 ads {B, D} 1/2 (D), web {A, E} 2/2.
    check(
        kpi("customer_retention_rate", CUSTOMERS, period="Q", by="channel"),
        period=["2024-01-01"] * 2 + ["2024-04-01"] * 2,
        channel=["ads", "web", "ads", "web"],
        value=[1.0, 0.5, 0.5, 1.0],
        denominator=[1, 2, 2, 2],
    )


def test_churn_rate():
    # Q1: C of {A, B, C} -> 1/3; Q2: B of {A, B, D, E} -> 1/4; whole range: B, C of Dec's
    # {A, B, C} are gone by June -> 2/3.
    check(
        kpi("churn_rate", CUSTOMERS, period="Q"),
        period=Q1_Q2,
        value=[1 / 3, 1 / 4],
        numerator=[1, 1],
        denominator=[3, 4],
        n=[3, 4],
    )
    check(kpi("churn_rate", CUSTOMERS), value=[2 / 3], numerator=[2], denominator=[3])
    # By channel: Q1 ads 0/1, web 1/2 (C); Q2 ads 1/2 (B), web 0/2.
    check(
        kpi("churn_rate", CUSTOMERS, period="Q", by="channel"),
        channel=["ads", "web", "ads", "web"],
        value=[0.0, 0.5, 0.5, 0.0],
    )


def test_net_revenue_retention():
    # Q1: (A 150 + B 150 + C 0) / (100 + 200 + 300) = 300 / 600 = 0.5.
    # Q2: (A 250 + B 0 + D 40 + E 80) / (150 + 150 + 50 + 80) = 370 / 430.
    check(
        kpi("net_revenue_retention", CUSTOMERS, period="Q"),
        period=Q1_Q2,
        value=[0.5, 370 / 430],
        numerator=[300, 370],
        denominator=[600, 430],
        n=[3, 4],
    )
    # Whole range: Jun MRR of Dec's customers A 250 / Dec's 600.
    check(kpi("net_revenue_retention", CUSTOMERS), value=[250 / 600], numerator=[250], n=[3])
    # By channel: Q1 ads B 150/200, web A 150/(100 + 300); Q2 ads D 40/(150 + 50),
    # web (250 + 80)/(150 + 80) = 330/230 (expansion above 1).
    check(
        kpi("net_revenue_retention", CUSTOMERS, period="Q", by="channel"),
        channel=["ads", "web", "ads", "web"],
        value=[0.75, 0.375, 0.2, 330 / 230],
        numerator=[150, 150, 40, 330],
        denominator=[200, 400, 200, 230],
    )


def test_gross_revenue_retention():
    # Q1: min(150, 100) + min(150, 200) + 0 = 250 / 600. Q2: min(250, 150) + 0 + min(40, 50)
    # + min(80, 80) = 270 / 430.
    check(
        kpi("gross_revenue_retention", CUSTOMERS, period="Q"),
        period=Q1_Q2,
        value=[250 / 600, 270 / 430],
        numerator=[250, 270],
        denominator=[600, 430],
        n=[3, 4],
    )
    # Whole range: min(250, 100) / 600.
    check(kpi("gross_revenue_retention", CUSTOMERS), value=[100 / 600], numerator=[100])
    # By channel: Q1 ads 150/200, web 100/400; Q2 ads 40/200, web (150 + 80)/230 = 1.
    check(
        kpi("gross_revenue_retention", CUSTOMERS, period="Q", by="channel"),
        channel=["ads", "web", "ads", "web"],
        value=[0.75, 0.25, 0.2, 1.0],
    )


def test_a_running_period_closes_at_the_data_last_month():
    # end= Jun 1 leaves June out: Q2 closes at May {A 150, D 40, E 80}.
    # Retention 3/4 (B gone); NRR = (150 + 40 + 80) / 430; ARPA Q2 = 270 / 3 = 90.
    window = {"end": "2024-06-01", "period": "Q"}
    check(kpi("customer_retention_rate", CUSTOMERS, **window), value=[2 / 3, 3 / 4])
    check(kpi("net_revenue_retention", CUSTOMERS, **window), value=[0.5, 270 / 430])
    check(kpi("revenue_per_account", CUSTOMERS, **window), value=[200, 107.5, 90])


def test_opening_needs_the_month_right_before_the_period():
    # Q4 2023 has data for November only, so Q1's opening month (December) is not in the
    # data: Q1 has no opening customers and no retention row (November is not December).
    # Q2's opening is March: A 100 -> A 100 in June (retained).
    gap = _frame(
        [
            ("A", "2023-11-01", 100.0),
            ("A", "2024-01-01", 100.0),
            ("A", "2024-03-01", 100.0),
            ("A", "2024-06-01", 100.0),
        ],
        ["account_id", "month", "mrr"],
        ("month",),
    )
    check(
        kpi("customer_retention_rate", {"revenue": gap}, period="Q"),
        period=["2024-04-01"],
        value=[1.0],
        n=[1],
    )


def test_start_keeps_the_opening_month_of_the_first_period():
    # Same Q2 numbers as without start= (opening = March, before the start).
    check(kpi("customer_retention_rate", CUSTOMERS, period="Q", start="2024-04-01"),
          period=["2024-04-01"], value=[3 / 4], n=[4])  # fmt: skip
    check(kpi("net_revenue_retention", CUSTOMERS, period="Q", start="2024-04-01"),
          value=[370 / 430])  # fmt: skip


def test_revenue_per_account():
    # At each quarter's close: Q4 2023 Dec 600 / 3; Q1 Mar 430 / 4; Q2 Jun 370 / 3.
    result = kpi("revenue_per_account", CUSTOMERS, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=["2023-10-01", *Q1_Q2],
        value=[200, 107.5, 370 / 3],
        numerator=[600, 430, 370],
        denominator=[3, 4, 3],
        n=[3, 4, 3],
    )
    # Whole range: the last month, June.
    check(kpi("revenue_per_account", CUSTOMERS), value=[370 / 3], n=[3])
    # Q2 by channel: ads D 40; web (A 250 + E 80) / 2 = 165.
    check(
        kpi("revenue_per_account", CUSTOMERS, period="Q", by="channel", start="2024-04-01"),
        channel=["ads", "web"],
        value=[40, 165],
        denominator=[1, 2],
    )


# Monthly churn (pooled), each month-to-month step counted in the period of its later month:
#   Dec->Jan {A,B,C} 0/3; Jan->Feb {A,B,C} 0/3; Feb->Mar {A,B,C,D} lost C 1/4   Q1: 1/10
#   Mar->Apr {A,B,D,E} 0/4; Apr->May lost B 1/4; May->Jun {A,D,E} 0/3            Q2: 1/11
# By channel: Q1 web {A,C},{A,C},{A,C} 1/6, ads {B},{B},{B,D} 0/4;
#             Q2 web {A,E} x3 0/6, ads {B,D},{B,D},{D} 1/5.


def test_customer_lifetime_value():
    # CLV = ARPA x margin / monthly churn: Q1 107.5 / (1/10) = 1075; Q2 (370/3) / (1/11).
    # Q4 2023 has an ARPA but no month-to-month step: no row. n = the steps behind the churn.
    result = kpi("customer_lifetime_value", CUSTOMERS, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=Q1_Q2,
        value=[1075, 370 / 3 * 11],
        numerator=[107.5, 370 / 3],
        denominator=[1 / 10, 1 / 11],
        n=[10, 11],
    )
    # gross_margin 0.8: 86 / 0.1 = 860; Q2 0.8 x 370/3 x 11.
    check(
        kpi("customer_lifetime_value", CUSTOMERS, period="Q", gross_margin=0.8),
        value=[860, 0.8 * 370 / 3 * 11],
        numerator=[86, 0.8 * 370 / 3],
    )
    # Whole range: ARPA 370/3, churn 2/21 -> 370/3 x 21/2 = 1295.
    check(kpi("customer_lifetime_value", CUSTOMERS), value=[1295], denominator=[2 / 21], n=[21])
    # By channel: Q1 ads 100 / 0 -> NaN, web 115 / (1/6) = 690; Q2 ads 40 / (1/5) = 200,
    # web 165 / 0 -> NaN.
    check(
        kpi("customer_lifetime_value", CUSTOMERS, period="Q", by="channel"),
        period=["2024-01-01"] * 2 + ["2024-04-01"] * 2,
        channel=["ads", "web", "ads", "web"],
        value=[NAN, 690, 200, NAN],
        numerator=[100, 115, 40, 165],
        denominator=[0, 1 / 6, 1 / 5, 0],
        n=[4, 6, 5, 6],
    )


# New customers: Q4 2023 A, B, C; Q1 D, E; Q2 G (by channel: Q4 web A, C / ads B; Q1 ads D,
# web E; Q2 ads G). Spend: Q4 marketing 300 (web) + sales 250 (ads); Q1 marketing 200 (web)
# + 100 (ads) + sales 120 (ads); Q2 marketing 90 (web) + sales 70 (ads).


def test_customer_acquisition_cost():
    # With sales spend (default): Q4 550 / 3; Q1 420 / 2 = 210; Q2 160 / 1.
    result = kpi("customer_acquisition_cost", CUSTOMERS, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=["2023-10-01", *Q1_Q2],
        value=[550 / 3, 210, 160],
        numerator=[550, 420, 160],
        denominator=[3, 2, 1],
        n=[3, 2, 1],
    )
    # Marketing only: Q4 300 / 3 = 100; Q1 300 / 2 = 150; Q2 90 / 1.
    check(
        kpi("customer_acquisition_cost", CUSTOMERS, period="Q", sales_spend=False),
        value=[100, 150, 90],
        numerator=[300, 300, 90],
    )
    # Whole range: 1130 / 6; marketing only 690 / 6 = 115.
    check(kpi("customer_acquisition_cost", CUSTOMERS), value=[1130 / 6], n=[6])
    check(kpi("customer_acquisition_cost", CUSTOMERS, sales_spend=False), value=[115])
    # By channel: Q4 ads 250/1, web 300/2; Q1 ads 220/1, web 200/1; Q2 ads 70/1, web 90/0 NaN.
    check(
        kpi("customer_acquisition_cost", CUSTOMERS, period="Q", by="channel"),
        period=["2023-10-01"] * 2 + ["2024-01-01"] * 2 + ["2024-04-01"] * 2,
        channel=["ads", "web"] * 3,
        value=[250, 150, 220, 200, 70, NAN],
        numerator=[250, 300, 220, 200, 70, 90],
        denominator=[1, 2, 1, 1, 1, 0],
        n=[1, 2, 1, 1, 1, 0],
    )


def test_clv_to_cac():
    # Q1 1075 / 210; Q2 (4070/3) / 160 (Q4 2023 has no CLV: no row); n = CLV's.
    result = kpi("clv_to_cac", CUSTOMERS, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=Q1_Q2,
        value=[1075 / 210, 4070 / 3 / 160],
        numerator=[1075, 4070 / 3],
        denominator=[210, 160],
        n=[10, 11],
    )
    # Whole range: 1295 / (1130 / 6).
    check(kpi("clv_to_cac", CUSTOMERS), value=[1295 / (1130 / 6)])
    # gross_margin 0.8, marketing only: Q1 860 / 150; Q2 0.8 x 4070/3 / 90.
    check(
        kpi("clv_to_cac", CUSTOMERS, period="Q", gross_margin=0.8, sales_spend=False),
        value=[860 / 150, 0.8 * 4070 / 3 / 90],
    )
    # By channel: Q1 ads CLV NaN -> NaN, web 690 / 200; Q2 ads 200 / 70, web NaN / NaN.
    check(
        kpi("clv_to_cac", CUSTOMERS, period="Q", by="channel"),
        channel=["ads", "web", "ads", "web"],
        value=[NAN, 690 / 200, 200 / 70, NAN],
    )


def test_cac_payback_months():
    # CAC / (ARPA x margin): Q4 (550/3) / 200; Q1 210 / 107.5; Q2 160 / (370/3); n = CAC's.
    result = kpi("cac_payback_months", CUSTOMERS, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=["2023-10-01", *Q1_Q2],
        value=[550 / 3 / 200, 210 / 107.5, 160 / (370 / 3)],
        numerator=[550 / 3, 210, 160],
        denominator=[200, 107.5, 370 / 3],
        n=[3, 2, 1],
    )
    # gross_margin 0.5, marketing only: Q1 150 / 53.75.
    result = kpi("cac_payback_months", CUSTOMERS, period="Q", gross_margin=0.5, sales_spend=False)
    check(result, value=[100 / 100, 150 / 53.75, 90 / (185 / 3)])
    # Whole range: (1130/6) / (370/3).
    check(kpi("cac_payback_months", CUSTOMERS), value=[1130 / 6 / (370 / 3)], n=[6])
    # Q2 by channel: ads 70 / 40; web CAC NaN -> NaN.
    check(
        kpi("cac_payback_months", CUSTOMERS, period="Q", by="channel", start="2024-04-01"),
        channel=["ads", "web"],
        value=[70 / 40, NAN],
    )


# -- forecast_accuracy -----------------------------------------------------------------------------
#
# Won: ann Q1 100, Q2 200; bob Q1 300, Q2 nothing (bob's lost deal and his open July deal
# count nothing; the July deal makes Q2 complete). Actuals: ann 100, 200; bob 300, 0.
FORECAST_OPPS = _opps(
    [
        ("f1", "A", "ann", "web", "smb", "pro", "2024-01-02", "2024-02-10", "won", 100, None),
        ("f2", "B", "bob", "web", "smb", "pro", "2024-01-03", "2024-03-20", "won", 300, None),
        ("f3", "C", "ann", "web", "smb", "pro", "2024-04-02", "2024-05-05", "won", 200, None),
        ("f4", "D", "bob", "web", "smb", "pro", "2024-04-03", "2024-06-01", "lost", 999, None),
        ("f5", "E", "bob", "web", "smb", "pro", "2024-07-02", None, "open", 50, None),
    ]
)
# Commit calls; the last week of each quarter is week 12 (Mar 25/26 = day 84/85 of Q1,
# Jun 24 = day 84 of Q2). bob's manager overrides his Q1 week-12 call (final = 280).
FORECASTS = _frame(
    [
        ("ann", "2024-01-01", "2024-01-08", "commit", 150.0, "rep"),
        ("ann", "2024-01-01", "2024-03-25", "commit", 130.0, "rep"),
        ("ann", "2024-01-01", "2024-03-25", "best_case", 250.0, "rep"),
        ("bob", "2024-01-01", "2024-01-08", "commit", 500.0, "rep"),
        ("bob", "2024-01-01", "2024-03-25", "commit", 250.0, "rep"),
        ("bob", "2024-01-01", "2024-03-26", "commit", 280.0, "manager"),
        ("ann", "2024-04-01", "2024-06-24", "commit", 240.0, "rep"),
        ("bob", "2024-04-01", "2024-06-24", "commit", 50.0, "rep"),
        ("ann", "2024-07-01", "2024-07-02", "commit", 999.0, "rep"),  # Q3: no actual yet
    ],
    ["owner", "period", "snapshot_date", "category", "amount", "submitted_by"],
    ("period", "snapshot_date"),
)
PLANS = {"forecasts": FORECASTS, "opportunities": FORECAST_OPPS}


def test_forecast_accuracy():
    # Q1: F = 130 + 280 = 410, A = 100 + 300 = 400 -> 1 - 10/400 = 0.975.
    # Q2: F = 240 + 50 = 290, A = 200 + 0 -> 1 - 90/200 = 0.55. n = owners' calls.
    result = kpi("forecast_accuracy", PLANS, period="Q")
    assert list(result.columns) == ["period", "value", "numerator", "denominator", "n"]
    check(
        result,
        period=Q1_Q2,
        value=[0.975, 0.55],
        numerator=[410, 290],
        denominator=[400, 200],
        n=[2, 2],
    )
    # Whole range: F 700, A 600 -> 1 - 100/600.
    check(kpi("forecast_accuracy", PLANS), value=[1 - 100 / 600], numerator=[700], n=[4])
    # By owner: Q1 ann 1 - 30/100 = 0.7, bob 1 - 20/300; Q2 ann 1 - 40/200 = 0.8, bob against
    # an actual of 0 -> NaN.
    check(
        kpi("forecast_accuracy", PLANS, period="Q", by="owner"),
        period=["2024-01-01"] * 2 + ["2024-04-01"] * 2,
        owner=["ann", "bob", "ann", "bob"],
        value=[0.7, 1 - 20 / 300, 0.8, NAN],
        numerator=[130, 280, 240, 50],
        denominator=[100, 300, 200, 0],
        n=[1, 1, 1, 1],
    )
    # Whole range by owner: ann 370 vs 300 -> 1 - 70/300; bob 330 vs 300 -> 0.9.
    check(
        kpi("forecast_accuracy", PLANS, by="owner"),
        owner=["ann", "bob"],
        value=[1 - 70 / 300, 0.9],
    )
    # start= on the forecast period: Q2 only.
    check(kpi("forecast_accuracy", PLANS, period="Q", start="2024-04-01"), value=[0.55])


def test_forecast_accuracy_other_category_is_clipped_at_zero():
    # best_case: only ann's Q1 call, 250 vs 100 -> 1 - 150/100 < 0 -> 0.
    check(
        kpi("forecast_accuracy", PLANS, period="Q", category="best_case"),
        period=["2024-01-01"],
        value=[0.0],
        numerator=[250],
        denominator=[100],
    )


# -- marketing_roi (registered in sales.py) --------------------------------------------------------


def test_marketing_roi():
    # Leads' channels: o1's lead ads (its deal says web), o3's lead ads, o5's lead web.
    leads = _frame(
        [("Lo1", "2024-01-01", "ads"), ("Lo3", "2024-01-02", "ads"), ("Lo5", "2024-03-01", "web")],
        ["lead_id", "created_at", "channel"],
        ("created_at",),
    )
    spend = _frame(
        [
            ("2024-01-10", "web", "c1", "marketing", 100.0),
            ("2024-02-10", "ads", "c2", "marketing", 200.0),
            ("2024-02-11", "ads", "c2", "sales", 999.0),  # not marketing spend
        ],
        ["date", "channel", "campaign", "team", "amount"],
        ("date",),
    )
    data = {"opportunities": OPPS, "leads": leads, "spend": spend}
    # (700 - 300) / 300.
    check(kpi("marketing_roi", data), value=[400 / 300], numerator=[700], denominator=[300])
    # By the lead's channel: ads (100 + 400 - 200) / 200 = 1.5; web (200 - 100) / 100 = 1.
    check(kpi("marketing_roi", data, by="channel"), channel=["ads", "web"], value=[1.5, 1.0])
    # By the deal's channel: ads (400 + 200 - 200) / 200 = 2; web (100 - 100) / 100 = 0.
    check(
        kpi("marketing_roi", data, by="channel", attribution="opportunity"),
        channel=["ads", "web"],
        value=[2.0, 0.0],
    )


# -- rows left out, the catalog, engines -----------------------------------------------------------


def test_a_won_deal_without_close_date_is_counted_as_left_out():
    lost_date = _opps(
        [("o9", "H", "bob", "ads", "smb", "pro", "2024-03-01", None, "won", 70, None)]
    )
    data = {"opportunities": pd.concat([OPPS, lost_date], ignore_index=True)}
    with pytest.warns(DroppedRowsWarning):
        result = kw.kpi("revenue", data)
    check(result, value=[700], n=[3])
    assert sum(result.attrs["dropped_rows"].values()) == 1


COVERED = {
    "opportunity_win_rate",
    "closed_deal_ratio",
    "revenue",
    "product_revenue",
    "revenue_growth",
    "revenue_share",
    "revenue_concentration",
    "average_order_value",
    "sales_cycle_length",
    "pipeline_value",
    "pipeline_volume",
    "pipeline_coverage",
    "marketing_roi",
    "time_in_stage",
    "stage_conversion",
    "backward_moves",
    "customer_retention_rate",
    "churn_rate",
    "net_revenue_retention",
    "gross_revenue_retention",
    "revenue_per_account",
    "customer_lifetime_value",
    "customer_acquisition_cost",
    "clv_to_cac",
    "cac_payback_months",
    "forecast_accuracy",
}
_MODULES = {f"kpiwidgets.metrics.kpis.{m}" for m in ("sales", "pipeline", "customers", "plans")}


def test_every_kpi_of_these_modules_is_tested_here():
    assert {k.name for k in REGISTRY.values() if k.func.__module__ in _MODULES} == COVERED


def test_catalog_entries():
    catalog = kw.kpi_catalog().set_index("name")
    assert set(catalog.index) >= COVERED
    for name in COVERED:
        row = catalog.loc[name]
        assert row["formula"] and row["unit"] and row["better"] in ("higher", "lower")
        assert row["tables"]
    sales_cycle = catalog.loc["sales_cycle_length"]
    assert (sales_cycle["unit"], sales_cycle["better"]) == ("days", "lower")
    assert sales_cycle["by"] == ["channel", "owner", "segment", "product"]
    assert catalog.loc["product_revenue", "default_by"] == "product"
    assert catalog.loc["revenue_share", "default_by"] == "channel"
    assert catalog.loc["time_in_stage", "default_by"] == "stage"
    assert catalog.loc["revenue_growth", "needs_period"]
    assert catalog.loc["pipeline_coverage", "needs_period"]
    assert catalog.loc["pipeline_coverage", "tables"] == ["opportunities", "quotas"]
    assert catalog.loc["revenue_concentration", "by"] == []
    assert catalog.loc["opportunity_win_rate", "options"]["over"][0] == "closed"
    assert catalog.loc["customer_lifetime_value", "options"]["gross_margin"][0] == 1.0
    assert catalog.loc["customer_acquisition_cost", "options"]["sales_spend"][0] is True
    assert set(catalog.loc["clv_to_cac", "options"]) == {"gross_margin", "sales_spend"}
    assert catalog.loc["churn_rate", "better"] == "lower"
    assert catalog.loc["cac_payback_months", "unit"] == "months"
    assert catalog.loc["forecast_accuracy", "tables"] == ["forecasts", "opportunities"]
    for name in ("revenue", "churn_rate", "forecast_accuracy"):
        assert catalog.loc[name, "group"] in ("sales", "customers")


def test_wrong_arguments_are_refused():
    with pytest.raises(TypeError, match="unknown option"):
        kw.kpi("revenue", SALES, gross_margin=0.5)
    with pytest.raises(ValueError, match="not a breakdown it allows"):
        kw.kpi("churn_rate", CUSTOMERS, by="owner")
    with pytest.raises(ValueError, match="no 'quotas' table"):
        kw.kpi("pipeline_coverage", SALES, period="Q")


# Each KPI on a non-pandas engine gives the pandas numbers (hand-checked above).
ENGINE_CASES = [
    ("opportunity_win_rate", SALES, {"period": "Q", "by": "owner"}),
    ("opportunity_win_rate", SALES, {"over": "all"}),
    ("revenue_growth", SALES, {"period": "M"}),
    ("revenue_share", SALES, {"period": "Q"}),
    ("revenue_concentration", SALES, {"period": "Q", "across": "owner"}),
    ("sales_cycle_length", SALES, {"by": "owner"}),
    ("pipeline_value", SALES, {"period": "Q", "by": "owner"}),
    ("pipeline_volume", SALES, {"end": "2024-06-01"}),
    ("pipeline_coverage", COVERAGE, {"period": "Q", "by": "owner"}),
    ("time_in_stage", HISTORY, {"period": "M"}),
    ("stage_conversion", HISTORY, {}),
    ("backward_moves", HISTORY, {"period": "M"}),
    ("customer_retention_rate", CUSTOMERS, {"period": "Q", "by": "channel"}),
    ("net_revenue_retention", CUSTOMERS, {"period": "Q"}),
    ("gross_revenue_retention", CUSTOMERS, {}),
    ("customer_lifetime_value", CUSTOMERS, {"period": "Q", "by": "channel"}),
    ("customer_acquisition_cost", CUSTOMERS, {"period": "Q", "by": "channel"}),
    ("clv_to_cac", CUSTOMERS, {"period": "Q"}),
    ("cac_payback_months", CUSTOMERS, {"period": "Q"}),
    ("forecast_accuracy", PLANS, {"period": "Q", "by": "owner"}),
]


@pytest.mark.parametrize(("name", "data", "kwargs"), ENGINE_CASES, ids=[c[0] for c in ENGINE_CASES])
def test_engines_agree_with_pandas(engine, name, data, kwargs):
    want = kw.kpi(name, data, **kwargs)
    got = kw.kpi(name, {t: engine.convert(f) for t, f in data.items()}, **kwargs)
    assert isinstance(got, engine.kind)
    got = to_pandas(got)
    assert list(got.columns) == list(want.columns)
    expected = {c: want[c].tolist() for c in want.columns}
    if "period" in want:
        expected["period"] = want["period"].dt.strftime("%Y-%m-%d").tolist()
    check(got, **expected)
    assert not any(isinstance(v, float) and math.isinf(v) for v in got["value"])

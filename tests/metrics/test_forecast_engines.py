"""Forecast metrics on every engine (pandas, polars eager and lazy, DuckDB, and here also
pyarrow tables): the same hand-worked numbers, the engine's own frame type back, and an
independent DuckDB SQL check on generated calls."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import kpiwidgets as kw
from tests.conftest import ENGINES, Engine
from tests.helpers import to_pandas

PYARROW = Engine("pyarrow", lambda df: pa.Table.from_pandas(df, preserve_index=False), pa.Table)


@pytest.fixture(params=[*ENGINES, "pyarrow"])
def engine(request) -> Engine:
    """The shared engines, plus pyarrow tables (run by DuckDB, returned as Arrow)."""
    return PYARROW if request.param == "pyarrow" else ENGINES[request.param]


Q1, Q2, Q3 = "2025-01-01", "2025-04-01", "2025-07-01"


def _forecasts(rows):
    """rows: (owner, period, days after the period start, amount); all commit calls."""
    frame = pd.DataFrame(rows, columns=["owner", "period", "day", "amount"])
    frame["period"] = pd.to_datetime(frame["period"])
    frame["snapshot_date"] = frame["period"] + pd.to_timedelta(frame.pop("day"), unit="D")
    frame["category"] = "commit"
    return frame


def _actuals(rows):
    frame = pd.DataFrame(rows, columns=["owner", "period", "amount"])
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


def _run(engine, function, *frames, **kwargs):
    """Call ``function`` on the engine's frames; check the result's type; return pandas."""
    result = function(*(engine.convert(f) for f in frames), **kwargs)
    assert isinstance(result, engine.kind), type(result)
    return to_pandas(result).reset_index(drop=True)


# --- forecast_accuracy ----------------------------------------------------------------------


def test_accuracy_rows_on_every_engine(engine):
    forecasts = _forecasts(
        [("ava", Q1, -1, 90.0), ("ava", Q1, 6, 80.0), ("ava", Q1, 7, 130.0), ("ava", Q1, 14, 250.0)]
    )
    out = _run(engine, kw.forecast_accuracy, forecasts, _actuals([("ava", Q1, 100.0)]))
    # days -1, 6, 7, 14 -> weeks floor(d / 7) = -1, 0, 1, 2
    assert out["week_of_period"].tolist() == [-1, 0, 1, 2]
    # error = F - A
    assert out["error"].tolist() == [-10.0, -20.0, 30.0, 150.0]
    # accuracy = max(0, 1 - |F-A|/A): 0.9, 0.8, 0.7, max(0, -0.5) = 0
    assert out["accuracy"].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.0])
    assert out["attainment"].tolist() == pytest.approx([0.9, 0.8, 1.3, 2.5])
    # smape = 2|F-A|/(A+F)
    assert out["smape"].tolist() == pytest.approx([20 / 190, 40 / 180, 60 / 230, 300 / 350])


def test_accuracy_zero_actual_is_nan_on_every_engine(engine):
    forecasts = _forecasts([("ava", Q1, 0, 90.0), ("bo", Q1, 0, 20.0)])
    actuals = _actuals([("ava", Q1, 100.0), ("bo", Q1, 0.0)])
    out = _run(engine, kw.forecast_accuracy, forecasts, actuals)
    assert out["owner"].tolist() == ["ava", "bo"]
    assert out["error"].tolist() == [-10.0, 20.0]
    # bo's ratios are NaN (A = 0); ava: 1 - 10/100 = 0.9
    assert out["accuracy"].iloc[0] == pytest.approx(0.9)
    assert np.isnan(out["accuracy"].iloc[1])
    assert np.isnan(out["bias"].iloc[1])
    assert out["smape"].iloc[1] == pytest.approx(2.0)


def test_conflicting_duplicates_raise_on_every_engine(engine):
    forecasts = _forecasts([("ava", Q1, 3, 90.0), ("ava", Q1, 3, 70.0)])
    with pytest.raises(ValueError, match="different amounts"):
        _run(engine, kw.forecast_accuracy, forecasts, _actuals([("ava", Q1, 100.0)]))


# --- forecast_summary -----------------------------------------------------------------------

# ava: two Q1 calls (w0 F=80, w1 F=130; A=100), bo: one (w0 F=330; A=300).
MIX_FC = _forecasts([("ava", Q1, 0, 80.0), ("ava", Q1, 7, 130.0), ("bo", Q1, 0, 330.0)])
MIX_ACT = _actuals([("ava", Q1, 100.0), ("bo", Q1, 300.0)])


@pytest.mark.parametrize(
    ("aggregate", "n", "accuracy", "wape", "bias"),
    [
        # team cells w0 F=410 A=400 (0.975), w1 F=130 A=100 (0.7); wape 40/500, bias 40/500
        ("rollup", 2, 0.8375, 0.08, 0.08),
        # rows 0.8, 0.7, 0.9 -> 0.8; wape 80/500; bias 40/500
        ("pooled", 3, 0.8, 0.16, 0.08),
        # ava (0.75, 0.25, 0.05), bo (0.9, 0.1, 0.1): plain means
        ("mean", 3, 0.825, 0.175, 0.075),
        # weights Σ A: ava 200, bo 300
        ("weighted", 3, 0.84, 0.16, 0.08),
    ],
)
def test_summary_aggregates_on_every_engine(engine, aggregate, n, accuracy, wape, bias):
    out = _run(engine, kw.forecast_summary, MIX_FC, MIX_ACT, by=(), aggregate=aggregate)
    assert len(out) == 1
    assert out["n"].tolist() == [n]
    assert pd.api.types.is_integer_dtype(out["n"])
    assert out["accuracy"].tolist() == pytest.approx([accuracy])
    assert out["wape"].tolist() == pytest.approx([wape])
    assert out["bias"].tolist() == pytest.approx([bias])
    assert out["aggregate"].tolist() == [aggregate]


def test_summary_by_week_of_period_on_every_engine(engine):
    out = _run(engine, kw.forecast_summary, MIX_FC, MIX_ACT, by=("week_of_period",))
    assert out["week_of_period"].tolist() == [0, 1]
    assert out["accuracy"].tolist() == pytest.approx([0.975, 0.7])  # as the rollup cells above


def test_summary_scores_on_every_engine(engine):
    # A = 100, 200, 100; F = 90, 230, 100 -> errors -10, +30, 0
    forecasts = _forecasts([("ava", Q1, 0, 90.0), ("ava", Q2, 0, 230.0), ("ava", Q3, 0, 100.0)])
    actuals = _actuals([("ava", Q1, 100.0), ("ava", Q2, 200.0), ("ava", Q3, 100.0)])
    out = _run(engine, kw.forecast_summary, forecasts, actuals)
    row = out.iloc[0]
    assert row["n"] == 3
    assert row["mape"] == pytest.approx(0.25 / 3)  # (0.1 + 0.15 + 0)/3
    assert row["wape"] == pytest.approx(0.1)  # 40/400
    assert row["bias"] == pytest.approx(0.05)  # 20/400
    assert row["tracking_signal"] == pytest.approx(1.5)  # 20 / (40/3)
    assert row["mase"] == pytest.approx(40 / 300)  # (40/3) / mean(100, 100)
    assert not row["tracking_flag"]


def test_summary_zero_actual_counts_in_wape_on_every_engine(engine):
    forecasts = _forecasts([("ava", Q1, 0, 90.0), ("ava", Q2, 0, 20.0)])
    actuals = _actuals([("ava", Q1, 100.0), ("ava", Q2, 0.0)])
    nan = _run(engine, kw.forecast_summary, forecasts, actuals)
    excluded = _run(engine, kw.forecast_summary, forecasts, actuals, zero_actuals="exclude")
    assert nan["wape"].tolist() == pytest.approx([0.3])  # (10 + 20)/100
    assert nan["mape"].tolist() == pytest.approx([0.1])  # Q2 skipped
    assert excluded["wape"].tolist() == pytest.approx([0.1])  # 10/100


# --- actuals_from_opportunities -------------------------------------------------------------


def _opportunities():
    rows = [
        ("ava", "won", 50.0, "2025-01-05", "2025-02-10"),
        ("ava", "won", 30.0, "2025-01-20", "2025-03-31 23:00"),
        ("ava", "lost", 99.0, "2025-02-01", "2025-05-01"),
        ("ava", "won", 70.0, "2025-06-01", "2025-08-15"),
        ("ava", "won", 40.0, "2025-09-01", "2025-10-05"),
        ("bo", "lost", 20.0, "2025-03-01", "2025-04-20"),
        ("bo", "open", 60.0, "2025-12-31 15:00", None),
    ]
    frame = pd.DataFrame(rows, columns=["owner", "status", "amount", "created_at", "closed_at"])
    for c in ("created_at", "closed_at"):
        frame[c] = pd.to_datetime(frame[c], format="ISO8601")
    return frame


def test_actuals_from_opportunities_on_every_engine(engine):
    out = _run(engine, kw.actuals_from_opportunities, _opportunities())
    got = [
        (r.owner, pd.Timestamp(r.period).strftime("%Y-%m"), r.amount, r.deals)
        for r in out.itertuples(index=False)
    ]
    # latest 2025-12-31 15:00 -> Q4 complete; only won deals count; bo won nothing: zeros
    assert got == [
        ("ava", "2025-01", 80.0, 2),
        ("ava", "2025-04", 0.0, 0),
        ("ava", "2025-07", 70.0, 1),
        ("ava", "2025-10", 40.0, 1),
        ("bo", "2025-01", 0.0, 0),
        ("bo", "2025-04", 0.0, 0),
        ("bo", "2025-07", 0.0, 0),
        ("bo", "2025-10", 0.0, 0),
    ]


def test_actuals_explicit_as_of_on_every_engine(engine):
    out = _run(engine, kw.actuals_from_opportunities, _opportunities(), as_of="2025-10-01")
    # Q3 ends 2025-10-01 <= as_of: complete; Q4 is not
    assert pd.Timestamp(out["period"].max()) == pd.Timestamp(Q3)


# --- forecast_projection --------------------------------------------------------------------

P1, P2, P3, P4, TARGET = "2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01", "2025-01-01"
PROJ_FC = _forecasts(
    [
        *[("ava", p, 7, 100.0) for p in (P1, P2, P3, P4)],
        ("bo", P4, 7, 100.0),
        ("ava", TARGET, 7, 200.0),
        ("bo", TARGET, 7, 100.0),
    ]
)
PROJ_ACT = _actuals(
    [
        ("ava", P1, 120.0),
        ("ava", P2, 150.0),
        ("ava", P3, 130.0),
        ("ava", P4, 90.0),
        ("bo", P4, 170.0),
    ]
)


def test_projection_on_every_engine(engine):
    out = _run(engine, kw.forecast_projection, PROJ_FC, PROJ_ACT)
    assert out["owner"].tolist() == ["ava", "bo"]
    assert out["week_of_period"].tolist() == [1, 1]
    # ava: ratios 1.2, 1.5, 1.3, 0.9 -> median 1.25 -> 200 * 1.25 = 250;
    # q10 0.99 -> 198, q90 1.44 -> 288
    # bo (1 ratio < 3): team ratios 1.2, 1.5, 1.3, (90 + 170)/200 = 1.3 -> median 1.3 -> 130;
    # q10 1.23 -> 123, q90 1.44 -> 144
    assert out["factor"].tolist() == pytest.approx([1.25, 1.3])
    assert out["projection"].tolist() == pytest.approx([250.0, 130.0])
    assert out["low"].tolist() == pytest.approx([198.0, 123.0])
    assert out["high"].tolist() == pytest.approx([288.0, 144.0])
    assert out["basis"].tolist() == ["owner", "team"]
    assert out["history"].tolist() == [4, 4]
    assert out["actual"].isna().all()  # the target quarter is open


def test_team_projection_and_backtest_on_every_engine(engine):
    team = _run(engine, kw.forecast_projection, PROJ_FC, PROJ_ACT, by=())
    # call 200 + 100 = 300, team factor 1.3 -> 390
    assert team["call"].tolist() == [300.0]
    assert team["projection"].tolist() == pytest.approx([390.0])
    back = _run(engine, kw.forecast_projection, PROJ_FC, PROJ_ACT, period=P4)
    # before P4 only ava's 1.2, 1.5, 1.3 -> median 1.3 -> 130 for both; actuals 90 and 170
    assert back["projection"].tolist() == pytest.approx([130.0, 130.0])
    assert back["actual"].tolist() == [90.0, 170.0]
    short = _run(engine, kw.forecast_projection, PROJ_FC, PROJ_ACT, min_history=5)
    assert short["projection"].isna().all()
    assert (short["reason"] != "").all()


# --- an independent DuckDB SQL computation --------------------------------------------------


def _generated(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """~50 calls: 3 owners x 4 quarters x 3-5 snapshots (distinct days, random hours), commit
    or best case; whole-number amounts so sums are exact in any order."""
    rng = np.random.default_rng(seed)
    quarters = pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"])
    calls, actuals = [], []
    for owner in ("ava", "bo", "cy"):
        for quarter in quarters:
            actuals.append((owner, quarter, float(rng.integers(100, 600))))
            days = rng.choice(np.arange(-10, 85), size=int(rng.integers(3, 6)), replace=False)
            for day in days:
                snapshot = quarter + pd.Timedelta(days=int(day), hours=int(rng.integers(0, 24)))
                category = str(rng.choice(["commit", "best_case"], p=[0.7, 0.3]))
                calls.append((owner, quarter, snapshot, category, float(rng.integers(50, 700))))
    forecasts = pd.DataFrame(
        calls, columns=["owner", "period", "snapshot_date", "category", "amount"]
    )
    return forecasts, pd.DataFrame(actuals, columns=["owner", "period", "amount"])


GEN_FC, GEN_ACT = _generated()

SCORED_SQL = """
WITH calls AS (
    SELECT owner, period, snapshot_date, category, amount,
           CAST(floor(datediff('day', period, snapshot_date) / 7) AS BIGINT) AS week
    FROM f
), latest AS (
    SELECT * FROM calls
    QUALIFY row_number() OVER (
        PARTITION BY owner, period, week, category ORDER BY snapshot_date DESC) = 1
)
SELECT l.owner, l.period, l.week, l.amount AS f, a.amount AS a
FROM latest l JOIN a ON l.owner = a.owner AND l.period = a.period
WHERE l.category = 'commit'
"""


def _sql(query: str) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("f", GEN_FC)
    con.register("a", GEN_ACT)
    return con.execute(f"WITH scored AS ({SCORED_SQL}) {query}").df()


def test_generated_calls_are_about_fifty_with_repeats_in_a_week():
    assert 40 <= len(GEN_FC) <= 60
    # the "latest call of the week" rule has work to do: some weeks hold two commit calls
    assert len(_sql("SELECT * FROM scored")) < (GEN_FC["category"] == "commit").sum()


def test_owner_wape_bias_and_tracking_match_sql(engine):
    expected = _sql(
        """, per_period AS (
            SELECT owner, period, avg(f - a) AS e FROM scored GROUP BY owner, period)
        SELECT s.owner, count(*) AS n, sum(abs(f - a)) / sum(a) AS wape,
               sum(f - a) / sum(a) AS bias, avg(abs(f - a) / a) AS mape,
               any_value(t.ts) AS tracking_signal
        FROM scored s JOIN (
            SELECT owner, sum(e) / avg(abs(e)) AS ts FROM per_period GROUP BY owner
        ) t ON s.owner = t.owner
        GROUP BY s.owner ORDER BY s.owner"""
    )
    out = _run(engine, kw.forecast_summary, GEN_FC, GEN_ACT)
    assert out["owner"].tolist() == expected["owner"].tolist() == ["ava", "bo", "cy"]
    assert out["n"].tolist() == expected["n"].tolist()
    for column in ("wape", "bias", "mape", "tracking_signal"):
        assert out[column].tolist() == pytest.approx(expected[column].tolist(), rel=1e-12)


def test_rollup_accuracy_by_week_matches_sql(engine):
    expected = _sql(
        """, team AS (
            SELECT period, week, sum(f) AS f, sum(a) AS a FROM scored GROUP BY period, week)
        SELECT week, count(*) AS n, avg(greatest(0, 1 - abs(f - a) / a)) AS accuracy
        FROM team GROUP BY week ORDER BY week"""
    )
    out = _run(engine, kw.forecast_summary, GEN_FC, GEN_ACT, by=("week_of_period",))
    assert out["week_of_period"].tolist() == expected["week"].tolist()
    assert out["n"].tolist() == expected["n"].tolist()
    assert out["accuracy"].tolist() == pytest.approx(expected["accuracy"].tolist(), rel=1e-12)

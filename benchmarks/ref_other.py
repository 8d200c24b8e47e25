"""References in DuckDB SQL for retention, revenue movements and forecast accuracy, written from
the documented definitions (docs/retention.md, docs/forecasts.md), not from the implementation.
"""

from __future__ import annotations

__all__ = ["FORECAST_SQL", "MRR_SQL", "retention_sql"]


def retention_sql(table: str, value: bool) -> str:
    """Monthly cohort cells: cohort, period_number, retained (and value); only non-empty cells.

    Cohort = the month of an account's first row; period_number = whole calendar months from
    it; a cell is complete when its month ends before the last timestamp's month.
    """
    value_cols = ", sum(r.mrr) AS value" if value else ""
    return f"""
    WITH rows AS (
        SELECT account_id, mrr, year(month) * 12 + month(month) - 1 AS p FROM {table}
    ),
    firsts AS (SELECT account_id, min(p) AS c FROM rows GROUP BY account_id),
    last AS (SELECT year(max(month)) * 12 + month(max(month)) - 1 AS p FROM {table})
    SELECT f.c, r.p - f.c AS period_number, count(DISTINCT r.account_id) AS retained{value_cols},
           f.c + (r.p - f.c) < (SELECT p FROM last) AS is_complete
    FROM rows r JOIN firsts f USING (account_id)
    GROUP BY ALL ORDER BY f.c, period_number
    """


# Each month, every account's MRR against the month before (MRR <= 0 is inactive); months
# appear when some account has a row in them or in the month before.
MRR_SQL = """
WITH m AS (
    SELECT account_id, year(month) * 12 + month(month) - 1 AS p, sum(mrr) AS mrr
    FROM revenue GROUP BY ALL
),
pos AS (SELECT account_id, p, mrr FROM m WHERE mrr > 0),
firsts AS (SELECT account_id, min(p) AS f FROM pos GROUP BY ALL),
months AS (SELECT DISTINCT p FROM m UNION SELECT DISTINCT p + 1 FROM m),
cells AS (
    SELECT account_id, p FROM pos UNION SELECT account_id, p + 1 FROM pos
),
pairs AS (
    SELECT c.account_id, c.p, coalesce(now.mrr, 0) AS now, coalesce(prev.mrr, 0) AS prev,
           f.f
    FROM cells c
    LEFT JOIN pos now ON now.account_id = c.account_id AND now.p = c.p
    LEFT JOIN pos prev ON prev.account_id = c.account_id AND prev.p = c.p - 1
    JOIN firsts f ON f.account_id = c.account_id
)
SELECT months.p,
       coalesce(sum(prev), 0) AS mrr_start,
       coalesce(sum(now) FILTER (WHERE prev = 0 AND now > 0 AND p = f), 0) AS new,
       coalesce(sum(now) FILTER (WHERE prev = 0 AND now > 0 AND p > f), 0) AS reactivation,
       coalesce(sum(now - prev) FILTER (WHERE prev > 0 AND now > prev), 0) AS expansion,
       coalesce(sum(prev - now) FILTER (WHERE now > 0 AND now < prev), 0) AS contraction,
       coalesce(sum(prev) FILTER (WHERE now = 0 AND prev > 0), 0) AS churn,
       coalesce(sum(now), 0) AS mrr_end
FROM months LEFT JOIN pairs USING (p)
WHERE months.p <= (SELECT max(p) FROM m)
GROUP BY months.p ORDER BY months.p
"""

# One row per owner, period, week of period and category: the last snapshot of the week
# (exact repeats count once), against the won amount of the owner's period.
FORECAST_SQL = """
WITH calls AS (
    SELECT DISTINCT owner, period, snapshot_date, category, amount FROM forecasts
),
weekly AS (
    SELECT *, (datediff('day', period, snapshot_date)) // 7 AS week_of_period FROM calls
    QUALIFY row_number() OVER (
        PARTITION BY owner, period, week_of_period, category ORDER BY snapshot_date DESC
    ) = 1
),
won AS (SELECT owner, period, sum(amount) AS actual FROM actuals GROUP BY ALL)
SELECT w.owner, w.period, w.week_of_period, w.category, w.amount AS forecast, a.actual,
       w.amount - a.actual AS error,
       greatest(0, 1 - abs(w.amount - a.actual) / a.actual) AS accuracy
FROM weekly w JOIN won a USING (owner, period)
ORDER BY w.owner, w.period, w.week_of_period, w.category
"""

"""Funnel references in DuckDB SQL, written from the documented semantics (docs/funnels.md).

Each builds, per step, the attempts that reached it with an ASOF join (the nearest later
step-k event of the same entity: DuckDB's sort-merge asof join, the fastest way to say it in
SQL), and returns per step the entities reaching it and the median time from the previous
step in microseconds (``None`` for step 1).

* ordered/first: entry = the entity's earliest step-1 event; step k = the earliest step-k
  event at or after step k-1, counted when at most entry + window.
* ordered/best: every distinct step-1 time is an attempt; per entity the attempt reaching the
  furthest step, ties to the earliest entry.
* strict: ordered/first, and no event of the entity (any name) strictly between step k-1 and
  step k: the entity's next event time after step k-1 (a window ``lead`` over its distinct
  event times; DuckDB's ASOF join on a strict ``>`` grew quadratically here) is not before
  step k.
* any: step k = the earliest step-k event in [entry, entry + window], whatever other steps did.
* ``window=None``: no window (the retentioneering comparison).
"""

from __future__ import annotations

from typing import Any

__all__ = ["funnel_sql", "run"]


def _within(window_days: int | None, column: str = "t") -> str:
    return "" if window_days is None else f" WHERE {column} <= t1 + INTERVAL {window_days} DAY"


def _step(table: str, name: str) -> str:
    return f"(SELECT entity_id, timestamp AS t FROM {table} WHERE event = '{name}')"


def funnel_sql(table: str, steps: list[str], window_days: int | None, mode: str) -> str:
    """One query returning rows ``(step, entities, median_us)`` for ``mode`` (see above)."""
    key = "entity_id, a" if mode == "best" else "entity_id"
    if mode == "best":
        entries = (
            f"SELECT entity_id, timestamp AS t1, dense_rank() OVER (PARTITION BY entity_id "
            f"ORDER BY timestamp) AS a FROM (SELECT DISTINCT entity_id, timestamp FROM {table} "
            f"WHERE event = '{steps[0]}')"
        )
    else:
        entries = (
            f"SELECT entity_id, min(timestamp) AS t1 FROM {table} WHERE event = '{steps[0]}' "
            "GROUP BY entity_id"
        )
    ctes = [f"s1 AS (SELECT {key}, t1, t1 AS tk FROM ({entries}))"]
    if mode == "strict":
        # Each distinct event time of an entity with the entity's next later one.
        ctes.append(
            "everything AS (SELECT entity_id, t, lead(t) OVER (PARTITION BY entity_id ORDER BY t) "
            f"AS next FROM (SELECT DISTINCT entity_id, timestamp AS t FROM {table}))"
        )
    for k, name in enumerate(steps[1:], start=2):
        lower = "p.t1" if mode == "any" else "p.tk"
        reached = (
            f"SELECT p.{key.replace(', ', ', p.')}, p.t1, p.tk AS tprev, x.t AS tk FROM s{k - 1} p "
            f"ASOF JOIN {_step(table, name)} x ON p.entity_id = x.entity_id AND x.t >= {lower}"
        )
        if mode == "any":
            reached = (
                f"SELECT p.entity_id, p.t1, NULL::TIMESTAMP AS tprev, x.t AS tk FROM s1 p "
                f"ASOF JOIN {_step(table, name)} x ON p.entity_id = x.entity_id AND x.t >= p.t1"
            )
        body = f"SELECT * FROM ({reached}){_within(window_days, 'tk')}"
        if mode == "strict":
            body = (
                f"SELECT r.* FROM ({body}) r JOIN everything n "
                "ON r.entity_id = n.entity_id AND n.t = r.tprev "
                "WHERE n.next IS NULL OR n.next >= r.tk"
            )
        ctes.append(f"s{k} AS ({body})")
    n = len(steps)
    if mode == "best":
        depth = " + ".join(f"(s{k}.tk IS NOT NULL)::INT" for k in range(2, n + 1))
        joins = " ".join(f"LEFT JOIN s{k} USING (entity_id, a)" for k in range(2, n + 1))
        times = ", ".join(f"s{k}.tk AS t{k}" for k in range(2, n + 1))
        ctes.append(
            f"best AS (SELECT s1.entity_id, s1.t1, {times}, row_number() OVER (PARTITION BY "
            f"s1.entity_id ORDER BY {depth} DESC, s1.t1) AS pick FROM s1 {joins})"
        )
        parts = [
            "SELECT 1 AS step, count(*) AS entities, NULL::DOUBLE AS median_us FROM best "
            "WHERE pick = 1"
        ]
        for k in range(2, n + 1):
            prev = "t1" if k == 2 else f"t{k - 1}"
            parts.append(
                f"SELECT {k}, count(t{k}), median(epoch_us(t{k}) - epoch_us({prev})) FROM best "
                f"WHERE pick = 1"
            )
    elif mode == "any":
        joins = " ".join(f"LEFT JOIN s{k} s{k} USING (entity_id)" for k in range(2, n + 1))
        parts = ["SELECT 1 AS step, count(*) AS entities, NULL::DOUBLE AS median_us FROM s1"]
        for k in range(2, n + 1):
            # "any": the time from the previous step is counted where both were reached.
            prev = "s1.t1" if k == 2 else f"s{k - 1}.tk"
            parts.append(
                f"SELECT {k}, count(s{k}.tk), median(epoch_us(s{k}.tk) - epoch_us({prev})) "
                f"FILTER (WHERE {prev} IS NOT NULL) FROM s1 {joins}"
            )
    else:
        parts = ["SELECT 1 AS step, count(*) AS entities, NULL::DOUBLE AS median_us FROM s1"]
        parts += [
            f"SELECT {k}, count(*), median(epoch_us(tk) - epoch_us(tprev)) FROM s{k}"
            for k in range(2, n + 1)
        ]
    return f"WITH {', '.join(ctes)} " + " UNION ALL ".join(parts) + " ORDER BY step"


def run(
    connection: Any, table: str, steps: list[str], window_days: int | None, mode: str
) -> list[tuple]:
    return connection.sql(funnel_sql(table, steps, window_days, mode)).fetchall()


def entities_sql(table: str, steps: list[str], window_days: int) -> str:
    """ordered/first, one row per entered entity: ``entity_id, t1 .. tN`` (null: not reached)."""
    query = funnel_sql(table, steps, window_days, "first")
    ctes = query[len("WITH ") : query.index(" SELECT 1 AS step")]
    n = len(steps)
    joins = " ".join(f"LEFT JOIN s{k} ON s{k}.entity_id = s1.entity_id" for k in range(2, n + 1))
    times = ", ".join(f"s{k}.tk AS t{k}" for k in range(2, n + 1))
    return f"WITH {ctes} SELECT s1.entity_id, s1.t1, {times} FROM s1 {joins} ORDER BY s1.entity_id"

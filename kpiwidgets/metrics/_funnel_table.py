"""Per-entity step times -> the tidy funnel table (one row per group and step).

Everything stays one lazy plan over the per-entity frame, referenced once: breakdown groups
and the overall rows come from a single ``group_by`` (each entity row is duplicated once as an
overall copy, flagged in the :data:`OVERALL` column), the wide per-group aggregate is unpivoted
to one row per step, and conversions come from window functions over the group's steps.

The overall rows are marked by the boolean ``overall`` column, as SQL's ``GROUPING()`` marks
a rollup's total, never by a label in the breakdown column: a breakdown value that is
literally ``"(all)"`` or ``"(none)"`` stays its own group. Inside the plan a null breakdown
value is held as a private marker (joins do not match nulls) and comes back as null.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._engines import microseconds_between
from kpiwidgets.metrics._frames import _connection, ratio
from kpiwidgets.metrics._funnel_plan import FunnelSpec, step_time
from kpiwidgets.metrics._funnel_steps import StepFrames
from kpiwidgets.metrics._names import internal

OVERALL = "overall"
"""Output column (bool) marking the overall rows of a breakdown; their ``by`` values are null."""
Z95 = 1.959963984540054  # standard normal 97.5 % quantile

_VAR, _VAL = internal("var"), internal("val")
_GROUP = internal("g")
# Inside a plan: the overall flag, and the stand-in for a null breakdown value (a NUL byte
# cannot come from a CSV export or a typed label, so no real value equals it).
FLAG = internal("overall")
_NULL = "\x00kw:null"


def label_breakdown(per_entity: nw.LazyFrame, by: tuple[str, ...]) -> nw.LazyFrame:
    """Breakdown columns as text, null values held as a private marker (see the module doc)."""
    return per_entity.with_columns(
        nw.when(nw.col(b).is_null())
        .then(nw.lit(_NULL))
        .otherwise(nw.col(b).cast(nw.String))
        .alias(b)
        for b in by
    )


def unlabel(value: Any) -> Any:
    """A breakdown value as the user sees it (the null marker back to None), for collected rows."""
    return None if value == _NULL else value


def with_total_copy(per_entity: nw.LazyFrame, by: tuple[str, ...]) -> nw.LazyFrame:
    """Each row twice: as it is (``FLAG`` false) and as an overall copy (``FLAG`` true).

    The overall copy's ``by`` values are the null marker, so it forms one group per
    remaining key. Done with an unpivot of two constant columns so the (expensive) input
    plan is scanned once.
    """
    c0, c1, copy = internal("c0"), internal("c1"), internal("copy")
    index = [c for c in per_entity.collect_schema().names()]
    doubled = per_entity.with_columns(nw.lit(0).alias(c0), nw.lit(1).alias(c1)).unpivot(
        on=[c0, c1], index=index, variable_name=internal("cv"), value_name=copy
    )
    return doubled.with_columns(
        *(nw.when(nw.col(copy) == 1).then(nw.lit(_NULL)).otherwise(nw.col(b)).alias(b) for b in by),
        (nw.col(copy) == 1).alias(FLAG),
    ).drop(internal("cv"), copy)


def wilson(x: str, n: str) -> tuple[nw.Expr, nw.Expr]:
    """95 % Wilson score interval of x / n as (low, high) expressions; NaN when n is 0."""
    nf = nw.col(n).cast(nw.Float64)
    p = nw.col(x).cast(nw.Float64) / nf
    z2 = Z95 * Z95
    denom = 1 + z2 / nf
    centre = (p + z2 / (2 * nf)) / denom
    half = Z95 * (p * (1 - p) / nf + z2 / (4 * nf * nf)).sqrt() / denom
    nan = nw.lit(float("nan"))
    return (
        nw.when(nw.col(n) > 0).then(centre - half).otherwise(nan),
        nw.when(nw.col(n) > 0).then(centre + half).otherwise(nan),
    )


def step_counts(
    per_entity: nw.LazyFrame,
    spec: FunnelSpec,
    groups: list[str],
    *,
    medians: bool = True,
    total_by: tuple[str, ...] = (),
) -> nw.LazyFrame:
    """Long table: ``groups``, ``step_number``, ``entities``, ``entities_first``,
    ``entities_previous`` and (if ``medians``) ``median_us`` (median of t_k - t_{k-1} in
    microseconds over entities that reached both steps).

    ``total_by`` (breakdown columns among ``groups``) adds the overall rows, flagged in the
    ``FLAG`` group column (see :func:`with_total_copy`).
    """
    n = spec.n_steps
    values = [_reached(k) for k in range(1, n + 1)]
    if medians:
        values += [_gap(k, per_entity) for k in range(2, n + 1)]
    # Per-row values before the TOTAL copy doubles the rows: the copy then carries only the
    # groups and plain numbers.
    rows = per_entity.select(*groups, *values)
    if total_by:
        rows = with_total_copy(rows, total_by)
        groups = [*groups, FLAG]
    aggs = [_aggregate(v) for v in rows.collect_schema().names() if v not in groups]
    if groups:
        wide = rows.group_by(*groups).agg(*aggs)
        keys = list(groups)
    else:
        # A plain select keeps one row even when nobody entered.
        keys = [_GROUP]
        wide = rows.select(*aggs).with_columns(nw.lit(0).alias(_GROUP))
    return _long_counts(wide, keys, spec, groups, medians=medians)


def step_counts_from_steps(
    frames: StepFrames, spec: FunnelSpec, window: dt.timedelta | None
) -> nw.LazyFrame:
    """:func:`step_counts` by ``spec.by`` (with the overall rows), straight from step frames.

    Only for funnels where :func:`counts_from_steps` holds; the frames must carry the ``by``
    columns. Step k's count and median come from its own (small) frame, limited to
    ``window`` when given, and the per-group aggregates are joined: no per-entity frame is
    assembled.
    """
    by = list(spec.by)
    keys = [*by, FLAG] if by else [_GROUP]
    t1 = step_time(1)
    wide = None
    for k in range(1, spec.n_steps + 1):
        frame = frames.entered if k == 1 else frames.reached[k]
        if k > 1 and window is not None:
            frame = frame.filter(nw.col(step_time(k)) <= nw.col(t1) + window)
        values = [_reached(k)] + ([_gap(k, frame)] if k > 1 else [])
        if by:
            rows = label_breakdown(frame.select(*by, *values), spec.by)
            rows = with_total_copy(rows, spec.by)
            part = rows.group_by(*keys).agg(*(_aggregate(v) for v in _names(k)))
        else:
            part = frame.select(*values).select(*(_aggregate(v) for v in _names(k)))
            part = part.with_columns(nw.lit(0).alias(_GROUP))
        # Step 1 has every group that entered; a group missing at a later step counts 0.
        wide = part if wide is None else wide.join(part, on=keys, how="left")
    assert wide is not None
    # Counts of groups missing at a step are 0, not null: unpivots may drop nulls (DuckDB).
    counts = [internal(f"n{k}") for k in range(2, spec.n_steps + 1)]
    wide = wide.with_columns(nw.col(c).fill_null(0.0) for c in counts)
    return _long_counts(wide, keys, spec, keys if by else [], medians=True)


def counts_table(counts: Any, medians: Any, spec: FunnelSpec) -> nw.LazyFrame:
    """:func:`funnel_columns`' input from per-step counts and median gaps (microseconds,
    NaN at step 1) computed outside the plans (:mod:`._funnel_kernel`)."""
    import pyarrow as pa

    wide = {_GROUP: [0]}
    for k in range(1, spec.n_steps + 1):
        wide[internal(f"n{k}")] = [float(counts[k - 1])]
        if k > 1:
            median = medians[k - 1]
            wide[internal(f"m{k}")] = [None if median != median else float(median)]
    frame = nw.from_native(_connection().from_arrow(pa.table(wide)))
    return funnel_columns(_long_counts(frame, [_GROUP], spec, [], medians=True), spec, [])


def _names(k: int) -> list[str]:
    return [internal(f"n{k}")] + ([internal(f"m{k}")] if k > 1 else [])


def _reached(k: int) -> nw.Expr:
    """Per row: 1 if step ``k`` was reached, else 0 (summed into the count ``n{k}``)."""
    return nw.col(step_time(k)).is_null().__invert__().cast(nw.Int64).alias(internal(f"n{k}"))


def _gap(k: int, lf: nw.LazyFrame) -> nw.Expr:
    """Per row: t_k - t_{k-1} in microseconds (null unless both reached; median ``m{k}``)."""
    gap = microseconds_between(lf, step_time(k), step_time(k - 1))
    return gap.cast(nw.Float64).alias(internal(f"m{k}"))


def _aggregate(name: str) -> nw.Expr:
    if name.startswith(internal("n")):
        return nw.col(name).sum().cast(nw.Float64)
    return nw.col(name).median()


def _long_counts(
    wide: nw.LazyFrame, keys: list[str], spec: FunnelSpec, groups: list[str], *, medians: bool
) -> nw.LazyFrame:
    """The wide per-group aggregate (``n1..nN``, ``m2..mN``) as one row per group and step."""
    n = spec.n_steps
    value_cols = [a for a in wide.collect_schema().names() if a not in keys]
    long = wide.unpivot(on=value_cols, index=keys, variable_name=_VAR, value_name=_VAL)
    number: Any = nw.lit(None)
    for k in range(1, n + 1):
        number = (
            nw.when(nw.col(_VAR).is_in([internal(f"n{k}"), internal(f"m{k}")]))
            .then(nw.lit(k))
            .otherwise(number)
        )
    long = long.with_columns(number.cast(nw.Int64).alias("step_number"))
    is_count = nw.col(_VAR).str.starts_with(internal("n"))
    per_step = [nw.when(is_count).then(nw.col(_VAL)).max().alias("entities")]
    if medians:
        per_step.append(nw.when(~is_count).then(nw.col(_VAL)).max().alias("median_us"))
    out = long.group_by(*keys, "step_number").agg(*per_step)
    entities = nw.col("entities").fill_null(0).cast(nw.Int64)
    out = out.with_columns(entities.alias("entities"))
    out = out.with_columns(
        nw.when(nw.col("step_number") == 1)
        .then(nw.col("entities"))
        .max()
        .over(*keys)
        .alias("entities_first"),
        nw.col("entities").shift(1).over(*keys, order_by="step_number").alias("entities_previous"),
    )
    return out if groups else out.drop(keys[0])


def step_label(spec: FunnelSpec) -> nw.Expr:
    """The ``step`` column: each step's label from its number."""
    label: Any = nw.lit(None, dtype=nw.String)
    for k, text in enumerate(spec.labels, start=1):
        label = nw.when(nw.col("step_number") == k).then(nw.lit(text)).otherwise(label)
    return label.alias("step")


def funnel_table(
    per_entity: nw.LazyFrame, spec: FunnelSpec, extra_groups: list[str]
) -> nw.LazyFrame:
    """The ``funnel`` output columns for per-entity step times (see :func:`kpiwidgets.funnel`)."""
    by = list(spec.by)
    if by:
        per_entity = label_breakdown(per_entity, spec.by)
    counts = step_counts(per_entity, spec, by + extra_groups, total_by=spec.by)
    return funnel_columns(counts, spec, extra_groups)


def funnel_columns(counts: nw.LazyFrame, spec: FunnelSpec, extra_groups: list[str]) -> nw.LazyFrame:
    """The ``funnel`` output columns from :func:`step_counts` (by ``spec.by`` + extra groups,
    and ``FLAG`` when there is a breakdown)."""
    by = list(spec.by)
    first = nw.col("step_number") == 1
    prev = nw.when(first).then(nw.col("entities")).otherwise(nw.col("entities_previous"))
    drop = (prev - nw.col("entities")).cast(nw.Int64)
    low, high = wilson("entities", "entities_first")
    median = nw.when(first).then(nw.lit(None, dtype=nw.Float64)).otherwise(nw.col("median_us"))
    out = counts.with_columns(
        step_label(spec),
        ratio("entities", "entities_first").alias("conversion_from_first"),
        ratio(nw.col("entities"), prev).alias("conversion_from_previous"),
        drop.alias("drop_off"),
        nw.when(first).then(nw.lit(0.0)).otherwise(ratio(drop, prev)).alias("drop_off_rate"),
        median.alias("median_time_from_previous"),
        low.alias("ci_low"),
        high.alias("ci_high"),
    )
    columns = [
        *extra_groups,
        *by,
        *([OVERALL] if by else []),
        "step",
        "step_number",
        "entities",
        "conversion_from_first",
        "conversion_from_previous",
        "drop_off",
        "drop_off_rate",
        "median_time_from_previous",
        "ci_low",
        "ci_high",
    ]
    return sort_groups(out, by, [*extra_groups, "step_number"]).select(columns)


def sort_groups(frame: nw.LazyFrame, by: list[str], then: list[str]) -> nw.LazyFrame:
    """The user's view of a breakdown: overall rows first (``overall`` true, ``by`` null),
    then the breakdown values in order (a null value last), then the ``then`` columns.

    Turns the plan's ``FLAG`` and null marker into the ``overall`` column and nulls.
    """
    if not by:
        return frame.sort(then)
    names = frame.collect_schema().names()
    frame = frame.with_columns(
        *(
            nw.when(nw.col(b) == _NULL)
            .then(nw.lit(None, dtype=nw.String))
            .otherwise(nw.col(b))
            .alias(b)
            for b in by
        ),
        nw.col(FLAG).alias(OVERALL),
    )
    order = [OVERALL, *by, *then]
    sorted_ = frame.sort(
        order, descending=[True] + [False] * (len(by) + len(then)), nulls_last=True
    )
    return sorted_.select([OVERALL if n == FLAG else n for n in names])

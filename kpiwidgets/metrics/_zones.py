"""Time zones in the core: UTC instants and wall times of tz-aware columns, the zones a
frame holds, and a user's moment (``as_of``, ``start``) read in the data's zone."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import narwhals.stable.v2 as nw

if TYPE_CHECKING:
    from kpiwidgets.metrics._frames import Prepared

__all__ = [
    "UTC_ZONES",
    "check_duckdb_zones",
    "convert_zone",
    "from_utc",
    "time_zones_of",
    "to_utc",
    "wall_time",
]

# Zone names that are UTC itself: converting to or from them changes no instant.
UTC_ZONES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"}


def to_utc(column: nw.Expr, zone: str) -> nw.Expr:
    """Naive UTC instants of a tz-aware column (no conversion needed for a UTC zone: DuckDB
    can only convert to its connection's zone, which is the column's)."""
    if zone in UTC_ZONES:
        return column.dt.replace_time_zone(None)
    return column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)


def from_utc(column: nw.Expr, zone: str) -> nw.Expr:
    """The inverse of :func:`to_utc`: naive UTC instants shown in ``zone``."""
    if zone in UTC_ZONES:
        return column.dt.replace_time_zone(zone)
    return column.dt.replace_time_zone("UTC").dt.convert_time_zone(zone)


def _require_utc(name: str, time_zones: dict[str, str], shown: str, needs: str) -> None:
    """Raise unless the frame's (single) zone is UTC; ``shown`` says where the zone comes
    from, ``needs`` why UTC is needed and how to get it."""
    zone = next(iter(time_zones.values()))
    if zone not in UTC_ZONES:
        columns = ", ".join(map(repr, time_zones))
        raise ValueError(f"{name}: column(s) {columns} are {shown} {zone!r}; {needs}")


def check_duckdb_zones(name: str, time_zones: dict[str, str]) -> None:
    """DuckDB shows TIMESTAMPTZ in its connection's zone and converts to no other one."""
    zone = next(iter(time_zones.values()))
    _require_utc(
        name,
        time_zones,
        "DuckDB TIMESTAMPTZ shown in the connection's time zone",
        "DuckDB cannot convert them to UTC for us, so tz-aware DuckDB input is computed only "
        "with the connection in UTC: run SET TimeZone = 'UTC' on the connection, or pass "
        f"naive local times (e.g. timestamp AT TIME ZONE '{zone}')",
    )


def check_spark_zones(name: str, time_zones: dict[str, str]) -> None:
    """Spark shows TIMESTAMP in its session's zone; durations and order are computed on UTC
    instants, which narwhals can only make from a session in UTC."""
    _require_utc(
        name,
        time_zones,
        "Spark TIMESTAMP values shown in the session's time zone",
        "funnels, durations and KPIs compute Spark timestamps as UTC instants, which needs "
        "the session in UTC: spark.conf.set('spark.sql.session.timeZone', 'UTC') (calendar "
        "periods of cohort_retention in the session's zone work in any session zone)",
    )


def time_zones_of(frame: nw.DataFrame | nw.LazyFrame) -> dict[str, str]:
    if isinstance(frame, nw.DataFrame) and frame.implementation.is_pandas():
        # Read pandas dtypes directly: narwhals maps some zone names (e.g. America/New_York)
        # to Unknown.
        native = frame.to_native()
        return {c: str(tz) for c, dt in native.dtypes.items() if (tz := getattr(dt, "tz", None))}
    zones = {}
    for column, dtype in frame.collect_schema().items():
        if isinstance(dtype, nw.Datetime) and dtype.time_zone is not None:
            zones[column] = dtype.time_zone
    return zones


def wall_time(moment: datetime.datetime | datetime.date | str, prep: Prepared) -> datetime.datetime:
    """A user's moment (``as_of``, ``start``) as naive wall time in the data's zone, the way
    :func:`prepare` made the frame's timestamps naive; a naive moment is already wall time."""
    if isinstance(moment, str):
        moment = datetime.datetime.fromisoformat(moment)
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime.combine(moment, datetime.time())
    if hasattr(moment, "to_pydatetime"):
        moment = moment.to_pydatetime()
    zone = next(iter(prep.time_zones.values()), None)
    if moment.tzinfo is not None and zone is not None:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(zone))
    return moment.replace(tzinfo=None)


def convert_zone(frame: Any, timestamp: str, tz: str) -> Any:
    """The frame with ``timestamp`` converted to ``tz``; naive values are taken as UTC."""
    nw_frame = nw.from_native(frame)
    aware = timestamp in time_zones_of(nw_frame)
    if isinstance(nw_frame, nw.DataFrame) and nw_frame.implementation.is_pandas():
        # pandas directly: narwhals sees some zones (America/New_York) as Unknown dtypes.
        import pandas as pd

        native = frame.copy(deep=False)
        column = pd.to_datetime(native[timestamp])
        native[timestamp] = (column if aware else column.dt.tz_localize("UTC")).dt.tz_convert(tz)
        return native
    column = nw.col(timestamp)
    if not aware:
        if isinstance(nw_frame.collect_schema()[timestamp], nw.Date):
            column = column.cast(nw.Datetime("us"))
        column = column.dt.replace_time_zone("UTC")
    return nw_frame.with_columns(column.dt.convert_time_zone(tz)).to_native()

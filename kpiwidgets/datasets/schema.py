"""The canonical tables and columns every KPI is computed from (see README.md, "Tables").

Each column has a *kind*:

* ``"id"``: an identifier, text or integer (never a timestamp or a float with fractions).
* ``"text"``: a label (channel, owner, stage, ...).
* ``"timestamp"``: a point in time; naive or tz-aware (a zone is kept).
* ``"number"``: a quantity (money, counts).

A table's *required* columns must be present for the table to be usable at all; the others
are *optional*: validated when present, and a KPI that needs a missing one says so by name.
Extra columns are kept untouched (they are breakdown properties, e.g. on ``funnel_events``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TABLES", "Column", "Table"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "id" | "text" | "timestamp" | "number"
    required: bool = True
    values: tuple[str, ...] | None = None  # allowed values for closed vocabularies


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    description: str
    key: str | None = None  # a column whose values must be unique (one row per lead, deal, ...)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _t(name: str, description: str, *columns: Column, key: str | None = None) -> Table:
    return Table(name, columns, description, key)


def _c(name: str, kind: str, required: bool = True, values: tuple[str, ...] | None = None):
    return Column(name, kind, required, values)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _t(
            "leads",
            "one row per lead, with the times it reached each lifecycle stage",
            _c("lead_id", "id"),
            _c("created_at", "timestamp"),
            _c("channel", "text", False),
            _c("campaign", "text", False),
            _c("owner", "text", False),
            _c("segment", "text", False),
            _c("mql_at", "timestamp", False),
            _c("sql_at", "timestamp", False),
            _c("first_response_at", "timestamp", False),
            _c("opportunity_id", "id", False),
            key="lead_id",
        ),
        _t(
            "touches",
            "one row per sales or marketing touch on a lead",
            _c("lead_id", "id"),
            _c("timestamp", "timestamp"),
            _c("kind", "text", True, ("email", "call", "meeting", "content")),
            _c("content_id", "id", False),
        ),
        _t(
            "opportunities",
            "one row per deal",
            _c("opportunity_id", "id"),
            _c("lead_id", "id", False),
            _c("account_id", "id", False),
            _c("owner", "text", False),
            _c("channel", "text", False),
            _c("segment", "text", False),
            _c("product", "text", False),
            _c("created_at", "timestamp"),
            _c("closed_at", "timestamp", False),
            _c("status", "text", True, ("open", "won", "lost")),
            _c("amount", "number"),
            # When an open deal is expected to close; a CRM export's "close date" of an open
            # deal lands here, never in closed_at.
            _c("expected_close_at", "timestamp", False),
            key="opportunity_id",
        ),
        _t(
            "stage_history",
            "one row per deal entering a pipeline stage",
            _c("opportunity_id", "id"),
            _c("stage", "text"),
            _c("entered_at", "timestamp"),
        ),
        _t(
            "funnel_events",
            "long form of the lifecycle: one row per entity reaching an event",
            _c("entity_id", "id"),
            _c("event", "text"),
            _c("timestamp", "timestamp"),
            _c("channel", "text", False),
            _c("segment", "text", False),
            _c("owner", "text", False),
        ),
        _t(
            "spend",
            "money spent per day, channel and campaign, by marketing or sales",
            _c("date", "timestamp"),
            _c("channel", "text", False),
            _c("campaign", "text", False),
            _c("team", "text", False, ("marketing", "sales")),
            _c("amount", "number"),
        ),
        _t(
            "campaign_stats",
            "daily engagement counts per channel and campaign",
            _c("date", "timestamp"),
            _c("channel", "text", False),
            _c("campaign", "text", False),
            _c("impressions", "number", False),
            _c("clicks", "number", False),
            _c("emails_sent", "number", False),
            _c("emails_opened", "number", False),
            _c("engagements", "number", False),
            _c("sessions", "number", False),
        ),
        _t(
            "revenue",
            "one row per account and month with recurring revenue",
            _c("account_id", "id"),
            _c("month", "timestamp"),
            _c("mrr", "number"),
        ),
        _t(
            "forecasts",
            "forecast calls per owner, period, snapshot and category",
            _c("owner", "text"),
            _c("period", "timestamp"),
            _c("snapshot_date", "timestamp"),
            _c("category", "text", True, ("commit", "best_case", "pipeline")),
            _c("amount", "number"),
            _c("submitted_by", "text", False, ("rep", "manager")),
        ),
        _t(
            "quotas",
            "quota per owner and period",
            _c("owner", "text"),
            _c("period", "timestamp"),
            _c("quota", "number"),
        ),
        _t(
            "targets",
            "a goal for a KPI in a period",
            _c("kpi", "text"),
            _c("period", "timestamp"),
            _c("target", "number"),
        ),
        _t(
            "content",
            "sales and marketing content items",
            _c("content_id", "id"),
            _c("title", "text", False),
            _c("kind", "text", False),
            _c("created_at", "timestamp", False),
            key="content_id",
        ),
    )
}

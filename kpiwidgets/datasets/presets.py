"""CRM export presets: how a CRM's report exports map onto the canonical tables.

A preset is data, not code: for each canonical table, the export headers that can fill each
canonical column (the first one present wins; headers are matched ignoring case and spaces),
the export's values mapped onto ours, and file names the CRM's exports go by. Pass one as
``preset="salesforce"`` to ``kw.read_dataset`` or ``kw.Dataset``; your own ``columns=`` and
``values=`` are applied on top of it.

An export's "Close Date" of a deal that is still open is the date it is *expected* to close:
``kw.Dataset`` keeps it as ``expected_close_at`` and never as ``closed_at`` (for every input,
not only presets).

Stage values outside the lists below (a custom stage of your own CRM) are reported by name in
the error, never mapped silently: add them with ``values={"opportunities": {"status":
{"Your Stage": "open"}}}``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS"]

_SALESFORCE_OPEN_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
)
_HUBSPOT_OPEN_STAGES = (
    "Appointment Scheduled",
    "Qualified To Buy",
    "Presentation Scheduled",
    "Decision Maker Bought-In",
    "Contract Sent",
)

PRESETS: dict[str, dict[str, Any]] = {
    # Salesforce report exports ("Opportunities" and "Leads" reports, Details Only, CSV/XLSX).
    "salesforce": {
        "files": {"opportunity": "opportunities", "lead": "leads"},
        "columns": {
            "opportunities": {
                "opportunity_id": ["Opportunity ID", "Opportunity Id"],
                "account_id": ["Account ID", "Account Name"],
                "owner": ["Opportunity Owner", "Owner Name"],
                "channel": ["Lead Source"],
                "segment": ["Industry"],
                "product": ["Product Name", "Product"],
                "created_at": ["Created Date"],
                "closed_at": ["Close Date"],
                "status": ["Stage"],
                "amount": ["Amount"],
            },
            "leads": {
                "lead_id": ["Lead ID", "Lead Id"],
                "created_at": ["Create Date", "Created Date"],
                "channel": ["Lead Source"],
                "campaign": ["Primary Campaign Source", "Campaign Name"],
                "owner": ["Lead Owner"],
                "segment": ["Industry"],
                "opportunity_id": ["Converted Opportunity ID", "Opportunity ID"],
            },
        },
        "values": {
            "opportunities": {
                "status": {
                    **dict.fromkeys(_SALESFORCE_OPEN_STAGES, "open"),
                    "Closed Won": "won",
                    "Closed Lost": "lost",
                }
            }
        },
    },
    # HubSpot exports of the Deals and Contacts views (default sales pipeline).
    "hubspot": {
        "files": {"deals": "opportunities", "contacts": "leads"},
        "columns": {
            "opportunities": {
                "opportunity_id": ["Record ID", "Deal ID"],
                "account_id": ["Associated Company IDs", "Associated Company", "Company name"],
                "owner": ["Deal owner"],
                "channel": ["Original Traffic Source", "Original Source Type", "Original Source"],
                "created_at": ["Create Date"],
                "closed_at": ["Close Date"],
                "status": ["Deal Stage"],
                "amount": ["Amount"],
            },
            "leads": {
                "lead_id": ["Record ID", "Contact ID"],
                "created_at": ["Create Date"],
                "channel": ["Original Traffic Source", "Original Source"],
                "owner": ["Contact owner"],
                "segment": ["Industry"],
                "mql_at": ["Became a Marketing Qualified Lead Date"],
                "sql_at": ["Became a Sales Qualified Lead Date"],
            },
        },
        "values": {
            "opportunities": {
                "status": {
                    **dict.fromkeys(_HUBSPOT_OPEN_STAGES, "open"),
                    "Closed Won": "won",
                    "Closed Lost": "lost",
                }
            }
        },
    },
}

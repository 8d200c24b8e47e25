"""KPIBoard on tiny hand-made data: tiles, missing tables, currency and locale, escaping."""

from __future__ import annotations

import pandas as pd
import pytest

import kpiwidgets as kw

HOSTILE = "<img src=x onerror=alert(1)>"


def _data() -> dict[str, pd.DataFrame]:
    """Two quarters of leads and spend: Q1 3 leads for 300.0 of marketing spend (+ 50.0 of
    sales spend), Q2 2 leads for 1,234.56; one campaign has a hostile name."""
    leads = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d", "e"],
            "created_at": pd.to_datetime(
                ["2025-01-05", "2025-02-01", "2025-03-31", "2025-04-02", "2025-06-30"]
            ),
            "channel": ["web", "web", "events", "web", "events"],
            "campaign": ["spring", HOSTILE, "spring", HOSTILE, "spring"],
        }
    )
    spend = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-01-10", "2025-02-10", "2025-02-11", "2025-05-01"]),
            "channel": ["web", "events", "web", "web"],
            "campaign": ["spring", "spring", HOSTILE, HOSTILE],
            "team": ["marketing", "marketing", "sales", "marketing"],
            "amount": [200.0, 100.0, 50.0, 1234.56],
        }
    )
    return {"leads": leads, "spend": spend}


def test_tiles_show_value_change_and_target_by_hand():
    board = kw.KPIBoard(_data(), kpis=["leads", "cost_per_lead"], targets={"cost_per_lead": 600.0})
    tiles = board.result.set_index("kpi")
    # Q2: 2 leads (after 3 in Q1): −33.3 %; cost per lead 1,234.56 / 2 = 617.28 (Q1: 300 / 3).
    assert tiles.loc["leads", ["value", "previous"]].tolist() == [2.0, 3.0]
    assert tiles.loc["cost_per_lead", "value"] == pytest.approx(617.28)
    assert tiles.loc["cost_per_lead", "previous"] == pytest.approx(100.0)
    # Lower is better for cost per lead: 617.28 > 600 misses the target.
    assert tiles.loc["cost_per_lead", "status"] == "not met"
    html = board.parts["tiles"].children[1].children[1].children[0].value
    assert "$617.28" in html and "target $600.00" in html and "not met" in html
    assert "+517.3% vs previous" in html and "kpi-tile-bad" in html  # up is bad here
    leads_html = board.parts["tiles"].children[1].children[0].children[0].value
    assert "−33.3% vs previous" in leads_html and "kpi-tile-bad" in leads_html


def test_a_target_equal_to_the_value_is_met():
    board = kw.KPIBoard(_data(), kpis=["leads"], targets={"leads": 2})
    assert board.result.set_index("kpi").loc["leads", "status"] == "met"  # 2 ≥ 2


def test_money_in_the_teams_currency_and_locale():
    board = kw.KPIBoard(_data(), kpis=["cost_per_lead"], currency="BRL", locale="pt_BR")
    html = board.parts["tiles"].children[1].children[0].children[0].value
    assert "R$\xa0617,28" in html  # 1.234,56 / 2 in Brazilian notation
    board.selected = "cost_per_lead"
    table = board.parts["detail_table"].value
    assert "R$\xa0617,28" in table and "1.234,56" in table


def test_a_kpi_whose_table_is_missing_is_a_greyed_tile_naming_it():
    board = kw.KPIBoard(_data(), kpis=["leads", "revenue"])
    assert board.error == ""
    tiles = board.result.set_index("kpi")
    assert not tiles.loc["revenue", "available"]
    missing = [
        tile
        for box in board.parts["tiles"].children
        for tile in getattr(box, "children", [])
        if "kpi-tile-missing" in tile._dom_classes
    ]
    assert len(missing) == 1
    assert "needs the &#x27;opportunities&#x27; table" in missing[0].children[0].value
    assert "1 need tables the data lacks" in board.status


def test_user_text_is_escaped_in_the_detail():
    board = kw.KPIBoard(_data(), kpis=["leads", "cost_per_lead"], selected="leads")
    board.breakdown = "campaign"
    table = board.parts["detail_table"].value
    assert HOSTILE not in table
    assert "&lt;img src=x onerror=alert(1)&gt;" in table
    chart = board.parts["detail_chart"].chart
    frames = [c.data for c in (chart, *chart.layer) if isinstance(c.data, pd.DataFrame)]
    chart_rows = next(f for f in frames if "campaign" in f)
    assert HOSTILE in set(chart_rows["campaign"])  # SVG text in the chart, never HTML


def test_a_breakdown_the_new_kpi_does_not_allow_falls_back_to_overall():
    board = kw.KPIBoard(_data(), kpis=["leads", "cost_per_lead"], selected="leads")
    board.breakdown = "campaign"
    board.selected = "cost_per_lead"
    assert board.breakdown == "campaign"  # cost per lead has campaigns too
    board2 = kw.KPIBoard({**_data(), "campaign_stats": None}, kpis=["leads", "content_usage_rate"])
    board2.selected = "leads"
    board2.breakdown = "channel"
    board2.selected = "content_usage_rate"  # no breakdown allowed
    assert board2.breakdown is None


def test_a_bad_currency_or_locale_is_a_clear_error():
    with pytest.raises(ValueError, match="currency"):
        kw.KPIBoard(_data(), kpis=["leads"], currency="dollars")
    with pytest.raises(ValueError, match="locale"):
        kw.KPIBoard(_data(), kpis=["leads"], locale="xx_YY_ZZ")


def test_url_text_for_as_of_and_an_unknown_kpi_from_a_url():
    board = kw.KPIBoard(_data(), kpis=["leads"])
    ignored = board.apply_settings({"as_of": "2025-01-01", "period": "fortnight"})
    assert len(ignored) == 1 and ignored[0].startswith("period=")
    assert board.result.set_index("kpi").loc["leads", "value"] == 3.0
    board.apply_settings({"selected": "no_such_kpi"})
    assert "no_such_kpi" in board.error

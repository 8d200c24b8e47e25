"""docs/kpis.md documents every KPI of the catalog (the page cannot drift from the registry)."""

from __future__ import annotations

from pathlib import Path

import kpiwidgets as kw

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"


def test_every_catalog_kpi_has_a_row_in_the_docs_with_its_unit_and_options():
    text = DOCS.read_text()
    for row in kw.kpi_catalog().itertuples():
        line = next((ln for ln in text.splitlines() if ln.startswith(f"| `{row.name}` |")), None)
        assert line is not None, f"docs/kpis.md has no row for {row.name}"
        assert f"| {row.unit} | {row.better} |" in line, row.name
        for option, (default, _why) in row.options.items():
            assert f"`{option}={default!r}`" in line, (row.name, option)

"""FunnelExplorer without a browser: traits drive it, it draws what ``kw.funnel`` returns, and
clicks, bad settings and user text behave."""

from __future__ import annotations

import base64
import datetime as dt
import io
import warnings

import ipywidgets as widgets
import pandas as pd
import pytest

import kpiwidgets as kw
from tests.helpers import click_point
from tests.metrics.test_funnel_session import with_detours

LIFECYCLE = ["lead", "mql", "sql", "opportunity", "won"]
T0 = pd.Timestamp("2024-01-01")


@pytest.fixture(scope="module")
def demo():
    return kw.load_demo(n_leads=1_000).funnel_events


@pytest.fixture(scope="module")
def detoured(demo):
    """The demo plus events that make order and attempts change the funnel."""
    return with_detours(demo)


@pytest.fixture
def explorer(demo):
    return kw.FunnelExplorer(demo)


def _log(rows, **columns):
    """rows: (entity, event, hours after 2024-01-01); columns: extra property columns."""
    return pd.DataFrame(
        {
            "entity_id": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            "timestamp": [None if r[2] is None else T0 + pd.Timedelta(hours=r[2]) for r in rows],
            **columns,
        }
    )


def _settings(explorer):
    return {
        "window": explorer.window,
        "order": explorer.order,
        "attempts": explorer.attempts,
        "by": explorer.by,
        "start": explorer.start,
        "end": explorer.end,
    }


def _descendants(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _descendants(child)


def _csv_rows(explorer):
    """Press the page's "Prepare CSV" button, as a person would, and read the link's CSV."""
    (button,) = [
        w
        for w in _descendants(explorer)
        if isinstance(w, widgets.Button) and w.description.startswith("Prepare CSV")
    ]
    button.click()
    link = explorer.parts["download"].value
    payload = link.split("base64,")[1].split('"')[0]
    return pd.read_csv(io.StringIO(base64.b64decode(payload).decode()))


def test_default_steps_are_the_lifecycle_on_the_demo(explorer, demo):
    assert explorer.steps == LIFECYCLE
    assert explorer.error == ""
    pd.testing.assert_frame_equal(explorer.result, kw.funnel(demo, LIFECYCLE))
    entered = demo.loc[demo["event"] == "lead", "entity_id"].nunique()
    assert f"{entered:,} entered" in explorer.status


def test_default_steps_without_the_lifecycle_are_event_names_by_decreasing_count():
    rows = [(e, "visit", h) for e in "abcd" for h in (0, 1)]  # 8 visits
    rows += [(e, "signup", 2) for e in "abc"] + [("a", "pay", 3)]
    events = _log(rows)
    counts = events["event"].value_counts()
    assert counts.is_unique  # no ties: the order is well defined
    explorer = kw.FunnelExplorer(events)
    assert explorer.steps == counts.index.tolist() == ["visit", "signup", "pay"]
    assert explorer.result["entities"].tolist() == [4, 3, 1]


def test_every_control_trait_recomputes_the_result(detoured):
    explorer = kw.FunnelExplorer(detoured)
    changes = [
        ("window", "14D"),
        ("order", "strict"),
        ("attempts", "best"),
        ("by", "channel"),
        ("start", "2024-03-01"),
        ("end", dt.date(2024, 10, 1)),
        ("order", "any"),
        ("steps", ["lead", "sql", "won"]),
    ]
    previous = explorer.result
    for name, value in changes:
        setattr(explorer, name, value)
        assert explorer.error == "", name
        expected = kw.funnel(detoured, list(explorer.steps), **_settings(explorer))
        pd.testing.assert_frame_equal(explorer.result, expected)
        assert not explorer.result.equals(previous), f"{name} did not change the result"
        previous = explorer.result
    assert _settings(explorer) == {
        "window": "14D",
        "order": "any",
        "attempts": "best",
        "by": "channel",
        "start": "2024-03-01",
        "end": dt.date(2024, 10, 1),
    }


def test_controls_follow_the_traits_and_the_traits_follow_the_controls(explorer, demo):
    # Each change alone refreshes (the common tests check that per control); held here so
    # the widget recomputes once per half.
    with explorer.hold():
        explorer.window = "7D"
        explorer.order = "strict"
        explorer.attempts = "best"
        explorer.by = "segment"
        explorer.start = "2024-02-01"
        explorer.steps = ["lead", "won"]
    explorer.refresh(["compute", *explorer.all_parts()])
    assert explorer.error == ""
    assert explorer.controls["window"].value == "7D"
    assert explorer.controls["order"].value == "strict"
    assert explorer.controls["attempts"].value == "best"
    assert explorer.controls["by"].value == "segment"
    assert explorer.controls["start"].value == dt.date(2024, 2, 1)
    assert explorer.controls["steps"].value == ["lead", "won"]

    with explorer.hold():
        explorer.controls["window"].value = "60D"
        explorer.controls["order"].value = "any"
        explorer.controls["attempts"].value = "first"
        explorer.controls["by"].value = "(none)"
        explorer.controls["end"].value = dt.date(2024, 12, 1)
        explorer.controls["steps"].value = ["lead", "mql", "won"]
    explorer.refresh(["compute", *explorer.all_parts()])
    assert explorer.error == ""
    assert (explorer.window, explorer.order, explorer.attempts) == ("60D", "any", "first")
    assert explorer.by is None
    assert explorer.end == dt.date(2024, 12, 1)
    assert explorer.steps == ["lead", "mql", "won"]
    expected = kw.funnel(
        demo, ["lead", "mql", "won"], window="60D", order="any", start="2024-02-01",
        end="2024-12-01",
    )  # fmt: skip
    pd.testing.assert_frame_equal(explorer.result, expected)


def _dropped_at(demo, step, **settings):
    entities = kw.funnel_entities(demo, LIFECYCLE, **settings)
    return entities.loc[entities["furthest_step_number"] == step, "entity_id"].tolist()


def test_selected_step_from_python_lists_who_stopped_there(explorer, demo):
    expected = _dropped_at(demo, 2)
    assert 10 < len(expected) < 1_000
    explorer.selected_step = 2
    assert explorer.drop_offs["entity_id"].tolist() == expected
    # The chart is redrawn with that bar selected (as after a click).
    params = explorer.parts["funnel_chart"].chart.to_dict()["params"]
    (param,) = [p for p in params if p["name"] == "step"]
    assert param["value"] == [{"step_number": 2}]
    assert (explorer.drop_offs["furthest_step_number"] == 2).all()
    assert f"never reached sql: {len(expected):,} entities" in explorer.parts["drill"].value
    csv = _csv_rows(explorer)
    assert len(csv) == len(expected) and csv["entity_id"].tolist() == expected
    assert f"Download {len(expected):,} rows" in explorer.parts["download"].value
    # The list follows a window change with the step still selected.
    explorer.window = "7D"
    assert explorer.drop_offs["entity_id"].tolist() == _dropped_at(demo, 2, window="7D")
    explorer.selected_step = None
    assert explorer.drop_offs is None and "Click a step" in explorer.parts["drill"].value
    explorer.selected_step = 6  # no such step: said in the widget, not raised
    assert explorer.error == "selected_step: expected a step number 1..5, found 6"
    explorer.selected_step = 1
    assert explorer.error == "" and len(explorer.drop_offs) == len(
        _dropped_at(demo, 1, window="7D")
    )


@pytest.mark.parametrize("arrives", ["constructor", "apply_settings"])
def test_a_step_number_past_the_last_step_is_shown_however_it_arrives(demo, arrives):
    if arrives == "constructor":
        explorer = kw.FunnelExplorer(demo, selected_step=6)
    else:
        explorer = kw.FunnelExplorer(demo)
        assert explorer.apply_settings({"selected_step": 6}) == []
    assert explorer.error == "selected_step: expected a step number 1..5, found 6"


def test_a_click_on_a_bar_selects_its_step_even_after_a_chart_swap(explorer, demo):
    click_point(explorer.parts["funnel_chart"], "step", step_number=2)
    assert explorer.selected_step == 2
    assert explorer.drop_offs["entity_id"].tolist() == _dropped_at(demo, 2)
    explorer.window = "90D"  # swaps the chart: the click observer must survive
    click_point(explorer.parts["funnel_chart"], "step", step_number=5)
    assert explorer.selected_step == 5
    expected = _dropped_at(demo, 5, window="90D")
    assert explorer.drop_offs["entity_id"].tolist() == expected
    assert f"Completed the funnel (reached step 5, won): {len(expected):,}" in (
        explorer.parts["drill"].value
    )
    assert _csv_rows(explorer)["entity_id"].tolist() == expected


def test_breakdown_groups_the_bars_and_leaves_out_the_overall_rows(explorer, demo):
    explorer.by = "channel"
    spec = explorer.parts["funnel_chart"].chart.to_dict()
    assert spec["layer"][0]["encoding"]["xOffset"]["field"] == "channel"
    # One band per step on the x axis: the segments' bars stand side by side.
    assert spec["layer"][0]["encoding"]["x"]["sort"] == [
        f"{k}. {step}" for k, step in enumerate(LIFECYCLE, start=1)
    ]
    rows = spec["datasets"][spec["data"]["name"]]
    drawn = {row["channel"] for row in rows}
    assert drawn == set(demo["channel"].unique())
    assert None not in drawn  # the overall rows are not drawn as a segment
    assert len(rows) == len(drawn) * len(LIFECYCLE)
    # The status reports the overall numbers, not one segment's.
    assert "1,000 entered" in explorer.status and "by channel" in explorer.status
    explorer.by = None
    spec = explorer.parts["funnel_chart"].chart.to_dict()
    assert "xOffset" not in spec["layer"][0]["encoding"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("window", "bogus", "bogus"),
        ("steps", ["lead", "nope"], "nope"),
        ("by", "nope", "channel"),
        ("start", "not a date", "not a date"),
    ],
)
def test_a_bad_setting_is_shown_in_the_widget_and_a_good_one_recovers(
    explorer, demo, name, value, message
):
    good = explorer.result
    setattr(explorer, name, value)  # must not raise
    assert message in explorer.error
    assert explorer.parts["error"].layout.display == ""
    assert "Could not update" in explorer.parts["error"].value
    assert message.replace(" ", "") in explorer.parts["error"].value.replace(" ", "")
    assert explorer.result is good  # the last good state stays
    setattr(explorer, name, {"window": "14D", "steps": ["lead", "won"]}.get(name))
    assert explorer.error == "" and explorer.parts["error"].layout.display == "none"
    expected = kw.funnel(demo, list(explorer.steps), **_settings(explorer))
    pd.testing.assert_frame_equal(explorer.result, expected)


def test_user_text_is_escaped():
    rows = [("a", "lead", 0), ("a", "<b>x</b>", 1), ("b", "lead", 0), ("c", "lead", 0)]
    events = _log(rows, channel=["<i>ads</i>", "<i>ads</i>", "seo", "seo"])
    explorer = kw.FunnelExplorer(events, steps=["lead", "<b>x</b>"])
    assert explorer.result["entities"].tolist() == [3, 1]
    explorer.selected_step = 1
    drill = explorer.parts["drill"].value
    assert "never reached &lt;b&gt;x&lt;/b&gt;: 2 entities" in drill
    explorer.selected_step = 2
    assert "(reached step 2, &lt;b&gt;x&lt;/b&gt;): 1 entities" in explorer.parts["drill"].value
    status_html = explorer.parts["status"].value
    assert "reached &lt;b&gt;x&lt;/b&gt;" in status_html
    assert "reached <b>x</b>" in explorer.status  # the plain-text status reads as written
    explorer.by = "channel"
    explorer.view = "Segments"
    assert "&lt;i&gt;ads&lt;/i&gt;" in explorer.parts["segments"].value
    shown = [explorer.parts[name].value for name in ("drill", "status", "segments")]
    for text in shown:
        assert "<b>x</b>" not in text and "<i>ads</i>" not in text


def test_trend_view_draws_funnel_trend_for_the_settings(explorer, demo):
    explorer.window = "14D"
    explorer.freq = "M"
    explorer.view = "Trend"
    assert explorer.error == ""
    drawn = explorer.parts["trend_chart"].chart.data
    expected = kw.funnel_trend(demo, LIFECYCLE, window="14D", freq="M")
    expected = expected[expected["step_number"] > 1]
    pd.testing.assert_frame_equal(drawn.drop(columns="status"), expected)
    # Changing the frequency while the view is shown redraws it.
    explorer.freq = "Q"
    expected = kw.funnel_trend(demo, LIFECYCLE, window="14D", freq="Q")
    assert len(explorer.parts["trend_chart"].chart.data) == (expected["step_number"] > 1).sum()


def test_time_to_convert_view_draws_the_first_to_last_step_durations(explorer, demo):
    explorer.steps = ["lead", "mql"]
    explorer.view = "Time to convert"
    assert explorer.error == ""
    ttc = kw.time_to_convert(demo, ["lead", "mql"])
    drawn = explorer.parts["time_chart"].chart.data
    day = pd.Timedelta(days=1)
    assert drawn["start_days"].tolist() == (ttc.bins["bin_start"] / day).tolist()
    assert drawn["entities"].sum() == ttc.summary["entities"].iloc[0]
    assert f"<td>{ttc.summary['entities'].iloc[0]}</td>" in explorer.parts["time_summary"].value


def test_segments_view_needs_a_breakdown_then_lists_each_value(explorer, demo):
    explorer.view = "Segments"
    assert "Choose a breakdown" in explorer.parts["segments"].value
    explorer.by = "segment"
    table = explorer.parts["segments"].value
    for value in demo["segment"].unique():
        entered = demo.loc[(demo["event"] == "lead") & (demo["segment"] == value), "entity_id"]
        assert f"<td>{value}</td>\n      <td>{entered.nunique()}</td>" in table
    explorer.by = None
    assert "Choose a breakdown" in explorer.parts["segments"].value


def test_views_are_computed_when_shown(explorer, monkeypatch):
    calls = []
    real = kw.FunnelSession.trend

    def trend(self, *args, **kwargs):
        calls.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(kw.FunnelSession, "trend", trend)
    explorer.window = "7D"
    assert calls == []  # the funnel view is shown: no trend work
    explorer.view = "Trend"
    assert [c["window"] for c in calls] == ["7D"]


def test_status_counts_the_rows_left_out_for_nulls():
    rows = [
        ("a", "lead", 0), ("a", "won", 2), ("b", "lead", 1), ("c", "lead", 3),
        (None, "lead", 0), ("d", None, 0), ("e", "won", None), (None, "won", 5),
    ]  # fmt: skip
    events = _log(rows)
    nulls = int(events[["entity_id", "event", "timestamp"]].isna().any(axis=1).sum())
    assert nulls == 4
    # Said in the status line, not as a warning in the page.
    with warnings.catch_warnings():
        warnings.simplefilter("error", kw.DroppedRowsWarning)
        explorer = kw.FunnelExplorer(events, steps=["lead", "won"])
    # Per column: two null entity ids, one null event, one null timestamp.
    said = f"{nulls} rows left out (null entity_id: 2, null event: 1, null timestamp: 1)"
    assert said in explorer.status
    assert explorer.result["entities"].tolist() == [3, 1]
    explorer.window = "1h"
    assert explorer.result["entities"].tolist() == [3, 0]
    assert said in explorer.status
    # The same for a polars frame (no pandas attrs to carry the counts).
    import polars as pl

    on_polars = kw.FunnelExplorer(pl.from_pandas(events), steps=["lead", "won"])
    assert said in on_polars.status


def test_a_polars_event_log_puts_no_warning_in_the_page(demo):
    import polars as pl

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        explorer = kw.FunnelExplorer(pl.from_pandas(demo))
        explorer.window = "14D"
    assert explorer.error == ""
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize(
    "settings",
    [
        {"order": "ordered", "by": "channel"},
        {"order": "strict"},
        {"order": "any", "window": "7D"},
        {"attempts": "best", "window": "3D"},
    ],
)
def test_drill_down_count_equals_the_full_list_for_every_mode(detoured, settings):
    explorer = kw.FunnelExplorer(detoured, **settings)
    # Independently: funnel_entities for the same settings, furthest step k.
    entities = kw.funnel_entities(detoured, explorer.steps, **_settings(explorer))
    for k in range(1, len(explorer.steps) + 1):
        explorer.selected_step = k
        expected = int((entities["furthest_step_number"] == k).sum())
        assert explorer.drop_off_count == expected
        assert len(explorer.drop_offs) == expected
        assert f"{expected:,} entities" in explorer.parts["drill"].value
        body = explorer.parts["drill"].value.split("<tbody>")[1] if expected else ""
        assert body.count("<tr>") == min(10, expected)


def test_default_steps_stop_at_the_five_most_frequent_event_names():
    # Event e{i} is done by the first 10 - i entities: counts 10, 9, ..., 3 for e0..e7.
    rows = [(f"u{j}", f"e{i}", i) for i in range(8) for j in range(10 - i)]
    explorer = kw.FunnelExplorer(_log(rows))
    assert explorer.steps == ["e0", "e1", "e2", "e3", "e4"]
    assert explorer.result["entities"].tolist() == [10, 9, 8, 7, 6]


def test_a_timedelta_window_is_accepted_as_kw_funnel_accepts_it(demo):
    explorer = kw.FunnelExplorer(demo, window=dt.timedelta(days=14))
    assert explorer.error == "" and explorer.window == "14D"
    assert_equal = pd.testing.assert_frame_equal
    assert_equal(explorer.result, kw.funnel(demo, LIFECYCLE, window=dt.timedelta(days=14)))
    explorer.window = dt.timedelta(hours=36)  # the attribute too, as text in seconds
    assert explorer.window == "129600s" and explorer.error == ""


def test_segments_view_shows_rates_in_percent_and_the_gap_in_points(explorer, demo):
    explorer.by = "channel"
    explorer.view = "Segments"
    table = kw.segment_comparison(demo, explorer.steps, by="channel", window=explorer.window)
    row = table.iloc[0]
    html_text = explorer.parts["segments"].value
    assert f"{row['conversion']:.1%}" in html_text
    assert f"{row['difference'] * 100:+.1f} pts" in html_text
    assert f"{row['entities']:,}" in html_text


def test_a_users_json_data_transformer_is_left_alone(demo, tmp_path, monkeypatch):
    import altair as alt

    monkeypatch.chdir(tmp_path)  # the json transformer writes its data files here
    with alt.data_transformers.enable("json"):
        explorer = kw.FunnelExplorer(demo)
        assert explorer.error == "" and alt.data_transformers.active == "json"
    assert explorer.result["entities"].iloc[0] == demo["entity_id"].nunique()

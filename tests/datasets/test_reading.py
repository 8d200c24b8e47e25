"""Real exports read right: dates, decimal marks, duplicates, vocabularies, presets, files.

Each test writes a small file (or frame) whose right reading is known by hand and checks the
exact values read, not just that no error was raised.
"""

from __future__ import annotations

import gzip
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import kpiwidgets as kw
from kpiwidgets.datasets._formats import parse_dates, parse_numbers


def _write(folder, name, text, encoding="utf-8"):
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def _days(series):
    return series.dt.strftime("%Y-%m-%d").tolist()


# -- dates ---------------------------------------------------------------------------------


def test_day_first_dates_are_read_day_first_when_one_value_decides(tmp_path):
    # 01-02-2018 alone reads two ways; 26-02-2018 can only be 26 February: the column is
    # day-first, so 01-02-2018 is 1 February (month-first parsing made it 2 January).
    _write(
        tmp_path,
        "leads.csv",
        "lead_id,created_at\nL1,01-02-2018\nL2,26-02-2018\nL3,03-04-2018\n",
    )
    ds = kw.read_dataset(tmp_path)
    assert _days(ds.leads.created_at) == ["2018-02-01", "2018-02-26", "2018-04-03"]
    assert ds.formats["leads"]["created_at"] == "%d-%m-%Y"


def test_only_ambiguous_dates_raise_and_dayfirst_reads_them(tmp_path):
    _write(tmp_path, "leads.csv", "lead_id,created_at\nL1,01-02-2024\nL2,03-04-2024\n")
    with pytest.raises(ValueError) as error:
        kw.read_dataset(tmp_path)
    message = str(error.value)
    assert "table 'leads', column 'created_at'" in message
    assert "'01-02-2024'" in message and "'03-04-2024'" in message
    assert "dayfirst=" in message
    ds = kw.read_dataset(tmp_path, dayfirst=True)
    assert _days(ds.leads.created_at) == ["2024-02-01", "2024-04-03"]
    ds = kw.read_dataset(tmp_path, dayfirst=False)
    assert _days(ds.leads.created_at) == ["2024-01-02", "2024-03-04"]


def test_a_decisive_value_at_the_end_of_a_long_column_decides():
    # 5,000 ambiguous values (beyond the inference's first-guess sample), then one that is
    # only month-first: the whole column is month-first.
    ambiguous = [f"{m:02d}/{d:02d}/2023" for m in range(1, 13) for d in range(1, 13)] * 35
    values = pd.Series([*ambiguous, "12/31/2023"])
    parsed = parse_dates(values, "t", dayfirst=None)
    assert parsed.format == "%m/%d/%Y" and parsed.dayfirst is False
    assert parsed.values.iloc[0] == pd.Timestamp("2023-01-01")
    assert parsed.values.iloc[1] == pd.Timestamp("2023-01-02")  # "01/02": 2 January
    assert parsed.values.iloc[-1] == pd.Timestamp("2023-12-31")
    assert not parsed.unparseable.any()
    # The same with the decisive value day-first: the first guess (month-first) is undone.
    parsed = parse_dates(pd.Series([*ambiguous, "31/12/2023"]), "t", dayfirst=None)
    assert parsed.format == "%d/%m/%Y" and parsed.dayfirst is True
    assert parsed.values.iloc[1] == pd.Timestamp("2023-02-01")


def test_contradicting_dates_raise_naming_one_of_each():
    values = pd.Series(["26-02-2018", "01-02-2018", "02-27-2018"])
    with pytest.raises(ValueError, match=r"'26-02-2018' reads only day-first but '02-27-2018'"):
        parse_dates(values, "table 'leads', column 'created_at'")
    # Told the order, the value written the other way is unparseable (left out, counted).
    parsed = parse_dates(values, "t", dayfirst=True)
    assert parsed.unparseable.tolist() == [False, False, True]
    assert parsed.values.iloc[1] == pd.Timestamp("2018-02-01")


def test_iso_dates_are_never_ambiguous():
    values = pd.Series(["2024-01-02", "2024-03-04", "2024-05-06 10:30:00", None])
    parsed = parse_dates(values, "t", dayfirst=True)  # dayfirst does not touch ISO
    assert parsed.format == "ISO8601"
    assert parsed.values.iloc[0] == pd.Timestamp("2024-01-02")
    assert parsed.values.iloc[2] == pd.Timestamp("2024-05-06 10:30")
    assert pd.isna(parsed.values.iloc[3]) and not parsed.unparseable.iloc[3]


def test_a_column_is_read_with_one_format_never_a_mix():
    # The odd one out is not rescued by a second format: it is unparseable and counted.
    values = pd.Series(["26/02/2018", "27/02/2018", "2018-02-28"])
    parsed = parse_dates(values, "t")
    assert parsed.format == "%d/%m/%Y"
    assert parsed.unparseable.tolist() == [False, False, True]


def test_an_ambiguous_column_takes_the_order_of_its_table_siblings(tmp_path):
    # created_at decides day-first (26-...); mql_at reads both ways: same file, same habit.
    _write(
        tmp_path,
        "leads.csv",
        "lead_id,created_at,mql_at\nL1,26-01-2024,01-02-2024\nL2,03-01-2024,05-01-2024\n",
    )
    ds = kw.read_dataset(tmp_path)
    assert _days(ds.leads.mql_at) == ["2024-02-01", "2024-01-05"]
    assert ds.formats["leads"]["mql_at"] == "%d-%m-%Y"


def test_date_format_overrides_inference_per_column(tmp_path):
    _write(tmp_path, "leads.csv", "lead_id,created_at\nL1,01.02.24 13:05\nL2,03.04.24 09:00\n")
    ds = kw.read_dataset(tmp_path, date_format={"created_at": "%m.%d.%y %H:%M"})
    assert ds.leads.created_at.tolist() == [
        pd.Timestamp("2024-01-02 13:05"),
        pd.Timestamp("2024-03-04 09:00"),
    ]
    ds = kw.read_dataset(tmp_path, date_format="%d.%m.%y %H:%M")
    assert _days(ds.leads.created_at) == ["2024-02-01", "2024-04-03"]


def test_us_exports_with_times_and_am_pm():
    values = pd.Series(["2/26/2018 3:45 PM", "3/1/2018 11:02 AM"])
    parsed = parse_dates(values, "t")
    assert parsed.format == "%m/%d/%Y %I:%M %p"
    assert parsed.values.tolist() == [
        pd.Timestamp("2018-02-26 15:45"),
        pd.Timestamp("2018-03-01 11:02"),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "30-02-2018",
        "29-02-2019",
        "31-04-2018",
        "13-13-2018",
        "26-02-2018 24:00",
        "26-02-2018 10:60",
    ],
)
def test_out_of_range_fields_are_unparseable_never_moved_to_another_date(bad):
    # A strptime that normalises would read 30 February as 2 March: a plausible wrong date.
    fmt = "%d-%m-%Y %H:%M" if ":" in bad else "%d-%m-%Y"
    ok = "26-02-2018 10:00" if ":" in bad else "26-02-2018"
    parsed = parse_dates(pd.Series([ok, bad]), "t", date_format=fmt)
    assert parsed.unparseable.tolist() == [False, True]
    assert pd.isna(parsed.values.iloc[1])


def test_leap_days_two_digit_years_and_fractions():
    values = pd.Series(["29.02.24 23:59:59.5", "01.03.69 00:00:00.25", "31.12.68 12:00:00.000001"])
    parsed = parse_dates(values, "t", dayfirst=True)
    assert parsed.format == "%d.%m.%y %H:%M:%S.%f"
    assert parsed.values.tolist() == [
        pd.Timestamp("2024-02-29 23:59:59.5"),
        pd.Timestamp("1969-03-01 00:00:00.25"),  # 69-99 -> 19xx, as strptime reads them
        pd.Timestamp("2068-12-31 12:00:00.000001"),
    ]


def test_twelve_oclock_am_and_pm():
    parsed = parse_dates(pd.Series(["1/13/2024 12:05 AM", "1/13/2024 12:05 PM"]), "t")
    assert parsed.values.tolist() == [
        pd.Timestamp("2024-01-13 00:05"),
        pd.Timestamp("2024-01-13 12:05"),
    ]


# -- numbers -------------------------------------------------------------------------------


def test_decimal_commas_are_read_as_decimals(tmp_path):
    _write(
        tmp_path,
        "opportunities.csv",
        "opportunity_id;created_at;status;amount\n"
        'O1;2024-01-01;won;"1.200,50"\nO2;2024-01-02;won;"300,00"\nO3;2024-01-03;won;"0,75"\n',
    )
    ds = kw.read_dataset(tmp_path)
    assert ds.opportunities.amount.tolist() == [1200.5, 300.0, 0.75]
    assert ds.formats["opportunities"]["amount"] == "decimal ','"


@pytest.mark.parametrize(
    ("values", "expected", "mark"),
    [
        (["1,234.50", "99"], [1234.5, 99.0], "."),
        (["$1,234", "1.5"], [1234.0, 1.5], "."),
        (["1.234.567", "12"], [1234567, 12], ","),
        (["R$ 1.234,56", "-3,5"], [1234.56, -3.5], ","),
        (["€ 1 234,50", "(20,00)"], [1234.5, -20.0], ","),
        (["1'234.5", "USD 7"], [1234.5, 7.0], "."),
        (["0,750", "2"], [0.75, 2.0], ","),
        (["1200.500", "1"], [1200.5, 1.0], "."),
    ],
)
def test_number_marks_are_inferred(values, expected, mark):
    parsed, unparseable, used = parse_numbers(pd.Series(values), "t")
    assert used == mark
    assert parsed.tolist() == expected
    assert not unparseable.any()


def test_numbers_that_read_two_ways_or_contradict_raise():
    with pytest.raises(ValueError, match=r"reads two ways .*'1,200'.*decimal="):
        parse_numbers(pd.Series(["1,200", "3,500", "12"]), "table 'spend', column 'amount'")
    with pytest.raises(ValueError, match=r"contradict.*'1.5'.*'2,25'"):
        parse_numbers(pd.Series(["1.5", "2,25"]), "t")
    values, _, _ = parse_numbers(pd.Series(["1,200", "3,500"]), "t", decimal=",")
    assert values.tolist() == [1.2, 3.5]
    values, _, _ = parse_numbers(pd.Series(["1,200", "3,500"]), "t", decimal=".")
    assert values.tolist() == [1200, 3500]


def test_a_misplaced_thousands_separator_is_unparseable_not_a_bigger_number():
    # With a decimal point, "1,5" cannot be one thousand five hundred or fifteen.
    values, unparseable, _ = parse_numbers(pd.Series(["1,5", "2.0"]), "t", decimal=".")
    assert unparseable.tolist() == [True, False]
    assert np.isnan(values.iloc[0]) and values.iloc[1] == 2.0


# -- duplicates ----------------------------------------------------------------------------


def _deals(ids, amounts):
    return pd.DataFrame(
        {
            "opportunity_id": ids,
            "created_at": pd.to_datetime(["2024-01-01"] * len(ids)),
            "status": ["won"] * len(ids),
            "amount": amounts,
        }
    )


def test_duplicated_keys_are_refused_by_default():
    with pytest.raises(ValueError) as error:
        kw.Dataset(opportunities=_deals(["O1", "O2", "O1", "O1"], [100.0, 50.0, 100.0, 70.0]))
    message = str(error.value)
    assert "table 'opportunities', column 'opportunity_id'" in message
    assert "found 2 duplicated row(s) (e.g. 'O1')" in message
    assert "duplicates='first'" in message


@pytest.mark.parametrize(("policy", "amount_o1"), [("first", 100.0), ("last", 70.0)])
def test_duplicates_first_or_last_keep_one_and_count_the_rest(policy, amount_o1):
    deals = _deals(["O1", "O2", "O1", "O1"], [100.0, 50.0, 30.0, 70.0])
    with pytest.warns(kw.DroppedRowsWarning, match="duplicate opportunity_id: 2") as record:
        ds = kw.Dataset(opportunities=deals, duplicates=policy)
    assert record[0].message.counts == {"duplicate opportunity_id": 2, "rows left out": 2}
    kept = ds.opportunities.set_index("opportunity_id")["amount"].to_dict()
    assert kept == {"O1": amount_o1, "O2": 50.0}
    assert ds.dropped["opportunities"]["duplicate opportunity_id"] == 2


def test_duplicates_are_found_on_lazy_engines_too():
    import duckdb

    relation = duckdb.from_df(_deals(["O1", "O1"], [1.0, 2.0]))
    with pytest.raises(ValueError, match=r"found 1 duplicated row\(s\) \(e.g. 'O1'\)"):
        kw.Dataset(opportunities=relation)


# -- quality report ------------------------------------------------------------------------


def _messy():
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "created_at": pd.to_datetime(["2024-01-10", "2024-01-10", "2024-01-10"]),
            "mql_at": pd.to_datetime(["2024-01-05", "2024-01-12", None]),
        }
    )
    deals = pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2", "O3", "O4"],
            "lead_id": ["L1", "L9", "L2", None],
            "created_at": pd.to_datetime(["2024-02-01"] * 4),
            "closed_at": pd.to_datetime(["2024-01-15", "2024-03-01", None, "2024-06-30"]),
            "status": ["won", "won", "lost", "open"],
            "amount": [100.0, -5.0, 10.0, 20.0],
        }
    )
    history = pd.DataFrame(
        {
            "opportunity_id": ["O1", "O7"],
            "stage": ["won", "won"],
            "entered_at": pd.to_datetime(["2024-01-15", "2024-01-15"]),
        }
    )
    forecasts = pd.DataFrame(
        {
            "owner": ["Ann", "Ann", "Bo"],
            "period": pd.to_datetime(["2024-01-01", "2024-04-01", "2024-04-01"]),
            "snapshot_date": pd.to_datetime(["2024-03-31", "2024-07-01", "2024-05-01"]),
            "category": ["commit"] * 3,
            "amount": [1.0, 2.0, 3.0],
        }
    )
    return {
        "leads": leads,
        "opportunities": deals,
        "stage_history": history,
        "forecasts": forecasts,
    }


def test_quality_report_counts_each_finding_and_keeps_the_rows():
    with pytest.warns(kw.DataQualityWarning, match="closed_at before created_at: 1 row") as rec:
        ds = kw.Dataset(**_messy())
    found = {(r.table, r.check): (r.rows, r.examples) for r in ds.quality().itertuples()}
    assert found == {
        ("leads", "mql_at before created_at"): (1, ["L1"]),
        ("opportunities", "closed_at before created_at"): (1, ["O1"]),
        ("opportunities", "won deal with a missing or negative amount"): (1, ["O2"]),
        ("opportunities", "won or lost deal without closed_at"): (1, ["O3"]),
        ("opportunities", "lead_id not in leads"): (1, ["O2"]),
        ("stage_history", "opportunity_id not in opportunities"): (1, ["O7"]),
        # Quarterly periods (read from the data): 2024-07-01 is after Q2 2024.
        ("forecasts", "snapshot_date after its period"): (1, ["Ann"]),
    }
    assert len(rec) == 1
    assert len(ds.opportunities) == 4 and len(ds.leads) == 3  # nothing dropped
    summary = ds.summary().set_index("table")["quality_findings"]
    assert summary.to_dict() == {"leads": 1, "opportunities": 4, "stage_history": 1, "forecasts": 1}


def test_an_open_deals_close_date_is_expected_never_closed():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kw.DataQualityWarning)
        ds = kw.Dataset(opportunities=_messy()["opportunities"])
    o4 = ds.opportunities.set_index("opportunity_id").loc["O4"]
    assert pd.isna(o4.closed_at)
    assert o4.expected_close_at == pd.Timestamp("2024-06-30")
    assert ds.opportunities.closed_at.notna().sum() == 2  # O1 and O2 only


# -- vocabulary and presets ----------------------------------------------------------------


def test_values_map_stage_names_and_our_values_ignore_case_and_spaces():
    deals = _deals(["O1", "O2", "O3", "O4"], [1.0, 2.0, 3.0, 4.0])
    deals["status"] = ["Closed Won", "closed lost ", "Prospecting", " WON"]
    with pytest.raises(ValueError, match=r"expected one of open, won, lost, found 'Closed Won'"):
        kw.Dataset(opportunities=deals)
    ds = kw.Dataset(
        opportunities=deals,
        values={"opportunities": {"status": {"closed won": "won", "Closed Lost": "lost",
                                             "PROSPECTING": "open"}}},
    )  # fmt: skip
    assert ds.opportunities.status.tolist() == ["won", "lost", "open", "won"]


SALESFORCE_CSV = (
    "Opportunity Owner,Account Name,Opportunity Name,Stage,Fiscal Period,Amount,"
    "Probability (%),Close Date,Created Date,Lead Source,Type,Opportunity ID\n"
    'Ann Lee,Acme,Acme - 50 seats,Closed Won,Q1-2024,"$12,000.00",100,2/26/2024,1/15/2024,'
    "Web,New Business,0065g00000AAA01\n"
    'Ann Lee,Beta,Beta renewal,Closed Lost,Q1-2024,"$3,500.00",0,3/14/2024,1/20/2024,'
    "Partner Referral,Existing Business,0065g00000AAA02\n"
    'Bo Diaz,Gamma,Gamma pilot,Negotiation/Review,Q2-2024,"$8,250.50",90,6/28/2024,2/03/2024,'
    "Web,New Business,0065g00000AAA03\n"
    'Bo Diaz,Delta,Delta,Prospecting,Q2-2024,"$1,000.00",10,5/31/2024,3/13/2024,'
    "Trade Show,New Business,0065g00000AAA04\n"
    'Bo Diaz,Epsilon,Epsilon,Closed Won,Q1-2024,"$2,000.00",100,3/29/2024,2/14/2024,'
    "Web,New Business,0065g00000AAA05\n"
)

HUBSPOT_CSV = (
    "Record ID,Deal Name,Deal Stage,Close Date,Deal owner,Amount,Create Date,Pipeline\n"
    "9001,Acme,Closed Won,2024-02-26 10:00,Ann Lee,12000,2024-01-15 09:30,Sales Pipeline\n"
    "9002,Beta,Closed Lost,2024-03-14 16:20,Ann Lee,3500,2024-01-20 11:00,Sales Pipeline\n"
    "9003,Gamma,Contract Sent,2024-06-28 00:00,Bo Diaz,8250.5,2024-02-03 08:15,Sales Pipeline\n"
    "9004,Delta,Appointment Scheduled,,Bo Diaz,1000,2024-03-13 14:45,Sales Pipeline\n"
    "9005,Epsilon,closedwon,2024-03-29 12:00,Bo Diaz,2000,2024-02-14 10:10,Sales Pipeline\n"
)


# Both exports hold the same five deals: 12,000 + 2,000 won, 3,500 lost, 8,250.50 + 1,000 open.
EXPORT_TOTALS = {
    "lost": {"count": 1, "sum": 3500.0},
    "open": {"count": 2, "sum": 9250.5},
    "won": {"count": 2, "sum": 14000.0},
}


def _status_totals(deals):
    return deals.groupby("status")["amount"].agg(["count", "sum"]).to_dict("index")


def test_salesforce_preset_maps_an_opportunity_report(tmp_path):
    _write(tmp_path, "opportunities.csv", SALESFORCE_CSV)
    ds = kw.read_dataset(tmp_path, preset="salesforce")
    deals = ds.opportunities.set_index("opportunity_id")
    assert _status_totals(deals) == EXPORT_TOTALS
    assert deals.loc["0065g00000AAA01", "owner"] == "Ann Lee"
    assert deals.loc["0065g00000AAA01", "channel"] == "Web"
    assert deals.loc["0065g00000AAA01", "closed_at"] == pd.Timestamp("2024-02-26")
    # An open deal's "Close Date" is its expected close, never a closed date.
    assert pd.isna(deals.loc["0065g00000AAA03", "closed_at"])
    assert deals.loc["0065g00000AAA03", "expected_close_at"] == pd.Timestamp("2024-06-28")
    assert ds.formats["opportunities"]["created_at"] == "%m/%d/%Y"


def test_hubspot_preset_maps_a_deals_export_and_its_file_name(tmp_path):
    text = HUBSPOT_CSV.replace("closedwon", "Closed Won")
    _write(tmp_path, "deals.csv", text)
    ds = kw.read_dataset(tmp_path, preset="hubspot")
    deals = ds.opportunities.set_index("opportunity_id")
    assert _status_totals(deals) == EXPORT_TOTALS
    assert deals.index.tolist() == ["9001", "9002", "9003", "9004", "9005"]  # ids as text
    assert deals.loc["9003", "expected_close_at"] == pd.Timestamp("2024-06-28")
    assert pd.isna(deals.loc["9004", "expected_close_at"])


def test_an_unknown_stage_is_named_and_values_adds_it(tmp_path):
    # HubSpot's internal stage id instead of its label: named in the error, never guessed.
    _write(tmp_path, "deals.csv", HUBSPOT_CSV)
    with pytest.raises(ValueError, match=r"found 'closedwon'.*values="):
        kw.read_dataset(tmp_path, preset="hubspot")
    ds = kw.read_dataset(
        tmp_path, preset="hubspot", values={"opportunities": {"status": {"closedwon": "won"}}}
    )
    assert (ds.opportunities.status == "won").sum() == 2


# -- files ---------------------------------------------------------------------------------


def test_semicolon_csv_with_a_bom(tmp_path):
    _write(tmp_path, "leads.csv", "\ufefflead_id;created_at;channel\nL1;2024-01-05;web\n")
    ds = kw.read_dataset(tmp_path)
    assert list(ds.leads.columns) == ["lead_id", "created_at", "channel"]
    assert ds.leads.channel.tolist() == ["web"]


def test_xlsx_tsv_gzip_and_json_lines(tmp_path):
    pd.DataFrame(
        {"lead_id": ["007", "008"], "created_at": pd.to_datetime(["2024-01-05", "2024-02-10"])}
    ).to_excel(tmp_path / "leads.xlsx", index=False)
    _write(tmp_path, "spend.tsv", "date\tamount\n2024-01-01\t10,5\n2024-01-02\t2\n")
    with gzip.open(tmp_path / "revenue.csv.gz", "wt") as f:
        f.write("account_id,month,mrr\nA1,2024-01-01,100\nA1,2024-02-01,120\n")
    lines = [{"content_id": "C1", "title": "Guide", "created_at": "2024-03-01"}]
    (tmp_path / "content.json").write_text("\n".join(json.dumps(x) for x in lines))
    ds = kw.read_dataset(tmp_path)
    assert ds.leads.lead_id.tolist() == ["007", "008"]
    assert _days(ds.leads.created_at) == ["2024-01-05", "2024-02-10"]
    assert ds.spend.amount.tolist() == [10.5, 2.0]
    assert ds.revenue.mrr.tolist() == [100, 120]
    assert ds.content.title.tolist() == ["Guide"]
    assert _days(ds.content.created_at) == ["2024-03-01"]


def test_a_file_that_does_not_decode_is_named_with_its_byte_offset(tmp_path):
    text = "lead_id,created_at,owner\nL1,2024-01-05,Ana\nL2,2024-01-06,Jo"
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode() + b"\xe3o\n")  # "João" in Latin-1
    offset = len(text.encode())
    with pytest.raises(ValueError, match=rf"leads\.csv is not valid utf-8.*offset {offset}\b"):
        kw.read_dataset(tmp_path)
    ds = kw.read_dataset(tmp_path, encoding="latin-1")
    assert ds.leads.owner.tolist() == ["Ana", "João"]


def test_ids_keep_leading_zeros_when_renamed(tmp_path):
    # The README's own example: the id column has its export name in the file.
    _write(tmp_path, "leads.csv", "Lead ID,Created\n007,2024-01-05\n008,2024-01-06\n")
    ds = kw.read_dataset(
        tmp_path, columns={"leads": {"Lead ID": "lead_id", "Created": "created_at"}}
    )
    assert ds.leads.lead_id.tolist() == ["007", "008"]


def test_two_files_for_one_table_is_an_error(tmp_path):
    _write(tmp_path, "leads.csv", "lead_id,created_at\nL1,2024-01-05\n")
    _write(tmp_path, "Leads.tsv", "lead_id\tcreated_at\nL2\t2024-01-05\n")
    with pytest.raises(ValueError, match=r"two files for the 'leads' table"):
        kw.read_dataset(tmp_path)

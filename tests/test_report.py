import json

from factcheck.pipeline.claims import Claim
from factcheck.pipeline.mismatch import Mismatch
from factcheck.results import ClaimResult, Comparison, Evidence, Report, Span


def make_result(claim_id="c1", document_id="doc", verdict="contradicted", source=None):
    evidence = Evidence(
        document_id,
        10,
        30,
        "met on January 12 in Brussels",
        {"entailment": 0.0, "neutral": 0.1, "contradiction": 0.9},
        0.03,
        key_span=Span(document_id, 17, 27, "January 12"),
        mismatches=[Mismatch("date", 30, 40, "January 14", 17, 27, "January 12")],
        rule="mismatch",
    )
    claim = Claim("The council met on January 14.", id=claim_id, document_id=source)
    return ClaimResult(claim, document_id, verdict, 0.9, [evidence], best_contradiction=evidence)


def test_report_serialises_to_json_with_a_summary_per_claim():
    report = Report([make_result(), make_result(document_id="other", verdict="not_mentioned")])
    data = json.loads(report.to_json())
    assert data["results"][0]["evidence"][0]["key_span"]["text"] == "January 12"
    assert data["results"][0]["evidence"][0]["mismatches"][0]["claim_text"] == "January 14"
    assert data["summary"] == [
        {
            "claim_id": "c1",
            "claim": "The council met on January 14.",
            "supported": [],
            "contradicted": ["doc"],
            "not_mentioned": ["other"],
            "conflicting": [],
            "not_checked": 0,
        }
    ]


def test_dataframe_has_one_row_per_claim_and_source():
    frame = Report([make_result(), make_result(document_id="other", verdict="not_mentioned")]).to_dataframe()
    assert list(frame["document_id"]) == ["doc", "other"]
    assert frame.loc[0, "key_span"] == "January 12"
    assert frame["evidence"].isna()[1]  # a silent source has no evidence to show


def test_the_claims_own_fields_follow_it_into_every_row():
    result = make_result()
    result.claim.metadata = {"claimant": "the mayor", "tags": ["transport", "budget"]}
    report = Report([result])
    assert json.loads(report.to_json())["results"][0]["claim"]["metadata"]["tags"] == ["transport", "budget"]
    row = report.to_dataframe().iloc[0]
    assert row["claim.claimant"] == "the mayor"
    assert json.loads(row["claim.tags"]) == ["transport", "budget"]  # JSON in a cell, not a Python repr


def test_a_markdown_row_stays_one_line_whatever_line_breaks_the_source_has():
    from factcheck.output.formats import to_markdown

    result = make_result()
    result.evidence[0].text = "met on\r\nJanuary 12\rin Brussels\u2028today"
    result.evidence[0].key_span = Span("doc", 18, 28, "January 12")  # the passage starts at 10
    table = to_markdown(Report([result]))
    assert len(table.splitlines()) == 3  # header, rule, one row
    assert "met on **January 12** in Brussels today" in table


def test_comparison_lists_agreements_contradictions_and_one_sided_claims():
    comparison = Comparison(
        [
            make_result("a#1", "b", "contradicted", source="a"),
            make_result("a#2", "b", "not_mentioned", source="a"),
            make_result("b#1", "a", "supported", source="b"),
        ],
        document_a="a",
        document_b="b",
    )
    data = comparison.to_dict()
    assert data["contradictions"] == ["a#1"]
    assert data["only_in_a"] == ["a#2"]
    assert data["agreements"] == ["b#1"]
    assert data["only_in_b"] == []


def test_markdown_rows_name_their_claim_and_keep_ids_that_hold_a_bar():
    from factcheck.output.formats import to_markdown

    first, second = make_result("mayor|said", "tass|ru"), make_result("rival", "tass|ru")
    second.claim.text = first.claim.text  # one wording, two claims: the id tells them apart
    rows = to_markdown(Report([first, second])).splitlines()[2:]
    assert rows[0].startswith("| mayor\\|said | ") and rows[1].startswith("| rival | ")
    assert all(row.count(" | ") == 5 for row in rows)  # six cells: a bar in an id does not add one


def test_markdown_marks_the_key_span_where_it_stands_and_shows_markup_as_written():
    from factcheck.output.formats import to_markdown

    result = make_result()
    text = "The 212 crew said <b>212</b> *passengers* came"
    result.evidence[0].text, result.evidence[0].start, result.evidence[0].end = text, 100, 100 + len(text)
    second = text.index("212", 10)
    result.evidence[0].key_span = Span("doc", 100 + second, 100 + second + 3, "212")
    row = to_markdown(Report([result])).splitlines()[2]
    assert "The 212 crew said \\<b\\>**212**\\</b\\> \\*passengers\\* came" in row


def test_csv_keeps_offsets_whole_and_writes_no_formula_a_spreadsheet_would_run():
    import io

    import pandas as pd

    from factcheck.output.formats import render

    found, silent = make_result("=HYPERLINK(\"http://x\",\"y\")"), make_result("c2", verdict="not_mentioned")
    found.claim.text = "=1+2 the council met"
    table = pd.read_csv(io.StringIO(render(Report([found, silent]), "csv")))
    assert table.loc[0, "claim"] == "'=1+2 the council met" and table.loc[0, "claim_id"].startswith("'=HYPERLINK")
    assert ",10,30," in render(Report([found, silent]), "csv")  # not 10.0, 30.0: offsets slice the text


def test_a_report_into_a_pipe_or_device_writes_into_it_and_never_replaces_it(tmp_path):
    import os
    import stat
    import threading

    from factcheck.output.formats import write_atomically

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text(encoding="utf-8")))
    reader.start()
    write_atomically(pipe, "a report\n")
    reader.join(timeout=10)
    assert received == ["a report\n"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)  # renaming a file onto it (as onto /dev/null) made it a plain file

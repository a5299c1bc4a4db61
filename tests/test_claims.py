import pytest
from conftest import EXAMPLES_DIR

from factcheck.pipeline.claims import (
    Claim,
    ClaimInputError,
    as_claims,
    attribution,
    extract_claims,
    is_check_worthy,
    parse_claims,
)
from factcheck.pipeline.ingest import Document, load_documents

TASS = EXAMPLES_DIR / "articles" / "tass-2022-01-22-us-written-response.txt"


@pytest.fixture(scope="module")
def tass():
    if not TASS.is_file():
        pytest.skip(f"example article not found at {TASS}")
    (document,) = load_documents([TASS])
    return document


def test_strings_become_numbered_claims_and_ids_must_be_unique():
    claims = as_claims(["A happened.", Claim("B happened.", id="b")])
    assert [c.id for c in claims] == ["claim-1", "b"]
    with pytest.raises(ValueError, match="share the id 'b'"):
        as_claims([Claim("x y", id="b"), Claim("z w", id="b")])
    with pytest.raises(ValueError, match="non-empty"):
        as_claims(["   "])
    with pytest.raises(TypeError, match="claim 1"):
        as_claims([42])
    assert [c.text for c in as_claims("A lone claim.")] == ["A lone claim."]  # not one claim a character
    assert Claim("A happened.", id=5).id == "5"
    for bad in (None, "", " "):
        with pytest.raises(ValueError, match="a claim's id must be a non-empty string or an integer"):
            Claim("A happened.", id=bad)


def test_a_claim_records_other_fields_stay_with_it():
    text = (
        '{"id": "c1", "claim": "The bridge opened in 2019.", "claimant": "the mayor", "tags": ["transport"], "checked": 3}\n'
        '{"text": "The bridge cost 10 million.", "claim_url": "https://example.org/c2"}\n'
    )
    first, second = parse_claims(text, "claims.jsonl")
    assert first.metadata == {"claimant": "the mayor", "tags": ["transport"], "checked": 3}
    assert (second.id, second.metadata) == ("claim-2", {"claim_url": "https://example.org/c2"})
    # "claim" is the claim; a "text" beside it is the user's too, and is kept, not dropped.
    (both,) = parse_claims('{"claim": "A happened.", "text": "as said on TV"}', "claims.jsonl")
    assert (both.text, both.metadata) == ("A happened.", {"text": "as said on TV"})
    assert parse_claims("A happened.\n", "claims.txt")[0].metadata == {}
    with pytest.raises(ClaimInputError, match="claims.jsonl, line 1: field 'id' must be"):
        parse_claims('{"claim": "A happened.", "id": null}', "claims.jsonl")


def test_a_claims_file_is_read_as_its_extension_says():
    header = '# my claims\n{"id": "c1", "claim": "The library will cost 12 million dollars."}\n'
    with pytest.raises(ClaimInputError, match="claims.jsonl, line 1: invalid JSON"):
        parse_claims(header, "claims.jsonl")
    with pytest.raises(ClaimInputError, match="<stdin>, line 2: a JSON claim record in a file of one claim a line"):
        parse_claims(header, "<stdin>")
    (braced,) = parse_claims("{Update} The council approved the library.\n", "claims.txt")
    assert braced.text == "{Update} The council approved the library."
    (record,) = parse_claims('{"id": "c1", "claim": "The library opened."}\n', "<stdin>")
    assert record.id == "c1"


def test_claim_metadata_must_serialise_to_json():
    with pytest.raises(ValueError, match="claim 'c': metadata must be a JSON object"):
        Claim("A happened.", id="c", metadata={"when": object()})
    with pytest.raises(ValueError, match="metadata must be a JSON object"):
        Claim("A happened.", id="c", metadata={1: "x"})


@pytest.mark.parametrize(
    "sentence, speaker, via",
    [
        (
            "“There is a decision maker in Russia,” the newspaper said, quoting another Biden administration official.",
            "another Biden administration official",
            "the newspaper",
        ),
        ("US officials have asked Russia not to release it, the Washington Post reported.", "the Washington Post", None),
        ("At a press conference, Lavrov told reporters that publishing it would be good.", "Lavrov", None),
        ("State Department sources also told the Washington Post that the response will include proposals.", "State Department sources", None),
        ("The proposed measures include guarantees that NATO will not advance eastward.", None, None),
        ("The ferry was late, according to the port authority.", "the port authority", None),
        ("The ferry was late, according to officials in the U.S.", "officials in the U.S.", None),
        ("Mayor Ana Ribeiro said the delay was caused by a shortage of steel.", "Mayor Ana Ribeiro", None),
        ("Police said a man was arrested on Friday, according to reports.", "reports", None),
        ("“We will not raise taxes,” she told reporters outside parliament.", "she", None),
        ("Growth will slow to 2%, the IMF said in a report on Tuesday.", "the IMF", None),
        ("The company reported a loss of 5 million euros.", None, None),
        ("Officials told reporters the bridge would reopen in June.", "Officials", None),
    ],
)
def test_attribution_of_reported_speech(sentence, speaker, via):
    assert attribution(sentence) == (speaker, via)


def test_questions_fragments_and_boilerplate_are_not_claims():
    assert is_check_worthy("The council approved the budget on Monday.")
    assert not is_check_worthy("Will the council approve the budget?")
    assert not is_check_worthy("Read more.")
    assert not is_check_worthy("© 2022 All rights reserved by the publisher of this site.")


def test_extracted_claims_keep_their_spans_and_speakers(tass):
    claims = extract_claims(tass)
    assert len(claims) >= 10
    for claim in claims:
        assert tass.text[claim.start : claim.end] == claim.text
        assert claim.document_id == tass.id
    by_text = {c.text: c for c in claims}
    added = next(c for t, c in by_text.items() if t.startswith("“We don’t want to be the ones"))
    # "he added" continues the quote of the official the newspaper quoted just before.
    assert added.speaker == "another Biden administration official"
    assert not any(c.text.startswith("date 2022") for c in claims)


def test_claims_from_raw_text():
    document = Document(text="The mayor opened the new bridge on Monday. Is it safe?", id="raw")
    assert [c.text for c in extract_claims(document)] == ["The mayor opened the new bridge on Monday."]


def test_a_claim_without_an_id_never_takes_the_id_another_claim_was_given():
    assert [c.id for c in as_claims(["Fees rose.", Claim("Fees fell.", id="claim-1")])] == ["claim-1 (no id)", "claim-1"]
    records = '{"claim": "Fees rose."}\n{"id": "claim-1", "claim": "Fees fell."}\n{"id": 3, "claim": "Fees held."}\n'
    assert [c.id for c in parse_claims(records, "claims.jsonl")] == ["claim-1 (no id)", "claim-1", "3"]


def test_a_table_of_claims_is_read_by_its_columns():
    table = 'id,claim,desk\nc1,"The terminal cost 84 million euros, the mayor said.",transport\n,"Fees rose.",\n'
    first, second = parse_claims(table, "claims.csv")
    assert (first.id, first.text, first.metadata) == ("c1", "The terminal cost 84 million euros, the mayor said.", {"desk": "transport"})
    assert (second.id, second.text) == ("claim-2", "Fees rose.")
    with pytest.raises(ClaimInputError, match=r"claims.tsv, line 1: a table of claims needs a 'claim' \(or 'text'\) column"):
        parse_claims("a\tb\n1\t2\n", "claims.tsv")
    with pytest.raises(ClaimInputError, match="claims.csv, line 2: field 'claim'"):
        parse_claims("id,claim\nc1,\n", "claims.csv")


def test_a_quote_goes_to_the_speaker_named_just_before_it():
    text = (
        "The port opened on Monday, the harbour authority said. Mayor Ana Ribeiro said the delay was caused by "
        "a shortage of steel. “We will not ask residents to pay for the overrun,” she added."
    )
    claims = extract_claims(Document(text=text, id="x"))
    assert [c.speaker for c in claims] == ["the harbour authority", "Mayor Ana Ribeiro", "Mayor Ana Ribeiro"]

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factcheck import segment
from factcheck.pipeline.ingest import DATE_HEADER, Document, load_documents
from factcheck.pipeline.segment import Sentence, split_sentences

TASS = Path(__file__).resolve().parents[2] / "shared/examples/articles/tass-2022-01-22-us-written-response.txt"


def sentences_of(text: str) -> list[Sentence]:
    document = Document(text=text, id="doc")
    sentences = split_sentences(document)
    check_invariants(document, sentences)
    return sentences


def texts(text: str) -> list[str]:
    return [s.text for s in sentences_of(text)]


def check_invariants(document: Document, sentences: list[Sentence]) -> None:
    text = document.text
    covered = bytearray(len(text))
    previous_end = 0
    for i, s in enumerate(sentences):
        assert (s.document_id, s.index) == (document.id, i)
        assert text[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip()
        assert s.start >= previous_end
        previous_end = s.end
        covered[s.start : s.end] = b"\x01" * (s.end - s.start)
    header = DATE_HEADER.match(text)
    lost = [i for i in range(header.end() if header else 0, len(text)) if not covered[i] and not text[i].isspace()]
    assert not lost, f"characters in no sentence: {[text[i] for i in lost[:20]]}"


@pytest.fixture(scope="module")
def tass() -> list[Sentence]:
    if not TASS.is_file():
        pytest.skip(f"example article not found at {TASS} (the shared examples folder sits next to the repo)")
    (document,) = load_documents([TASS])
    sentences = split_sentences(document)
    check_invariants(document, sentences)
    return sentences


def test_tass_dateline_stays_with_first_sentence_and_date_line_is_skipped(tass):
    assert tass[0].text == (
        "WASHINGTON, January 22. /TASS/. US officials have asked their Russian colleagues not to release "
        "Washington’s written response to Moscow’s proposal on security guarantees, the Washignton Post reported."
    )
    assert not any(s.text in ("WASHINGTON, January 22.", "/TASS/.") or "2022-01-22" in s.text for s in tass)


def test_tass_specific_sentences(tass):
    found = [s.text for s in tass]
    for expected in [
        "At the same time, the document will not contain any commitments regarding NATO’s openness policy "
        "and the accession of new members.",
        "“There is a decision maker in Russia and that is President Putin,” the newspaper said, "
        "quoting another Biden administration official.",
        "“We don’t want to be the ones to rule out a possible diplomatic solution,” he added.",
        "However, Russia will seek Blinken’s consent to do so, he added.",
    ]:
        assert expected in found
    assert len(found) == 16


def test_abbreviations_do_not_split():
    text = "The U.S. Army said on Jan. 5 that Gen. Mark Milley had met Mr. Smith. They agreed to talk again."
    assert texts(text) == [
        "The U.S. Army said on Jan. 5 that Gen. Mark Milley had met Mr. Smith.",
        "They agreed to talk again.",
    ]


def test_quote_followed_by_attribution_is_one_sentence():
    assert texts("“We will not back down,” the newspaper said. Then he left.") == [
        "“We will not back down,” the newspaper said.",
        "Then he left.",
    ]


@pytest.mark.parametrize(
    "text, first",
    [
        ("MOSCOW, January 22. /TASS/. Talks began. More.", "MOSCOW, January 22. /TASS/. Talks began."),
        ("ST. PETERSBURG, June 3. Putin spoke. More.", "ST. PETERSBURG, June 3. Putin spoke."),
        ("KYIV, Ukraine, Feb. 24 (AP) — Blasts were heard. More.", "KYIV, Ukraine, Feb. 24 (AP) — Blasts were heard."),
        ("PORT ELLIS,\tMarch 4. The ferry opened. More.", "PORT ELLIS,\tMarch 4. The ferry opened."),
    ],
)
def test_datelines_stay_with_their_sentence(text, first):
    assert texts(text) == [first, "More."]


def test_a_dateline_after_a_lone_carriage_return_stays_with_its_sentence():
    # Old Mac files end lines with "\r" alone: the dateline still starts a line.
    assert texts("Ferry opens\rPORT ELLIS, March 4. The ferry opened. More.")[1:] == ["PORT ELLIS, March 4. The ferry opened.", "More."]


def test_headline_line_then_dateline_as_trafilatura_gives_them():
    assert texts("US to send written response\nWASHINGTON, January 22. /TASS/. US officials have asked.") == [
        "US to send written response",
        "WASHINGTON, January 22. /TASS/. US officials have asked.",
    ]


def test_blank_line_always_splits():
    assert texts("A headline without a full stop\n \n  Next paragraph, Mr.\r\n\r\nThird") == [
        "A headline without a full stop",
        "Next paragraph, Mr.",
        "Third",
    ]


def test_repeated_sentences_get_their_own_offsets():
    assert [(s.start, s.end) for s in sentences_of("Yes.  Yes. Yes.\n\nYes.")] == [(0, 4), (6, 10), (11, 15), (17, 21)]


def test_offsets_count_from_after_a_bom(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf date 2022-01-22\nFirst one. Second one.")
    (document,) = load_documents([path])
    assert [(s.start, s.text) for s in split_sentences(document)] == [(17, "First one."), (28, "Second one.")]


def test_characters_pysbd_drops_are_kept():
    assert texts("Item 1. ?!\nThen it ended.") == ["Item 1.", "?!\nThen it ended."]


def test_a_doubled_full_stop_is_not_a_sentence_of_its_own():
    # pysbd cut the second "." off as a sentence: a passage of one character, checked against every claim.
    assert texts("Police raced to seal off the building..\n\nThe next day it reopened.") == [
        "Police raced to seal off the building..",
        "The next day it reopened.",
    ]


def test_sentences_pysbd_would_cut_are_still_cut():
    # The splitter hands pysbd only what it could cut: quotations, list items and inner punctuation still go to it.
    assert texts("He listed a) the vote b) the budget") == ["He listed", "a) the vote", "b) the budget"]
    assert texts("'A disaster' Officials said so. Then they left") == ["'A disaster'", "Officials said so.", "Then they left"]
    assert texts("Rain fell? Yes! It did.") == ["Rain fell?", "Yes!", "It did."]


def test_offsets_stay_exact_when_the_splitter_edits_sentences(monkeypatch):
    class Editing:  # pysbd's processor, which the splitter asks for its sentences
        def processor(self, text):
            return SimpleNamespace(process=lambda: [piece.replace("  ", " ").upper() for piece in text.split(". ")])

    monkeypatch.setattr(segment, "_SEGMENTER", Editing())
    assert texts("One  two. Three  four. Five.") == ["One  two.", "Three  four.", "Five."]


def test_separator_controls_before_a_list_number_do_not_crash_pysbd():
    assert texts("Items: \x1c1. first one. Then\x1f2. second.")


def test_to_dict():
    (s,) = sentences_of("  Hello there.")
    assert s.to_dict() == {"document_id": "doc", "index": 0, "start": 2, "end": 14, "text": "Hello there."}


def test_long_paragraph_is_split_like_short_text_and_fast():
    sentence = "The U.S. envoy met Gen. Smith on Jan. 5, the newspaper said. "
    text = sentence * 10_000  # 100,000 words in a single paragraph
    started = time.perf_counter()
    found = texts(text)
    # Quadratic behaviour would take minutes; the bound is loose for loaded machines.
    assert time.perf_counter() - started < 60
    assert found == [sentence.strip()] * 10_000


def test_a_run_on_sentence_is_cut_into_pieces_the_model_reads_whole():
    talk = "so um the meeting started late " + " ".join(f"and speaker {i} talked about the roads, the weather" for i in range(30))
    pieces = sentences_of(talk + " and finally the council approved the budget")
    assert len(pieces) > 1 and all(len(p.text.split()) <= segment.MAX_SENTENCE_WORDS for p in pieces)
    assert all(p.text.endswith(",") for p in pieces[:-1])  # at a clause end where there is one
    assert pieces[-1].text.endswith("the council approved the budget")
    # An ordinary long sentence is left whole.
    assert len(sentences_of("The council, " + "after a long debate about the cost of the new terminal, " * 4 + "agreed.")) == 1


def test_text_without_any_boundary_is_still_covered():
    sentences_of("word " * 4000 + "\n\n" + "x" * 12_000)


# Text that exercises the splitter: abbreviations, quotes, datelines, line breaks of all kinds.
PIECES = st.sampled_from(
    ["The", "U.S.", "Mr.", "Jan.", "22.", "/TASS/.", "WASHINGTON,", "“Stop,”", "he", "said.", "?!", "...", "e.g."]
    + ["3.5%", "(AP)", "—", "’", "a)", "1.", "12.", "(1)", "date", "2022-01-22"]
    + [" ", "  ", "\n", "\r\n", "\n\n", "\t", "\u2029", "\u00a0", "\x1c", "\x1f"]
)
MESSY_TEXT = st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=60).map(" ".join)


def header_and(body: str, header: bool) -> str:
    return (" date 2022-01-22 \n" if header else "") + body


@settings(max_examples=150, deadline=None)
@given(st.text(), st.booleans())
def test_any_unicode_text(body, header):
    sentences_of(header_and(body, header))


@settings(max_examples=150, deadline=None)
@given(MESSY_TEXT, st.booleans())
def test_news_like_text(body, header):
    sentences_of(header_and(body, header))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=" \t\n\r\x0b\x0c\x1c\x1f\x85\u00a0\u2028\u2029\u3000.x1", max_size=300))
def test_whitespace_heavy_text(text):
    sentences_of(text)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(MESSY_TEXT, st.text()).filter(str.strip), st.integers(min_value=6_000, max_value=20_000))
def test_long_inputs_across_windows(body, length):
    sentences_of((body + " ") * (length // (len(body) + 1) + 1))

"""Documents -> sentences with exact character offsets into ``Document.text``.

Every ``Sentence`` satisfies ``document.text[s.start:s.end] == s.text``; sentences
come in order, do not overlap, carry no leading or trailing whitespace, and
together hold every non-space character of the document except the date line.

How text is split:

* A blank line always ends a sentence (the text is cut into paragraphs first).
* Within a paragraph, pysbd (rule-based, English "Golden Rules") finds the
  boundaries. It keeps ``U.S.``, ``Jan. 5``, ``Gen.``, ``Mr.``, decimals and
  ``“…,” the newspaper said`` together and needs no model download (NLTK's punkt
  needs its data fetched, spaCy a pipeline). Like pysbd, a single line break
  ends a sentence: right for headlines and for trafilatura's output (one line a
  paragraph), wrong for hard-wrapped text, which comes out one line a sentence.
* The first line ``date YYYY-MM-DD`` (see ``factcheck.pipeline.ingest.DATE_HEADER``) is
  skipped: it is metadata, already in ``Document.date``, not a claim or evidence.
* A run-on sentence of more than ``MAX_SENTENCE_WORDS`` words (a transcript without punctuation) is cut into
  pieces of at most that many, so that no passage is longer than the NLI model reads.
* A news dateline stays attached to the sentence it introduces:
  ``WASHINGTON, January 22. /TASS/. US officials have asked …`` is one sentence.
  pysbd alone makes ``WASHINGTON, January 22.`` and ``/TASS/.`` sentences of
  their own, fragments that are useless as NLI evidence, while the place and
  date are useful context for the sentence that follows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import pysbd

from factcheck.pipeline.ingest import DATE_HEADER, Document

_SEGMENTER = pysbd.Segmenter(language="en", clean=False)

# pysbd's time grows faster than the input (one 8,000-word paragraph: 1.6 s; 2,000 words: 0.17 s),
# so long paragraphs are fed to it in windows of about this many characters.
_WINDOW = 5000

# pysbd crashes on the separators U+001C..U+001F before a list number ("\x1c1. item": it int()s "\x1c1"),
# which str.isspace counts as whitespace but int() does not strip. It is given spaces instead: same length,
# so the same offsets.
_SEPARATORS_AS_SPACES = str.maketrans("\x1c\x1d\x1e\x1f", "    ")
PARAGRAPH_BREAK = re.compile(r"(?:\r\n?|\n)[^\S\r\n]*(?:\r\n?|\n)|\u2029")
_WORD = re.compile(r"\S+")
# A stretch pysbd cannot cut: it starts with a letter or digit (pysbd reads a leading quotation or bracket as a
# sentence of its own), holds no sentence punctuation, line break or closing bracket (which pysbd may read as a
# list item, "a) ... b) ..."), and ends, if at all, in a run of . ! ? with nothing after it. Half of news paragraphs
# are one such sentence; pysbd spends a millisecond each to return them whole.
_ONE_SENTENCE = re.compile(r"\s*[^\W_][^.!?。．！？…\r\n)]*[.!?]*\s*")
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# "WASHINGTON, January 22. /TASS/.", "ST. PETERSBURG, June 3.", "KYIV, Ukraine, Feb. 24 (AP)": a place in
# capitals at the start of a line, an optional region, a date, an optional agency tag.
# A line starts after "\n" or a lone "\r" (old Mac files); spaces are any but line breaks (tabs, no-break spaces).
_SPACE = r"[^\S\r\n]"
DATELINE = re.compile(
    rf"(?:^|(?<=\r)){_SPACE}*[A-Z](?:[A-Z.'’\-]|{_SPACE}){{0,40}},(?:{_SPACE}+[A-Z](?:[\w.'’\-]|{_SPACE}){{0,40}},)?"
    rf"{_SPACE}+{_MONTH}{_SPACE}+\d{{1,2}}\.?(?:{_SPACE}*/[A-Z](?:[\w\-]|{_SPACE}){{0,20}}/\.?)?",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Sentence:
    document_id: str
    index: int
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


def split_sentences(document: Document) -> list[Sentence]:
    text = document.text
    header = DATE_HEADER.match(text)
    plain = text.translate(_SEPARATORS_AS_SPACES)
    spans = []
    for start, end in _paragraphs(text, header.end() if header else 0):
        spans.extend(_split_paragraph(plain, start, end))
    return [Sentence(document.id, i, start, end, text[start:end]) for i, (start, end) in enumerate(spans)]


def _paragraphs(text: str, pos: int) -> Iterator[tuple[int, int]]:
    for gap in PARAGRAPH_BREAK.finditer(text, pos):
        yield pos, gap.start()
        pos = gap.end()
    yield pos, len(text)


def _split_paragraph(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Stripped, non-empty (start, end) spans between the paragraph's sentence boundaries."""
    datelines = [(d.start(), d.end()) for d in DATELINE.finditer(text, start, end)]
    cuts = [c for c in _boundaries(text, start, end) if not any(a < c <= b for a, b in datelines)]
    bounds = [start, *cuts, end]
    for a, b in zip(bounds, bounds[1:]):
        piece = text[a:b]
        a += len(piece) - len(piece.lstrip())
        b -= len(piece) - len(piece.rstrip())
        if a < b:
            yield from _run_on_pieces(text, a, b)


# The NLI model reads 512 tokens of passage and claim together, and a passage is up to two sentences. A run-on
# "sentence" (a transcript without punctuation, a list run together) of more words than this is cut into pieces,
# after a comma, semicolon or colon where one is near the limit, else between words: a passage cut off by the
# model can read as contradicting what its lost end supports, and a long one is judged by its noise (a budget
# approved at the end of 220 words of talk came back "contradicted" 0.67, at the end of 41 words "supported").
# 0.6% of FNC-1 bodies' sentences are longer; a window of two pieces still holds such a sentence whole.
MAX_SENTENCE_WORDS = 60
_CLAUSE_END = (",", ";", ":", "—", "–")


def _run_on_pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    if end - start < 2 * MAX_SENTENCE_WORDS:  # too short to hold that many words: no need to count them
        yield start, end
        return
    words = [m.span() for m in _WORD.finditer(text, start, end)]
    first = 0
    while len(words) - first > MAX_SENTENCE_WORDS:
        last = first + MAX_SENTENCE_WORDS - 1
        # The last clause end in the second half of the allowance, if any.
        for i in range(last, first + MAX_SENTENCE_WORDS // 2, -1):
            if text[words[i][1] - 1] in _CLAUSE_END:
                last = i
                break
        yield words[first][0], words[last][1]
        first = last + 1
    yield words[first][0], words[-1][1]


def _boundaries(text: str, start: int, end: int) -> list[int]:
    """Offsets in ``text`` where pysbd ends a sentence inside ``text[start:end]``."""
    cuts = []
    while end - start > _WINDOW:
        # End the window at a space so that pysbd sees whole words. Its last sentence may be cut short
        # by the window, so only the boundaries before it count; the next window starts there.
        window_end = max(text.rfind(c, start + 1, start + _WINDOW) for c in " \t\n\r")
        if window_end <= start:
            window_end = start + _WINDOW
        window_cuts = _pysbd_boundaries(text, start, window_end)
        # No boundary in a whole window: not a sentence anyone wrote, so cut it at the window's end.
        cuts.extend(window_cuts or [window_end])
        start = cuts[-1]
    return cuts + _pysbd_boundaries(text, start, end)


def _pysbd_boundaries(text: str, start: int, end: int) -> list[int]:
    # pysbd's own char_span offsets come from searching each sentence's text anew, which goes wrong for
    # repeated sentences; it also drops characters between sentences ("Item 1. ?!\nThen" loses "?!") and
    # has been reported to edit sentences (pySBD issue #83). So only its boundaries are used: each sentence
    # is looked for from where the previous one ended (characters it skipped join that sentence), and one
    # not in the text verbatim ends after as many non-space characters as it has. Spans are always cut
    # from the text itself, so offsets are exact and no character is lost whatever pysbd returns.
    # Its sentences are taken from its processor, before ``Segmenter.segment`` looks each one up in the text by
    # a regular expression made from it: one new pattern a sentence, which overflows Python's cache of compiled
    # patterns (512) and makes pysbd compile its own rules again on every call. The sentences are the same (on
    # 3,000 FNC-1 paragraphs) in 40% less time: a third of a short-document check's time was spent splitting.
    if start >= end or _ONE_SENTENCE.fullmatch(text, start, end):
        return []
    cuts = []
    pos = start
    for sentence in _SEGMENTER.processor(text[start:end]).process()[:-1]:
        sentence = sentence.strip()
        if not sentence:
            continue
        found = text.find(sentence, pos, end)
        if found >= 0:
            pos = found + len(sentence)
        else:
            pos = _after_non_space(text, pos, end, sum(not c.isspace() for c in sentence))
        cuts.append(pos)
    return cuts


def _after_non_space(text: str, pos: int, end: int, count: int) -> int:
    """The end of the word holding the ``count``-th non-space character from ``pos`` (never mid-word)."""
    for word in _WORD.finditer(text, pos, end):
        count -= len(word.group())
        if count <= 0:
            return word.end()
    return end

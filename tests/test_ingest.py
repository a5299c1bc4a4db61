from __future__ import annotations

import json
import os
import random

import pytest
from conftest import SPANISH_ARTICLE

from factcheck.pipeline.ingest import Document, IngestError, decode_text, load_documents, read_text
from factcheck.pipeline.segment import split_sentences

ARTICLE = "WASHINGTON, January 22. /TASS/. US officials have asked their Russian colleagues not to release it.\n"
HEADED = " date 2022-01-22 \n\n\n\n" + ARTICLE


def write(path, content: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def one(path) -> Document:
    (document,) = load_documents([path])
    return document


def test_txt_keeps_full_text_and_reads_date_from_header_line(tmp_path):
    document = one(write(tmp_path / "tass-us-response.txt", HEADED))
    # The header stays in the text: later offsets must match the user's file.
    assert document.text == HEADED
    assert document.date == "2022-01-22"
    assert document.id == "tass-us-response"
    assert document.path == str(tmp_path / "tass-us-response.txt")
    assert json.loads(json.dumps(document.to_dict()))["date"] == "2022-01-22"


def test_a_document_needs_an_id_and_text():
    assert Document(text="Cats purr.", id=5).id == "5"
    for bad in (None, "", "  ", True, 1.5):
        with pytest.raises(ValueError, match="id must be a non-empty string or an integer"):
            Document(text="Cats purr.", id=bad)
    with pytest.raises(ValueError, match="document 'd': text must be a string"):
        Document(text=None, id="d")


def test_an_empty_path_is_an_error_not_the_current_folder():
    # What an unset shell variable gives: -a "$ARTICLES".
    for empty in ("", " "):  # (Path("") is Path("."), the current folder asked for)
        with pytest.raises(IngestError, match="an empty path"):
            load_documents([empty])


def test_markdown_is_read_as_is(tmp_path):
    text = "# Headline\n\nSome *emphasis* here.\n"
    document = one(write(tmp_path / "note.md", text))
    assert (document.text, document.id, document.date) == (text, "note", None)


def test_html_main_text_and_metadata(tmp_path):
    html = """<html><head><title>US to send written response | TASS</title>
    <meta property="article:published_time" content="2022-01-22T10:00:00Z">
    <meta property="og:site_name" content="TASS"></head>
    <body><nav>Home | World | Sport</nav><article><h1>US to send written response</h1>
    <p>WASHINGTON, January 22. /TASS/. US officials have asked their Russian colleagues not to release the response.</p>
    <p>However, according to the newspaper, the Kremlin may decide to release it after the United States sends it.</p>
    </article><footer>Copyright TASS 2022</footer></body></html>"""
    document = one(write(tmp_path / "page.html", html))
    assert "US officials have asked their Russian colleagues" in document.text
    assert "Copyright" not in document.text and "Sport" not in document.text
    assert document.title == "US to send written response"
    assert document.date == "2022-01-22"
    assert document.source == "TASS"


def test_an_html_page_without_a_date_gets_none_not_a_year_of_its_text(tmp_path):
    html = """<html><body><article><p>The new ferry terminal opened on Monday, the harbour authority said.</p>
    <p>Local fishermen, who opposed the project in 2022, said the breakwater left them less room.</p></article>
    <footer>Copyright 2025</footer></body></html>"""
    assert one(write(tmp_path / "undated.html", html)).date is None


def test_html_without_main_text_is_an_error(tmp_path):
    path = write(tmp_path / "blank.htm", "<html><body><script>var x = 1;</script></body></html>")
    with pytest.raises(IngestError, match=r"blank\.htm: no main text"):
        load_documents([path])


def test_single_json_object_defaults_id_to_stem_and_takes_fields(tmp_path):
    record = {"text": "Talks ended.", "title": "Talks", "date": "2022-01-10T09:30:00Z", "source": "TASS", "url": "u"}
    document = one(write(tmp_path / "talks.json", json.dumps(record)))
    assert (document.id, document.text, document.title) == ("talks", "Talks ended.", "Talks")
    assert (document.date, document.source, document.url) == ("2022-01-10", "TASS", "u")


def test_json_list_and_jsonl_records(tmp_path):
    records = [{"id": "a", "text": "First."}, {"id": 7, "text": " date 2021-12-17 \nSecond."}]
    from_list = load_documents([write(tmp_path / "list.json", json.dumps(records))])
    from_lines = load_documents([write(tmp_path / "lines.jsonl", "\n".join(map(json.dumps, records)) + "\n\n")])
    for documents in (from_list, from_lines):
        assert [(d.id, d.text, d.date) for d in documents] == [
            ("a", "First.", None),
            ("7", " date 2021-12-17 \nSecond.", "2021-12-17"),
        ]


def test_date_field_wins_over_header_line():
    assert Document(text=HEADED, id="x", date="2022-02-01").date == "2022-02-01"
    assert Document(text=HEADED, id="x").date == "2022-01-22"


def test_folder_is_read_recursively_in_sorted_order(tmp_path):
    write(tmp_path / "b.txt", "Bee.")
    write(tmp_path / "sub" / "c.md", "See.")
    write(tmp_path / "a.txt", "First.")
    write(tmp_path / "notes.pdf", b"%PDF-1.4\x00")
    write(tmp_path / ".hidden" / "z.txt", "Hidden.")
    documents = load_documents([tmp_path])
    assert [os.path.relpath(d.path, tmp_path) for d in documents] == ["a.txt", "b.txt", os.path.join("sub", "c.md")]


def test_glob_pattern_and_lone_path_and_documents_pass_through(tmp_path):
    write(tmp_path / "one.txt", "One.")
    write(tmp_path / "two.txt", "Two.")
    write(tmp_path / "three.md", "Three.")
    given = Document(text="Raw text.", id="raw")
    documents = load_documents([str(tmp_path / "*.txt"), given])
    assert [d.id for d in documents] == ["one", "two", "raw"]
    assert documents[-1] is given
    assert [d.id for d in load_documents(str(tmp_path / "three.md"))] == ["three"]
    write(tmp_path / "sub" / "four.jsonl", '{"id": "four", "text": "Four."}')
    assert [d.id for d in load_documents([str(tmp_path / "**" / "f*.jsonl")])] == ["four"]


def test_same_file_twice_is_read_once(tmp_path):
    path = write(tmp_path / "a.txt", "Text.")
    assert len(load_documents([tmp_path, path])) == 1


def test_files_of_the_same_name_get_the_shortest_path_that_tells_them_apart(tmp_path):
    first = write(tmp_path / "nyt" / "2024" / "article.txt", "One.")
    second = write(tmp_path / "wapo" / "2024" / "article.md", "Two.")
    third = write(tmp_path / "story.txt", "Three.")
    assert [d.id for d in load_documents([first, second, third])] == ["nyt/2024/article", "wapo/2024/article", "story"]


def test_duplicate_ids_given_in_records_name_both_places(tmp_path):
    first = write(tmp_path / "a.jsonl", '{"id": "story", "text": "One."}\n')
    second = write(tmp_path / "b.jsonl", '{"id": "story", "text": "Two."}\n')
    with pytest.raises(IngestError, match="duplicate document id 'story'") as error:
        load_documents([first, second])
    assert str(first) in str(error.value) and str(second) in str(error.value)


def test_utf8_bom_is_stripped_and_header_still_read(tmp_path):
    document = one(write(tmp_path / "bom.txt", b"\xef\xbb\xbf" + HEADED.encode()))
    assert document.text == HEADED
    assert document.date == "2022-01-22"


def test_utf16_with_bom_is_read(tmp_path):
    document = one(write(tmp_path / "notepad.txt", "\ufeffCafé “talks”.".encode("utf-16-le")))
    assert document.text == "Café “talks”."


@pytest.mark.parametrize(
    "text",
    [
        "Le président a déclaré que les négociations reprendraient la semaine prochaine à Genève.\n",
        "The minister’s “response” – due next week – was not released.\n",
        "O presidente afirmou que as negociações com o ministro Müller continuarão na próxima semana em Genebra.\n",
    ],
)
def test_cp1252_file_is_detected(tmp_path, text):
    assert one(write(tmp_path / "legacy.txt", text.encode("cp1252"))).text == text


@pytest.mark.parametrize(
    "text, encoding",
    [
        ("The café’s owner said “naïve” critics were wrong – prices rose 5€ in Zürich.", "cp1252"),
        ("O presidente afirmou que as negociações continuarão na próxima semana em Genebra.", "cp1252"),
        ("Předseda vlády řekl, že jednání budou pokračovat příští týden.", "cp1250"),
        ("Vláda schválila rozpočet na příští rok. Ministr financí uvedl, že deficit klesne.", "cp1250"),
        ("Prezydent powiedział, że rozmowy będą kontynuowane w przyszłym tygodniu.", "cp1250"),
        ("Wójt gminy ogłosił w środę, że nowy most zostanie otwarty w przyszłym roku. Koszt wyniesie 45 mln zł.", "cp1250"),
        ("Президент России заявил журналистам, что переговоры продолжатся на следующей неделе.", "koi8-r"),
        ("Президент России заявил журналистам, что переговоры продолжатся на следующей неделе.", "cp1251"),
    ],
)
def test_legacy_encoding_is_decoded_right_or_rejected_never_garbled(tmp_path, text, encoding):
    path = write(tmp_path / "legacy.txt", text.encode(encoding))
    try:
        assert one(path).text == text
    except IngestError as error:
        assert "legacy.txt: cannot determine text encoding" in str(error)


def test_unknown_encoding_is_an_error(tmp_path):
    noise = bytes(random.Random(0).randrange(0x80, 0x100) for _ in range(300))
    path = write(tmp_path / "noise.txt", noise)
    with pytest.raises(IngestError, match=r"noise\.txt: cannot determine text encoding"):
        load_documents([path])


def test_a_cp1252_file_refused_by_detection_reads_exactly_with_its_encoding_given(tmp_path):
    path = write(tmp_path / "noticia.txt", SPANISH_ARTICLE.encode("cp1252"))
    with pytest.raises(IngestError, match=r"noticia\.txt: cannot determine text encoding .*give it with --encoding"):
        load_documents(path)
    (document,) = load_documents(path, encoding="cp1252")
    assert document.text == SPANISH_ARTICLE
    sentences = split_sentences(document)
    # The offsets are those of the same article saved as UTF-8.
    utf8_twin = one(write(tmp_path / "utf8" / "noticia.txt", SPANISH_ARTICLE))
    assert [(s.start, s.end) for s in sentences] == [(s.start, s.end) for s in split_sentences(utf8_twin)]
    assert all(s.text == document.text[s.start : s.end] for s in sentences)
    assert sentences[1].text == "«Es un paso importante», dijo ante el pleno municipal."


def test_a_utf8_file_read_with_another_encoding_given_is_named_in_a_warning(tmp_path, caplog):
    # A folder of cp1252 articles with one saved as UTF-8, read with --encoding cp1252: that one is garbled.
    write(tmp_path / "legacy.txt", SPANISH_ARTICLE.encode("cp1252"))
    write(tmp_path / "modern.txt", SPANISH_ARTICLE.encode("utf-8"))
    write(tmp_path / "plain.txt", b"The council met on Monday.")
    with caplog.at_level("WARNING"):
        documents = {d.id: d for d in load_documents(tmp_path, encoding="cp1252")}
    warnings = [r.getMessage() for r in caplog.records]
    assert documents["legacy"].text == SPANISH_ARTICLE
    assert documents["modern"].text == SPANISH_ARTICLE.encode("utf-8").decode("cp1252")  # as asked
    assert len(warnings) == 1 and "modern.txt: read as cp1252 as asked, but it is valid UTF-8" in warnings[0]
    assert "without --encoding" in warnings[0]
    with caplog.at_level("WARNING"):
        caplog.clear()
        load_documents(tmp_path / "modern.txt", encoding="utf8")
    assert not caplog.records


def test_a_file_with_a_byte_order_mark_is_read_by_it_whatever_encoding_is_given(tmp_path):
    marked = write(tmp_path / "marked.txt", "\ufeff" + SPANISH_ARTICLE)
    assert one(marked).text == load_documents(marked, encoding="cp1252")[0].text == SPANISH_ARTICLE


def test_utf16_without_a_byte_order_mark_is_read_with_its_encoding_given(tmp_path):
    path = write(tmp_path / "notepad.txt", SPANISH_ARTICLE.encode("utf-16-le"))
    with pytest.raises(IngestError, match="UTF-16 needs a byte-order mark or --encoding utf-16-le"):
        load_documents(path)
    assert load_documents(path, encoding="utf-16-le")[0].text == SPANISH_ARTICLE


@pytest.mark.parametrize(
    "content, encoding, message",
    [
        ("Café ".encode("cp1252") + b"\x81 con leche.", "cp1252", r"byte 5 \(0x81\) is not valid cp1252"),
        (SPANISH_ARTICLE.encode("cp1252"), "utf-8", r"byte 17 \(0xf3\) is not valid utf-8"),
    ],
)
def test_bytes_invalid_in_the_encoding_given_are_an_error_naming_file_and_offset(tmp_path, content, encoding, message):
    path = write(tmp_path / "mixed.txt", content)
    with pytest.raises(IngestError, match=r"mixed\.txt: " + message):
        load_documents(path, encoding=encoding)
    with pytest.raises(IngestError, match=message):
        decode_text(content, "<stdin>", encoding)


@pytest.mark.parametrize("encoding", ["cp-1252-typo", "base64"])
def test_an_unknown_encoding_name_is_an_error_before_any_file_is_read(tmp_path, encoding):
    missing = tmp_path / "not-there.txt"
    for read in (lambda: load_documents(missing, encoding=encoding), lambda: read_text(missing, encoding)):
        with pytest.raises(IngestError, match=f"unknown text encoding '{encoding}'"):
            read()


@pytest.mark.parametrize("content", ["", "  \n\t\n "])
def test_empty_file_is_an_error(tmp_path, content):
    path = write(tmp_path / "empty.txt", content)
    with pytest.raises(IngestError, match=r"empty\.txt: empty"):
        load_documents([path])


def test_date_line_alone_is_an_error(tmp_path):
    with pytest.raises(IngestError, match=r"dateonly\.txt: no text after the date line"):
        load_documents([write(tmp_path / "dateonly.txt", " date 2022-01-22 \n\n")])


def test_invalid_date_in_header_is_an_error(tmp_path):
    with pytest.raises(IngestError, match=r"baddate\.txt: date '2022-13-45' is not an ISO date"):
        load_documents([write(tmp_path / "baddate.txt", " date 2022-13-45\nText.")])


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\x01\x02\x03\x04\x05\x06abc" * 20])
def test_binary_file_is_an_error(tmp_path, content):
    path = write(tmp_path / "image.txt", content)
    with pytest.raises(IngestError, match=r"image\.txt: binary file"):
        load_documents([path])


def test_broken_json_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "feed.jsonl", '{"id": "a", "text": "Fine."}\n\n{"id": "b", "text": "Broken.\n')
    with pytest.raises(IngestError, match=r"feed\.jsonl, line 3: invalid JSON"):
        load_documents([path])


def test_broken_json_file_names_line(tmp_path):
    path = write(tmp_path / "bad.json", '[\n  {"id": "a", "text": "x"},\n  {"id": "b" "text": "y"}\n]')
    with pytest.raises(IngestError, match=r"bad\.json, line 3: invalid JSON"):
        load_documents([path])


def test_missing_text_field_names_record(tmp_path):
    path = write(tmp_path / "list.json", json.dumps([{"id": "a", "text": "x"}, {"id": "b", "body": "y"}]))
    with pytest.raises(IngestError, match=r"list\.json, record 2: missing field 'text' \(fields: 'id', 'body'\)"):
        load_documents([path])


def test_wrong_type_and_empty_text_name_line(tmp_path):
    path = write(tmp_path / "types.jsonl", '{"id": "a", "text": 42}\n')
    with pytest.raises(IngestError, match=r"types\.jsonl, line 1: field 'text' must be a string, got number"):
        load_documents([path])
    path = write(tmp_path / "blank.jsonl", '{"id": "a", "text": "ok"}\n{"id": "b", "text": "  "}\n')
    with pytest.raises(IngestError, match=r"blank\.jsonl, line 2: empty text"):
        load_documents([path])


def test_missing_id_in_multi_record_file_is_an_error(tmp_path):
    path = write(tmp_path / "noid.jsonl", '{"text": "One."}\n')
    with pytest.raises(IngestError, match=r"noid\.jsonl, line 1: missing field 'id'"):
        load_documents([path])


def test_nonexistent_path_and_empty_glob_are_errors(tmp_path):
    with pytest.raises(IngestError, match=r"missing\.txt: no such file or folder"):
        load_documents([tmp_path / "missing.txt"])
    with pytest.raises(IngestError, match=r"\*\.txt: pattern matches no files"):
        load_documents([str(tmp_path / "nowhere" / "*.txt")])


def test_files_of_other_types_in_a_folder_are_named_in_a_warning(tmp_path, caplog):
    (tmp_path / "a.txt").write_text("Cats purr.", encoding="utf-8")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / ".hidden.docx").write_bytes(b"x")
    with caplog.at_level("WARNING"):
        assert [d.id for d in load_documents([tmp_path])] == ["a"]
        assert [d.id for d in load_documents([str(tmp_path / "*")])] == ["a"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all("left out 1 file(s) of a type factcheck does not read" in w for w in warnings)
    assert "report.pdf" in warnings[0] and "hidden" not in " ".join(warnings)


def test_folder_without_documents_is_an_error(tmp_path):
    write(tmp_path / "scans" / "page.pdf", b"%PDF-1.4")
    with pytest.raises(IngestError, match=r"scans: folder holds no files with a supported extension"):
        load_documents([tmp_path / "scans"])


def test_unsupported_extension_is_an_error(tmp_path):
    with pytest.raises(IngestError, match=r"report\.pdf: unsupported file type \.pdf"):
        load_documents([write(tmp_path / "report.pdf", b"%PDF-1.4")])


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file_is_an_error(tmp_path):
    path = write(tmp_path / "secret.txt", "Text.")
    path.chmod(0)
    with pytest.raises(IngestError, match=r"secret\.txt: cannot read"):
        load_documents([path])


def test_dangling_link_is_an_error(tmp_path):
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "deleted.txt")
    with pytest.raises(IngestError, match=r"gone\.txt: cannot read"):
        load_documents([link])


def test_links_to_nothing_or_to_a_folder_are_named_not_skipped_silently(tmp_path, caplog):
    folder = tmp_path / "articles"
    (folder / "elsewhere").mkdir(parents=True)
    write(folder / "story.txt", "The ferry opened on Monday after a long delay.")
    (folder / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    (folder / "more").symlink_to(folder / "elsewhere")
    with caplog.at_level("WARNING"):
        assert [d.id for d in load_documents([folder])] == ["story"]
    assert "left out 2 link(s) to a folder or to nothing: gone.txt, more" in caplog.text

"""Files -> documents.

``load_documents`` reads files, folders and glob patterns into ``Document``s.
``Document.text`` is exactly what later stages index with character offsets,
so it is never cleaned up: for ``.txt``/``.md`` it is the file's full decoded
text (a leading byte-order mark excepted), for JSON the record's ``text``
field, for HTML the main text trafilatura extracts (offsets then refer to that
text, not to the HTML source).

Files are UTF-8 unless a byte-order mark says otherwise; any other encoding is
detected where the guess is confident, or given by the caller (``encoding=``)
for the files without a mark.

Every problem with an input is an ``IngestError`` naming the file (and the line
or record); nothing is skipped silently. Folders and glob patterns are the one
place where files are chosen: they take the files with a supported extension,
leaving out hidden ones (``.git/``, ``.DS_Store``), as ``ls`` would.
"""

from __future__ import annotations

import codecs
import glob
import json
import logging
import re
import reprlib
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date as _date
from pathlib import Path

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
JSON_SUFFIXES = frozenset({".json", ".jsonl"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES
# The largest file read (articles, claims). A news article is kilobytes and a book a few megabytes; a larger file
# is most likely not what the user meant (a dump, a disk image), and reading it whole would take its size in memory
# several times over (bytes, text, sentences) before the first result.
MAX_FILE_BYTES = 64 * 2**20

# A first line such as " date 2022-01-22 ", as in our article dumps: metadata, not article text.
DATE_HEADER = re.compile(r"[^\S\r\n]*date:?[^\S\r\n]+(\d{4}-\d{2}-\d{2})[^\S\r\n]*(?=[\r\n]|\Z)", re.IGNORECASE)

# UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Control characters that text files do not contain (tab, newlines, form feed allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Below this charset-normalizer coherence the "detected" language is a guess, and so is the encoding:
# KOI8-R Russian comes back as Shift-JIS with coherence 0.
_MIN_COHERENCE = 0.1
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


class IngestError(ValueError):
    """An input that cannot become a document; the message names the file (and line or record)."""


@dataclass
class Document:
    text: str
    id: str
    title: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    source: str | None = None
    url: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        self.id = as_id(self.id, "document")
        if not isinstance(self.text, str):
            raise ValueError(f"document {self.id!r}: text must be a string, got {type(self.text).__name__}")
        # A date given explicitly wins over the header line, which is only a fallback.
        if self.date is None:
            header = DATE_HEADER.match(self.text)
            if header:
                self.date = header.group(1)
        if self.date is not None:
            self.date = _iso_date(self.date)

    def to_dict(self) -> dict:
        return asdict(self)


def _iso_date(value: object) -> str:
    """``YYYY-MM-DD``, also taken from the front of an ISO timestamp (``2022-01-22T10:00:00Z``)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?", value.strip()):
        try:
            return _date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            pass
    raise ValueError(f"date {value!r} is not an ISO date (YYYY-MM-DD)")


def load_documents(
    inputs: Iterable[str | Path | Document] | str | Path | Document,
    *,
    skip: Path | None = None,
    encoding: str | None = None,
) -> list[Document]:
    """Documents from files, folders (recursively, sorted), glob patterns and ``Document`` objects, in input order.
    Files under ``skip`` are never read (an archive's own files, where it lives inside the folder it indexes).
    ``encoding`` is that of every file without a byte-order mark; by default, detected (``read_text``).

    A file reached twice (a folder and a file in it) is read once. A document named after its file keeps the file
    name as its id; when two files share a name (``nyt/article.txt``, ``wapo/article.txt``), each gets the shortest
    end of its path that tells them apart (``nyt/article``, ``wapo/article``). Two documents given the same id
    any other way (JSON records, ``Document`` objects) are an error.
    """
    check_encoding(encoding)
    # A lone path would otherwise be iterated character by character.
    if isinstance(inputs, (str, Path, Document)):
        inputs = [inputs]
    found: list[tuple[Document, str]] = []
    files_read: set[Path] = set()
    for item in inputs:
        if isinstance(item, Document):
            found.append((item, item.path or "a document given as text"))
        elif not str(item).strip():
            # Path("") is the current folder: an unset shell variable would check whatever lies here.
            raise IngestError("an empty path was given as a source; name a file or folder")
        else:
            for path in _expand(item, skip):
                if path.resolve() not in files_read:
                    files_read.add(path.resolve())
                    found.extend(_read_file(path, encoding))
    by_id: dict[str, list[int]] = {}
    for i, (document, _) in enumerate(found):
        by_id.setdefault(document.id, []).append(i)
    for doc_id, members in by_id.items():
        if len(members) == 1:
            continue
        named_by_file = [found[i][0].path and Path(found[i][0].path).stem == doc_id for i in members]
        paths = [Path(found[i][0].path).resolve().with_suffix("") if found[i][0].path else None for i in members]
        if not all(named_by_file) or len(set(paths)) != len(paths):
            first, second = (found[i][1] for i in members[:2])
            raise IngestError(f"duplicate document id {doc_id!r}: {first} and {second}")
        for i, new_id in zip(members, distinguishing_ends(paths)):
            found[i] = (replace(found[i][0], id=new_id), found[i][1])
    ids = [document.id for document, _ in found]
    if len(set(ids)) != len(ids):  # a distinguishing end that is some other document's id
        clash = next(i for i in ids if ids.count(i) > 1)
        raise IngestError(f"duplicate document id {clash!r}: rename one of the files")
    return [document for document, _ in found]


def distinguishing_ends(paths: list[Path]) -> list[str]:
    """For paths (without extension) that end alike, the fewest trailing parts that tell each from the others."""
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        ends = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(ends)) == len(ends):
            return ends
    return [str(p) for p in paths]


def _supported() -> str:
    return ", ".join(sorted(SUPPORTED_SUFFIXES))


def _expand(item: str | Path, skip: Path | None = None) -> list[Path]:
    path = Path(item)
    if path.is_dir():
        files = _folder_files(path, skip)
        if not files:
            raise IngestError(f"{path}: folder holds no files with a supported extension ({_supported()})")
        return files
    if path.exists() or path.is_symlink():
        return [path]
    pattern = str(item)
    if any(c in pattern for c in "*?["):
        files, others = [], []
        skipped = skip.resolve() if skip is not None else None
        for match in map(Path, sorted(glob.glob(pattern, recursive=True))):
            if skipped and match.resolve().is_relative_to(skipped):
                continue  # an archive's own files, where the pattern reaches into its folder
            if match.is_dir():
                files.extend(_folder_files(match, skip))
            elif match.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(match)
            else:
                others.append(match)
        _warn_left_out(pattern, others)
        if not files:
            raise IngestError(f"{pattern}: pattern matches no files with a supported extension ({_supported()})")
        return files
    raise IngestError(f"{pattern}: no such file or folder")


def _folder_files(folder: Path, skip: Path | None = None) -> list[Path]:
    """The folder's files of supported types; the others are named in a warning; hidden ones (as ls) and those
    under ``skip`` left out."""
    skipped = skip.resolve() if skip is not None else None
    entries = [p for p in folder.rglob("*") if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    visible = sorted(p for p in entries if p.is_file() and not (skipped and p.resolve().is_relative_to(skipped)))
    # A link to nothing, or to a folder (not searched, so that a link cannot make a loop), is named too.
    links = sorted(p for p in entries if p.is_symlink() and not p.is_file())
    if links:
        names = first_few([str(p.relative_to(folder)) for p in links])
        log.warning("%s: left out %d link(s) to a folder or to nothing: %s", folder, len(links), names)
    _warn_left_out(folder, [p for p in visible if p.suffix.lower() not in SUPPORTED_SUFFIXES], relative_to=folder)
    return [p for p in visible if p.suffix.lower() in SUPPORTED_SUFFIXES]


def first_few(items: list[str], shown: int = 5) -> str:
    """The first ``shown`` items, and how many more: a message names a few files or ids, not thousands."""
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def _warn_left_out(where: str | Path, others: list[Path], relative_to: Path | None = None) -> None:
    """Files a folder or pattern holds that factcheck does not read are named, never dropped without a word."""
    if not others:
        return
    names = first_few([str(p.relative_to(relative_to) if relative_to else p) for p in others])
    log.warning("%s: left out %d file(s) of a type factcheck does not read: %s (it reads %s)", where, len(others), names, _supported())


def _read_file(path: Path, encoding: str | None) -> list[tuple[Document, str]]:
    """The file's documents, each with where it came from (file, and line or record for JSON)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(f"{path}: unsupported file type {suffix or '(no extension)'}; supported: {_supported()}")
    text = read_text(path, encoding)
    if not text.strip():
        raise IngestError(f"{path}: empty (no text, or only whitespace)")
    if suffix in JSON_SUFFIXES:
        return _json_documents(text, path, lines=suffix == ".jsonl")
    if suffix in HTML_SUFFIXES:
        return [(_html_document(text, path), str(path))]
    _require_text(text, str(path))
    return [(_document(str(path), text=text, id=path.stem, path=str(path)), str(path))]


def read_text(path: str | Path, encoding: str | None = None) -> str:
    """A text file's text, with the encoding detection (or the ``encoding`` given) and the errors (naming the file)
    articles get: for claims and jobs files too, which come from the same places."""
    check_encoding(encoding)
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IngestError(
                f"{path}: {_mib(size)}, over the {_mib(MAX_FILE_BYTES)} factcheck reads from one file; split it "
                "(one article a file, or a .jsonl of records)"
            )
        data = path.read_bytes()
    except OSError as e:
        raise IngestError(f"{path}: cannot read: {e.strerror or e}") from e
    return decode_text(data, path, encoding)


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


def check_encoding(encoding: str | None) -> None:
    """An encoding Python cannot decode text with is an error before any file is read, not at the first file
    without a byte-order mark."""
    if encoding is None:
        return
    try:
        # Not b"".decode, which returns "" without looking the codec up. Codecs that are no text encodings
        # (base64, rot13) are refused too.
        "".encode(encoding)
    except LookupError:
        raise IngestError(
            f"unknown text encoding {encoding!r} (a name Python knows, e.g. cp1252, cp1250, latin-1, utf-16)"
        ) from None


def decode_text(data: bytes, path: Path | str, encoding: str | None = None) -> str:
    """Bytes of a text file (or of stdin) as text: by its byte-order mark, else in ``encoding`` where one is given,
    else UTF-8 or the encoding detected; errors name ``path``."""
    check_encoding(encoding)
    text = _decode_bytes(data, path, encoding)
    if len(_CONTROL.findall(text)) > len(text) / 100:
        raise IngestError(f"{path}: binary file (control characters), not text")
    return text


def _decode_bytes(data: bytes, path: Path | str, encoding: str | None) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            # The mark is not part of the text: character offsets count from the first character after it.
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as e:
                raise IngestError(
                    f"{path}: starts with a {codec} byte-order mark but byte {e.start + len(bom)} is not valid {codec}"
                ) from None
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as e:
            raise IngestError(f"{path}: byte {e.start} (0x{data[e.start]:02x}) is not valid {encoding}") from None
        # The encoding given applies to every file, and a folder may mix encodings. Text in a legacy encoding is
        # almost never valid UTF-8 once it holds a letter beyond ASCII, so a file that is was most likely saved as
        # UTF-8, and reading it as asked garbles its accents: said, naming the file, rather than overruled.
        if codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig") and not data.isascii() and _is_utf8(data):
            log.warning(
                "%s: read as %s as asked, but it is valid UTF-8: if it was saved as UTF-8, its accented letters are "
                "garbled (é read as Ã©); read it without --encoding",
                path,
                encoding,
            )
        return text
    if b"\x00" in data:
        raise IngestError(
            f"{path}: binary file (NUL bytes), not text; UTF-16 needs a byte-order mark or --encoding utf-16-le"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _detect_encoding(data, path)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _detect_encoding(data: bytes, path: Path | str) -> str:
    import charset_normalizer

    matches = list(charset_normalizer.from_bytes(data))
    if matches:
        least_chaos = min(m.chaos for m in matches)
        candidates = sorted((m for m in matches if m.chaos == least_chaos), key=lambda m: -m.coherence)
        best = candidates[0]
        # Single-byte code pages read the same bytes equally cleanly but differently (cp1250 reads cp1252
        # "à" as "ŕ"; charset-normalizer ranks cp1257 first for short cp1250 Polish), so a guess is taken
        # only when the cleanest readings agree, or when the most coherent is cp1252, the legacy encoding
        # of Western newsrooms, and clearly ahead. Anything else is an error, never garbled text.
        agreed = len({str(m) for m in candidates}) == 1
        if best.coherence >= _MIN_COHERENCE and (
            agreed
            or (
                "cp1252" in best.could_be_from_charset
                and best.coherence > candidates[1].coherence
                and not any(_letter_read_as_symbol(str(best), str(other)) for other in candidates[1:])
                and _western_letters(str(best))
            )
        ):
            log.warning("%s: not UTF-8; read as %s (detected)", path, best.encoding)
            return str(best)
    raise IngestError(
        f"{path}: cannot determine text encoding (not UTF-8, and no confident guess); give it with --encoding "
        "(e.g. cp1252, cp1250) or save it as UTF-8"
    )


# The accented letters of the languages written in cp1252. Central European text in cp1250 read as cp1252 gives
# letters too, but from alphabets no text mixes: Czech "rozpočet na příští rok" becomes "rozpoèet na pøíští rok"
# (French è, Danish ø, Spanish í, Finnish š).
_WESTERN_ALPHABETS = (
    "àâæçéèêëîïôœùûüÿ",  # French
    "áéíóúñü",  # Spanish, Galician, Basque
    "áâãàçéêíóôõú",  # Portuguese
    "àèéìíîòóùú",  # Italian
    "àçèéíïòóúü",  # Catalan
    "äöüß",  # German
    "áéíóúàèëïöüâêîôû",  # Dutch
    "æøåéó",  # Danish, Norwegian
    "åäöé",  # Swedish
    "åäöšž",  # Finnish
    "äöõüšž",  # Estonian
    "áðéíóúýþæö",  # Icelandic
    "áðíóúýæø",  # Faroese
    "çë",  # Albanian
)


def _western_letters(reading: str) -> bool:
    """Whether the accented letters of ``reading`` are those of at most two of the cp1252 languages: an article in
    one, quoting names of another ("negociações com o ministro Müller")."""
    letters = {c for c in reading.lower() if not c.isascii() and c.isalpha()}
    return any(letters <= set(a + b) for a in _WESTERN_ALPHABETS for b in _WESTERN_ALPHABETS)


def _letter_read_as_symbol(reading: str, other: str) -> bool:
    """Whether ``reading`` has a symbol inside a word where the ``other`` reading of the same bytes has a letter:
    cp1250 Polish read as cp1252 ("ogłosił" as "og³osi³"). In text that is cp1252 no word holds a "³"; a "£" or
    "¿" before a word or a number is no sign, nor is an apostrophe ("minister’s"), which other code pages read as a
    letter."""
    if len(reading) != len(other):  # not two single-byte readings of the same bytes
        return False
    return any(
        a != b
        and (unicodedata.category(a)[0] == "S" or unicodedata.category(a) == "No" or a == "¿")
        and b.isalpha()
        and reading[i - 1].isalpha()
        and reading[i + 1].isalpha()
        for i, (a, b) in enumerate(zip(reading[1:-1], other[1:-1]), start=1)
    )


def _require_text(text: str, where: str) -> None:
    header = DATE_HEADER.match(text)
    if not text[header.end() if header else 0 :].strip():
        raise IngestError(f"{where}: no text after the date line" if header else f"{where}: empty text")


def _document(where: str, **fields) -> Document:
    try:
        return Document(**fields)
    except ValueError as e:
        raise IngestError(f"{where}: {e}") from None


def _html_document(html: str, path: Path) -> Document:
    import trafilatura  # pulls in lxml and friends; only HTML needs it

    # The date from the page's metadata and markup only: trafilatura's extensive search otherwise takes any year of
    # the text ("opposed the project in 2022" became 2022-01-01, a "Copyright 2025" footer 2025-01-01), and a
    # source's date is shown beside every verdict it gives.
    extracted = trafilatura.bare_extraction(
        html, with_metadata=True, date_extraction_params={"extensive_search": False, "original_date": True}
    )
    if extracted is None or not (extracted.text or "").strip():
        raise IngestError(f"{path}: no main text found in the HTML")
    return _document(
        str(path),
        text=extracted.text,
        id=path.stem,
        title=extracted.title,
        date=extracted.date,
        source=extracted.sitename,
        url=extracted.url,
        path=str(path),
    )


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_json(text: str | bytes) -> object:
    """``json.loads``, with nesting too deep for Python's parser, and a lone surrogate escape (``"\\ud83d"``, half
    an emoji cut off by a truncating dump), reported as invalid JSON: Python accepts the escape, and the string it
    makes cannot be written as UTF-8 or read by a tokenizer, which failed far later with a traceback."""
    source = text if isinstance(text, str) else text.decode("utf-8")
    try:
        value = json.loads(source)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", source, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError as error:  # an integer of more digits than Python converts
        raise json.JSONDecodeError(str(error).split(";")[0], source, 0) from None
    escape = _SURROGATE_ESCAPE.search(source)
    if escape:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise json.JSONDecodeError("a lone surrogate escape, half a character", source, escape.start()) from None
    return value


def json_lines(text: str, source: str, error: type[ValueError] = IngestError) -> list[tuple[str, object]]:
    """(where, value) for each non-blank line of JSON lines; a line that is not JSON raises ``error`` naming it."""
    records = []
    # Not splitlines(): JSON strings may hold a raw U+2028, which it would split on.
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            try:
                records.append((f"{source}, line {n}", parse_json(line)))
            except json.JSONDecodeError as e:
                raise error(f"{source}, line {n}: invalid JSON ({e.msg}, column {e.colno})") from None
    return records


def _json_documents(text: str, path: Path, *, lines: bool) -> list[tuple[Document, str]]:
    """``.jsonl``: one object per line; ``.json``: one object (id defaults to the file stem) or a list of them."""
    if lines:
        records = [(record, where) for where, record in json_lines(text, str(path))]
    else:
        try:
            data = parse_json(text)
        except json.JSONDecodeError as e:
            raise IngestError(f"{path}, line {e.lineno}: invalid JSON ({e.msg}, column {e.colno})") from None
        if not isinstance(data, list):
            return [(_record_document(data, str(path), path, default_id=path.stem), str(path))]
        records = [(record, f"{path}, record {n}") for n, record in enumerate(data, 1)]
    if not records:
        raise IngestError(f"{path}: no records")
    return [(_record_document(record, where, path, default_id=None), where) for record, where in records]


def is_valid_id(value: object) -> bool:
    """Ids of documents, claims and jobs: a non-empty string or an integer (what stays the same in JSON and CSV)."""
    return isinstance(value, str) and bool(value.strip()) or isinstance(value, int) and not isinstance(value, bool)


def as_id(value: object, owner: str) -> str:
    """A valid id as the string every output carries (an integer id of a JSON record becomes "5")."""
    if not is_valid_id(value):
        raise ValueError(f"a {owner}'s id must be a non-empty string or an integer, got {reprlib.repr(value)}")
    return str(value)


def id_error(value: object) -> str | None:
    """What is wrong with ``value`` as an id, or None."""
    if is_valid_id(value):
        return None
    return f"field 'id' must be a non-empty string or an integer, got {reprlib.repr(value)}"


def json_type_name(value: object) -> str:
    return _JSON_TYPES.get(type(value), "null" if value is None else type(value).__name__)


def _record_document(record: object, where: str, path: Path, *, default_id: str | None) -> Document:
    if not isinstance(record, dict):
        raise IngestError(f"{where}: expected a JSON object, got {json_type_name(record)}")
    if "text" not in record:
        raise IngestError(f"{where}: missing field 'text' (fields: {', '.join(map(repr, record)) or 'none'})")
    if not isinstance(record["text"], str):
        raise IngestError(f"{where}: field 'text' must be a string, got {json_type_name(record['text'])}")
    _require_text(record["text"], where)
    doc_id = record.get("id", default_id)
    if doc_id is None:
        raise IngestError(f"{where}: missing field 'id' (required when a file holds several records)")
    if problem := id_error(doc_id):
        raise IngestError(f"{where}: {problem}")
    fields = {name: record.get(name) for name in ("title", "date", "source", "url")}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise IngestError(f"{where}: field {name!r} must be a string, got {json_type_name(value)}")
    return _document(where, text=record["text"], id=str(doc_id), path=str(path), **fields)

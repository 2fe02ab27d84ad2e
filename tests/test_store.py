"""The archive: schema, idempotent re-ingest, replaced files, failures that lose nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

import archiver
from archiver.pipeline import ingest, iter_ingest, summarise

from .conftest import SEED_NAMES, seed_gold


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_seeds_are_stored_with_metadata_and_clean_files(seeds_dir: Path, tmp_path: Path) -> None:
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    summary = ingest([seeds_dir], db=db, clean_dir=clean)
    assert (summary.ingested, summary.unchanged, summary.failed) == (5, 0, 0)
    rows = _rows(
        db,
        "select raw_path, title, published, source, dateline, clean_path, word_count from articles",
    )
    assert len(rows) == 5
    by_name = {Path(r[0]).stem: r for r in rows}
    for name in SEED_NAMES:
        gold = seed_gold(name)
        _, title, published, source, dateline, clean_path, words = by_name[name]
        assert (title, published, source, dateline) == (
            gold["title"], gold["published"], gold["source"], gold["dateline"],
        )  # fmt: skip
        content = (clean / clean_path).read_text(encoding="utf-8")
        assert content.splitlines()[0] == gold["title"]
        assert words > 50
    assert len(list(clean.glob("*.txt"))) == 5


def test_removed_lines_record_what_was_stripped_and_why(seeds_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    ingest([seeds_dir], db=db, clean_dir=tmp_path / "clean")
    reasons = dict(_rows(db, "select reason, count(*) from removed_lines group by reason"))
    assert reasons["title"] == 5
    assert {"credit", "caption", "widget", "other-language", "list"} <= set(reasons)


def test_full_text_search_finds_articles(seeds_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    ingest([seeds_dir], db=db, clean_dir=None)
    hits = {
        Path(h["raw_path"]).stem for h in sqlite_utils.Database(db)["articles"].search("Habomai")
    }
    expected = {name for name in SEED_NAMES if "habomai" in seed_gold(name)["body"].lower()}
    assert hits == expected and len(expected) >= 2
    assert (
        _rows(db, "select count(*) from articles_fts where articles_fts match 'Shikotan'")[0][0]
        >= 1
    )


def _search(db: Path, words: str) -> set[str]:
    """The raw file names of the articles a full-text search finds, once the index is
    checked against the articles table (FTS5's integrity check raises on any mismatch)."""
    with sqlite3.connect(db) as conn:
        conn.execute("insert into articles_fts (articles_fts, rank) values ('integrity-check', 1)")
        found = conn.execute(
            "select raw_path from articles where rowid in"
            " (select rowid from articles_fts where articles_fts match ?)",
            [words],
        ).fetchall()
    return {Path(path).stem for (path,) in found}


def test_full_text_search_follows_changed_and_replaced_articles(
    seeds_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "archive.db"
    ingest([seeds_dir], db=db, clean_dir=None)
    assert _rows(db, "select count(*) from search_queue") == [(0,)]
    target = sorted(seeds_dir.glob("*.txt"))[2]
    assert _search(db, "zeppelin") == set()
    sentence = "A zeppelin flew over the harbour while the delegations met in the old town hall."
    text = target.read_text(encoding="utf-8")
    assert "Jiji Press" in text
    target.write_text(text.replace("Jiji Press", f"Jiji Press\n{sentence}"), encoding="utf-8")
    ingest([seeds_dir], db=db, clean_dir=None)  # a new id: the old article goes, a new one comes
    assert _search(db, "zeppelin") == {target.stem}
    target.write_text(text, encoding="utf-8")
    ingest([seeds_dir], db=db, clean_dir=None)
    assert _search(db, "zeppelin") == set()
    assert _rows(db, "select count(*) from articles") == [(5,)]


def test_an_article_stored_and_deleted_in_one_batch_leaves_the_index_whole(
    seeds_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "archive.db"
    outcomes = [archiver.pipeline.process_file(p) for p in sorted(seeds_dir.glob("*.txt"))[:2]]
    db = archiver.store.open_db(path)
    with db.atomic():  # one transaction, as a writer's batch: nothing indexed until the end
        for outcome in outcomes:
            archiver.store.save_articles(db, outcome.record, outcome.articles, None)
        assert db.execute("select count(*) from search_queue").fetchall() == [(2,)]
        gone = outcomes[0].articles[0]
        archiver.store.delete_article(db, gone.id)
        archiver.store.index_queued(db)
    db.close()
    kept = Path(outcomes[1].record.path).stem
    assert _rows(path, "select count(*) from search_queue") == [(0,)]
    assert _search(path, outcomes[1].articles[0].title.split()[0]) >= {kept}
    assert Path(gone.raw_path).stem not in _search(path, gone.title.split()[0])


def test_an_article_stored_outside_a_batch_is_searchable_at_once(
    seeds_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "archive.db"
    outcome = archiver.pipeline.process_file(sorted(seeds_dir.glob("*.txt"))[0])
    db = archiver.store.open_db(path)
    archiver.store.save_articles(db, outcome.record, outcome.articles, None)  # its own commit
    db.close()
    assert _search(path, outcome.articles[0].title.split()[0]) == {Path(outcome.record.path).stem}


def test_an_archive_indexed_a_row_at_a_time_goes_on_in_batches(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """An archive made before the search queue (sqlite-utils' triggers, one insert into
    the index a row) keeps what it indexed and indexes new articles a batch at a time."""
    path = tmp_path / "archive.db"
    seeds = sorted(seeds_dir.glob("*.txt"))
    ingest([seeds[0]], db=path, clean_dir=None)
    legacy = sqlite_utils.Database(path)
    legacy.execute("drop table search_queue")
    for name in ("articles_ai", "articles_ad", "articles_au"):
        legacy.execute(f"drop trigger {name}")
    legacy["articles"].disable_fts()
    legacy["articles"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter")
    legacy.close()
    ingest(seeds[1:], db=path, clean_dir=None)
    with sqlite3.connect(path) as conn:
        triggers = dict(conn.execute("select name, sql from sqlite_master where type = 'trigger'"))
    assert "search_queue" in triggers["articles_ai"]
    names = {Path(p).stem for (p,) in _rows(path, "select raw_path from articles")}
    assert len(names) == 5
    assert _search(path, "Habomai") == {
        n for n in SEED_NAMES if "habomai" in seed_gold(n)["body"].lower()
    }


def test_opening_an_archive_again_leaves_its_schema_as_it_is(
    seeds_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "archive.db"
    ingest([seeds_dir], db=path, clean_dir=None)
    version = _rows(path, "pragma schema_version")
    archiver.store.open_db(path).close()
    assert _rows(path, "pragma schema_version") == version


def test_ingesting_again_changes_nothing(seeds_dir: Path, tmp_path: Path) -> None:
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([seeds_dir], db=db, clean_dir=clean)
    before = (
        _rows(db, "select * from articles order by id"),
        _rows(db, "select * from removed_lines order by 1, 2"),
    )
    files_before = sorted(p.name for p in clean.iterdir())
    summary = ingest([seeds_dir], db=db, clean_dir=clean)
    assert (summary.ingested, summary.unchanged, summary.failed) == (0, 5, 0)
    after = (
        _rows(db, "select * from articles order by id"),
        _rows(db, "select * from removed_lines order by 1, 2"),
    )
    assert after == before
    assert sorted(p.name for p in clean.iterdir()) == files_before


def test_a_changed_file_replaces_its_article(seeds_dir: Path, tmp_path: Path) -> None:
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([seeds_dir], db=db, clean_dir=clean)
    target = sorted(seeds_dir.glob("*.txt"))[2]
    old_id, old_clean = _rows(
        db, f"select id, clean_path from articles where raw_path = '{target}'"
    )[0]
    extra = (
        "The ministers agreed to meet again in the spring to continue the discussion of the treaty."
    )
    target.write_text(
        target.read_text(encoding="utf-8").replace("Jiji Press", f"Jiji Press\n{extra}"),
        encoding="utf-8",
    )
    summary = ingest([seeds_dir], db=db, clean_dir=clean)
    assert (summary.ingested, summary.unchanged) == (1, 4)
    rows = _rows(db, f"select id, text, clean_path from articles where raw_path = '{target}'")
    assert len(rows) == 1
    new_id, text, new_clean = rows[0]
    assert new_id != old_id and extra in text
    assert _rows(db, f"select count(*) from removed_lines where article_id = '{old_id}'") == [(0,)]
    assert not (clean / old_clean).exists() and (clean / new_clean).exists()
    assert _rows(db, "select count(*) from articles") == [(5,)]


def test_a_page_saved_twice_keeps_an_article_per_file_linked_as_one_story(
    seeds_dir: Path, tmp_path: Path
) -> None:
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    original = sorted(seeds_dir.glob("*.txt"))[0]
    copy = seeds_dir / "saved-again.txt"
    copy.write_bytes(original.read_bytes())
    outcomes = list(iter_ingest([seeds_dir], db, clean))
    summary = summarise(outcomes)
    assert (summary.ingested, summary.articles) == (6, 6)
    # What the run hands back names the articles as stored.
    yielded = {a.id for outcome in outcomes for a in outcome.articles}
    assert yielded == {row[0] for row in _rows(db, "select id from articles")}
    per_file = dict(_rows(db, "select raw_path, count(*) from articles group by raw_path"))
    assert per_file == {str(path): 1 for path in seeds_dir.glob("*.txt")}
    (orig_id, orig_text), (copy_id, copy_text) = (
        _rows(db, f"select id, text from articles where raw_path = '{path}'")[0]
        for path in (original, copy)
    )
    assert copy_id != orig_id and copy_text == orig_text
    assert _rows(db, f"select duplicate_of from articles where id = '{copy_id}'") == [(orig_id,)]
    assert _rows(db, "select count(*) from stories") == [(5,)]
    assert len(list(clean.glob("*.txt"))) == 6

    # The original changes: the copy, unchanged, keeps its article and its clean file.
    extra = "The two sides agreed to hold further talks on the matter early next year."
    original.write_text(original.read_text(encoding="utf-8") + f"\n{extra}\n", encoding="utf-8")
    summary = ingest([seeds_dir], db=db, clean_dir=clean)
    assert (summary.ingested, summary.unchanged) == (1, 5)
    assert _rows(db, f"select id, text from articles where raw_path = '{copy}'") == [
        (copy_id, copy_text)
    ]
    assert extra in _rows(db, f"select text from articles where raw_path = '{original}'")[0][0]
    assert _rows(db, "select count(*) from articles") == [(6,)]
    assert len(list(clean.glob("*.txt"))) == 6


def test_a_moved_file_is_a_copy_of_what_its_old_path_stored(
    seeds_dir: Path, tmp_path: Path
) -> None:
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([seeds_dir], db=db, clean_dir=clean)
    moved_from = sorted(seeds_dir.glob("*.txt"))[1]
    (seeds_dir / "2019").mkdir()
    moved_to = moved_from.rename(seeds_dir / "2019" / moved_from.name)
    old_id = _rows(db, f"select id from articles where raw_path = '{moved_from}'")[0][0]
    summary = ingest([seeds_dir], db=db, clean_dir=clean)
    assert (summary.ingested, summary.unchanged) == (1, 4)
    # The archive cannot tell a move from a copy whose original is elsewhere: what the old
    # path stored stays (as for any raw file gone from disk), and the story is told once.
    assert _rows(db, f"select id from articles where raw_path = '{moved_from}'") == [(old_id,)]
    assert _rows(db, f"select duplicate_of from articles where raw_path = '{moved_to}'") == [
        (old_id,)
    ]
    assert _rows(db, "select count(*) from stories") == [(5,)]


def test_a_file_that_turns_bad_keeps_its_stored_article(seeds_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    ingest([seeds_dir], db=db, clean_dir=None)
    target = sorted(seeds_dir.glob("*.txt"))[0]
    target.write_bytes(b"")
    summary = ingest([seeds_dir], db=db, clean_dir=None)
    assert summary.failed == 1
    assert _rows(db, "select count(*) from articles") == [(5,)]
    assert _rows(db, f"select status, error, articles from raw_files where path = '{target}'") == [
        ("failed", "empty file", 1)  # the article it still has
    ]


def test_public_clean_api_takes_text_or_bytes() -> None:
    raw = (
        Path(__file__).parent / "fixtures" / "seeds" / "raw" / f"{SEED_NAMES[4]}.txt"
    ).read_bytes()
    from_bytes, from_text = archiver.clean(raw), archiver.clean(raw.decode("utf-8"))
    assert from_bytes.text == from_text.text
    assert from_bytes.title == seed_gold(SEED_NAMES[4])["title"]
    assert from_bytes.removed and all(r.reason for r in from_bytes.removed)

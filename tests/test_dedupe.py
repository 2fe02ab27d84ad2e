"""Each story once: exact copies, near-duplicates and excerpts linked; learned templates."""

from __future__ import annotations

import dataclasses
import random
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlite_utils
from click.testing import CliRunner

import archiver
from archiver import dedupe, keyindex, shingles, signatures, store, templates
from archiver.cli import main
from archiver.models import Article, article_id

from .conftest import SEED_NAMES, SEED_RAW

SUBJECTS = [
    "The minister", "A spokesman for the ministry", "The city council", "Local officials",
    "The company", "Union leaders", "The port authority", "Residents of the old town",
    "The mayor", "Two opposition deputies", "The regional governor", "Farmers in the valley",
]  # fmt: skip
VERBS = [
    "said on Tuesday that", "warned on Monday that", "told reporters that",
    "confirmed in a statement that", "argued at a meeting that", "wrote in a letter that",
]  # fmt: skip
OBJECTS = [
    "the new bridge would open in the spring", "the budget for the schools had been cut",
    "a decision on the harbour would come next month", "talks with the neighbours went well",
    "prices for bread and milk had risen sharply", "the old railway line should be rebuilt",
    "the flood defences were not ready for winter", "more buses would run to the airport",
    "the hospital needed two hundred more nurses", "fishing quotas would be lowered again",
    "a referendum on the tax was still possible", "the museum would close for repairs",
]  # fmt: skip
TEMPLATE_LINE = "Weekend Edition Highlights"
QUOTE = '"We will keep talking with everyone," the spokesperson told reporters.'


def made_up_story(seed: int, template_at: int | None = None, quote_at: int | None = None) -> str:
    """A whole-page dump of a made-up story of one site ("Example Wire")."""
    rng = random.Random(seed)
    paragraphs = []
    for _ in range(7):
        sentences = [
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}, "
            f"and {rng.choice(OBJECTS)} by {rng.randint(2020, 2030)}."
            for _ in range(2)
        ]
        paragraphs.append(" ".join(sentences))
    paragraphs[0] = "BERLIN (Example Wire) - " + paragraphs[0]
    if quote_at is not None:
        paragraphs.insert(quote_at, QUOTE)
    if template_at is not None:
        paragraphs.insert(template_at, TEMPLATE_LINE)
    title = f"Story number {seed} on the harbour, the schools and the budget"
    chrome = ["Home", "News", "Sport", "Weather", title]
    return "\n\n".join([*chrome, *paragraphs, "Copyright 2024 Example Wire."]) + "\n"


def body_lines(raw: str) -> tuple[list[str], list[int]]:
    """The raw lines of a dump and the indexes of its body paragraphs (as archiver finds them)."""
    lines = raw.split("\n")
    body = archiver.clean(raw).text.split("\n\n")
    indexes = [i for i, line in enumerate(lines) if " ".join(line.split()) in body]
    return lines, indexes


def syndicated_copy(raw: str, excerpt: bool = False) -> str:
    """A seed as another site runs it: a dateline added, the last paragraph dropped
    (or only the first half kept), inside different chrome."""
    lines, body = body_lines(raw)
    first = body[0]
    keep = body[: len(body) // 2] if excerpt else body[:-1]
    copy = [
        "Front page", "World", "Business", "Sign in",
        "EXAMPLE GAZETTE",
    ]  # fmt: skip
    title = next(line for line in lines[:first] if len(line.split()) >= 4)
    copy += ["", title, ""]
    for n, i in enumerate(keep):
        text = lines[i].strip()
        copy += [("LISBON (Gazette Wire) - " + text) if n == 0 else text, ""]
    copy += ["More from the Gazette", "Contact us", "(c) Example Gazette"]
    return "\n".join(copy) + "\n"


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Query the archive with plain sqlite3."""
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def article_of(db: Path, raw_path: Path) -> tuple:
    """(id, duplicate_of, similarity, text) of the article stored from one raw file."""
    found = rows(
        db,
        "select id, duplicate_of, similarity, text from articles where raw_path = ?",
        (str(raw_path),),
    )
    assert len(found) == 1, found
    return found[0]


def ingest_copy_later(tmp_path: Path, db: Path, seed: Path) -> tuple[Path, Path]:
    """Ingest a syndicated copy of a seed in a run of its own: (its folder, the copy)."""
    later = tmp_path / "later"
    later.mkdir()
    copy = later / "copy.txt"
    copy.write_text(syndicated_copy(seed.read_text(encoding="utf-8")), encoding="utf-8")
    archiver.ingest([later], db=db, clean_dir=None)
    return later, copy


def test_five_seeds_stay_five_stories(seeds_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    archiver.ingest([seeds_dir], db=db, clean_dir=None)
    assert rows(db, "select count(*) from articles where duplicate_of is not null") == [(0,)]
    assert len(rows(db, "select id from stories")) == len(SEED_NAMES) == 5
    # The signatures are persisted for later runs.
    assert (
        rows(db, "select params, length(signature) from minhash")
        == [(shingles.PARAMS_VERSION, 4 * shingles.NUM_PERM)] * 5
    )


def test_copy_with_dateline_and_dropped_paragraph_is_linked(
    seeds_dir: Path, tmp_path: Path
) -> None:
    seed = seeds_dir / f"{SEED_NAMES[0]}.txt"
    copy = seeds_dir / "gazette_copy.txt"
    copy.write_text(syndicated_copy(seed.read_text(encoding="utf-8")), encoding="utf-8")
    db = tmp_path / "a.db"
    archiver.ingest([seeds_dir], db=db, clean_dir=None)
    seed_id, seed_dup, _, _ = article_of(db, seed)
    _, copy_dup, similarity, copy_text = article_of(db, copy)
    assert copy_text.startswith("LISBON (Gazette Wire) - ")
    assert seed_dup is None and copy_dup == seed_id
    assert 0.8 < similarity <= 1.0
    assert len(rows(db, "select id from stories")) == 5


def test_copy_ingested_in_a_later_run_is_linked(seeds_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    archiver.ingest([seeds_dir], db=db, clean_dir=None)
    seed = seeds_dir / f"{SEED_NAMES[2]}.txt"
    later, copy = ingest_copy_later(tmp_path, db, seed)
    assert article_of(db, copy)[1] == article_of(db, seed)[0]
    # A third run over everything changes no link.
    before = rows(db, "select id, duplicate_of, similarity from articles order by id")
    archiver.ingest([seeds_dir, later], db=db, clean_dir=None)
    assert rows(db, "select id, duplicate_of, similarity from articles order by id") == before


def test_a_signed_shingle_set_is_read_back_only_for_the_text_it_was_made_from(
    seeds_dir: Path, tmp_path: Path
) -> None:
    db_path = tmp_path / "a.db"
    archiver.ingest([seeds_dir], db=db_path, clean_dir=None)
    seed = seeds_dir / f"{SEED_NAMES[2]}.txt"
    seed_id, _, _, text = article_of(db_path, seed)
    db = sqlite_utils.Database(db_path)
    sigs = signatures.Signatures()
    sigs.sync(db)
    stored = sigs.stored_set(db, seed_id, shingles.text_digest(text))
    assert stored is not None and stored.tolist() == shingles.shingle_set(text).tolist()
    assert sigs.stored_set(db, seed_id, shingles.text_digest(text + " More words.")) is None
    # A text changed behind the index's back is compared as it now reads: a copy of what
    # it said before is not linked to it.
    other = (seeds_dir / f"{SEED_NAMES[3]}.txt").read_text(encoding="utf-8")
    changed = archiver.clean(other).text + "\n\nA last line that no text in this run had."
    db.execute("update articles set text = ? where id = ?", [changed, seed_id])
    db.conn.commit()
    db.close()
    _, copy = ingest_copy_later(tmp_path, db_path, seed)
    assert article_of(db_path, copy)[1] is None
    assert article_of(db_path, seed)[1] is None


def test_a_changed_file_replaces_only_its_own_signature_when_paths_share_a_hash(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The index keeps a hash of each raw path, not the path: two paths whose hashes
    # agree must not be taken for one file. Here every path has the same hash.
    monkeypatch.setattr(signatures, "path_key", lambda path: 0 if path is None else 7)
    db = tmp_path / "a.db"
    archiver.ingest([seeds_dir], db=db, clean_dir=None)
    changed = seeds_dir / f"{SEED_NAMES[0]}.txt"
    changed.write_text(made_up_story(1), encoding="utf-8")
    archiver.ingest([seeds_dir], db=db, clean_dir=None)
    # The other seeds kept their signatures: a copy of one is still found.
    seed = seeds_dir / f"{SEED_NAMES[2]}.txt"
    _, copy = ingest_copy_later(tmp_path, db, seed)
    assert article_of(db, copy)[1] == article_of(db, seed)[0]
    assert rows(db, "select count(*) from minhash where params = ?", (signatures.FORGOTTEN,)) == [
        (1,)
    ]


def test_an_archive_indexed_by_an_older_version_is_flagged_then_reindexed(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """Signatures made with other parameters are not compared with new ones: ingest says
    so, and ``reprocess --only-outdated`` re-indexes them, after which copies link."""
    db = tmp_path / "a.db"
    archiver.ingest([seeds_dir], db=db, clean_dir=None)
    with sqlite3.connect(db) as conn:  # as an archive of an earlier version left them
        conn.execute("update minhash set params = '5w-20x3-a16-v1'")
    seed = seeds_dir / f"{SEED_NAMES[2]}.txt"
    later = tmp_path / "later"
    later.mkdir()
    copy = later / "copy.txt"
    copy.write_text(syndicated_copy(seed.read_text(encoding="utf-8")), encoding="utf-8")
    runner = CliRunner()
    args = ["--db", str(db), "--clean-dir", str(tmp_path / "clean")]
    result = runner.invoke(main, ["ingest", str(later), *args])
    assert result.exit_code == 0, result.output
    assert "5 older articles" in result.output and "reprocess --only-outdated" in result.output
    assert article_of(db, copy)[1] is None  # the old seed's signature was not compared
    result = runner.invoke(main, ["reprocess", "--only-outdated", *args])
    assert result.exit_code == 0, result.output
    assert article_of(db, copy)[1] == article_of(db, seed)[0]
    result = runner.invoke(main, ["ingest", str(later), *args])
    assert result.exit_code == 0 and "older articles" not in result.output


def test_canonical_does_not_depend_on_ingest_order(tmp_path: Path) -> None:
    seed_text = (SEED_RAW / f"{SEED_NAMES[1]}.txt").read_text(encoding="utf-8")
    copy_text = syndicated_copy(seed_text)
    outcomes = []
    for order in (("seed", "copy"), ("copy", "seed")):
        db = tmp_path / f"{order[0]}-first.db"
        for name in order:
            folder = tmp_path / f"{order[0]}-first-{name}"
            folder.mkdir()
            (folder / f"{name}.txt").write_text(
                seed_text if name == "seed" else copy_text, encoding="utf-8"
            )
            archiver.ingest([folder], db=db, clean_dir=None)
        outcomes.append(
            rows(
                db,
                """select published, word_count, duplicate_of is null from articles
                   order by published is null, published, word_count desc""",
            )
        )
    assert outcomes[0] == outcomes[1]
    # The rule: earliest published, else the longest; the first row by that order.
    assert [canonical for *_, canonical in outcomes[0]] == [1, 0]


def test_excerpt_of_the_first_half_is_linked(seeds_dir: Path, tmp_path: Path) -> None:
    seed = seeds_dir / f"{SEED_NAMES[2]}.txt"
    excerpt = seeds_dir / "excerpt.txt"
    excerpt.write_text(
        syndicated_copy(seed.read_text(encoding="utf-8"), excerpt=True), encoding="utf-8"
    )
    db = tmp_path / "a.db"
    archiver.ingest([seeds_dir], db=db, clean_dir=None)
    seed_id, _, _, seed_text = article_of(db, seed)
    _, duplicate_of, similarity, excerpt_text = article_of(db, excerpt)
    assert len(excerpt_text) < 0.7 * len(seed_text)  # really an excerpt
    assert duplicate_of == seed_id and similarity > 0.8


def test_exact_copy_elsewhere_is_linked_with_similarity_one(
    seeds_dir: Path, tmp_path: Path
) -> None:
    seed = seeds_dir / f"{SEED_NAMES[3]}.txt"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    # Same story, different bytes (a trailing newline), so a different article id.
    (mirror / "same.txt").write_bytes(seed.read_bytes() + b"\n")
    db = tmp_path / "a.db"
    archiver.ingest([seeds_dir, mirror], db=db, clean_dir=None)
    linked = rows(
        db, "select duplicate_of, similarity from articles where duplicate_of is not null"
    )
    assert linked == [(article_of(db, seed)[0], 1.0)]


def test_stories_view_counts_copies_and_lists_sources(seeds_dir: Path, tmp_path: Path) -> None:
    seed = seeds_dir / f"{SEED_NAMES[0]}.txt"
    raw = seed.read_text(encoding="utf-8")
    (seeds_dir / "copy.txt").write_text(syndicated_copy(raw), encoding="utf-8")
    (seeds_dir / "excerpt.txt").write_text(syndicated_copy(raw, excerpt=True), encoding="utf-8")
    db = tmp_path / "a.db"
    archiver.ingest([seeds_dir], db=db, clean_dir=None)
    seed_id = article_of(db, seed)[0]
    copies, sources = rows(db, "select copies, sources from stories where id = ?", (seed_id,))[0]
    assert copies == 3
    stored_sources = {
        s for (s,) in rows(db, "select source from articles where id = ? or duplicate_of = ?",
                           (seed_id, seed_id))
    }  # fmt: skip
    assert "Gazette Wire" in stored_sources
    assert set(sources.split(", ")) == stored_sources
    others = rows(db, "select copies from stories where id != ?", (seed_id,))
    assert others == [(1,)] * 4


def test_paragraph_printed_twice_is_kept_once(tmp_path: Path) -> None:
    raw = (SEED_RAW / f"{SEED_NAMES[0]}.txt").read_text(encoding="utf-8")
    lines, body = body_lines(raw)
    pull_quote = lines[body[2]]
    # The pull quote printed again further down, as pages print them.
    doubled = [*lines[: body[4] + 1], "", pull_quote, *lines[body[4] + 1 :]]
    article = archiver.clean("\n".join(doubled))
    assert article.text.split("\n\n").count(pull_quote.strip()) == 1
    assert [r.reason for r in article.removed if r.text == pull_quote.strip()] == ["duplicate"]
    # The seed prints its title twice and repeats its standfirst: each is kept once.
    assert article.title is not None and article.title not in article.text
    first_paragraph = article.text.split("\n\n")[0]
    assert article.text.count(first_paragraph[:80]) == 1


def test_learned_template_is_stripped_but_a_repeated_quote_is_not(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    count = 10
    for n in range(count):
        page = made_up_story(n, template_at=2, quote_at=1 + n % 5)
        (raw / f"story{n:02d}.txt").write_text(page, encoding="utf-8")
    db = tmp_path / "a.db"
    clean_dir = tmp_path / "clean"
    result = CliRunner().invoke(
        main, ["ingest", str(raw), "--db", str(db), "--clean-dir", str(clean_dir)]
    )
    assert result.exit_code == 0, result.output
    # Ten different stories, none linked to another.
    assert rows(db, "select count(*) from stories") == [(count,)]
    texts = [t for (t,) in rows(db, "select text from articles order by raw_path")]
    # The first articles were stored before the line was known as the site's template...
    assert TEMPLATE_LINE in texts[0]
    # ...later ones had it stripped at ingest.
    assert TEMPLATE_LINE not in texts[-1]
    result = CliRunner().invoke(main, ["reprocess", "--db", str(db), "--clean-dir", str(clean_dir)])
    assert result.exit_code == 0, result.output
    assert "raw files re-read" in result.output
    texts = [t for (t,) in rows(db, "select text from articles order by raw_path")]
    assert all(TEMPLATE_LINE not in t for t in texts)
    assert all(QUOTE in t for t in texts)
    removed = rows(db, "select text from removed_lines where reason = ?", (templates.TEMPLATE,))
    assert removed == [(TEMPLATE_LINE,)] * count
    clean_files = [p.read_text(encoding="utf-8") for p in sorted(clean_dir.glob("*.txt"))]
    assert len(clean_files) == count
    assert all(TEMPLATE_LINE not in text and QUOTE in text for text in clean_files)
    # The counts live in the archive, so a new process knows the template.
    assert rows(db, "select articles from template_sites") == [(count,)]


def test_line_numbers_of_template_lines_point_into_the_raw_file(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for n in range(8):
        (raw / f"s{n}.txt").write_text(made_up_story(100 + n, template_at=3), encoding="utf-8")
    db = tmp_path / "a.db"
    archiver.ingest([raw], db=db, clean_dir=None)
    summary = archiver.reprocess(db, clean_dir=None)
    assert summary.files == 8 and summary.failed == summary.missing == 0
    for path, line_no, text in rows(
        db,
        """select a.raw_path, r.line_no, r.text from removed_lines r
           join articles a on a.id = r.article_id where r.reason = 'template'""",
    ):
        assert Path(path).read_text(encoding="utf-8").split("\n")[line_no - 1] == text


def test_reprocess_without_archive_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["reprocess", "--db", str(tmp_path / "none.db")])
    assert result.exit_code != 0
    assert "no archive" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("similarity", [0.3, 0.5, 0.7, 0.9])
def test_s_curve_is_monotonic_and_documented(similarity: float) -> None:
    low = shingles.candidate_probability(similarity, shingles.FULL_BANDS, shingles.FULL_ROWS)
    high = shingles.candidate_probability(
        similarity + 0.05, shingles.FULL_BANDS, shingles.FULL_ROWS
    )
    assert 0.0 < low < high <= 1.0
    assert f"{similarity:7.2f}" in shingles.s_curve()


def random_words(rng: random.Random, count: int) -> list[str]:
    """Made-up words, nearly all different."""
    return ["".join(rng.choice("bcdfglmnprstvz") + rng.choice("aeiou") for _ in range(4))
            for _ in range(count)]  # fmt: skip


@pytest.mark.parametrize("length", [40, 400])
def test_signatures_agree_on_about_the_share_of_shingles_two_texts_share(length: int) -> None:
    """What the LSH rates above rest on: two texts agree on a signature value with a
    probability equal to their shingle Jaccard (short texts fill few bins)."""
    rng = random.Random(length)
    gaps = []
    for _ in range(40):
        words = random_words(rng, length)
        other = list(words)
        start = rng.randrange(length // 2)
        other[start : start + length // 3] = random_words(rng, length // 3)
        a, b = shingles.fingerprint(" ".join(words)), shingles.fingerprint(" ".join(other))
        assert a is not None and b is not None
        jaccard, _ = shingles.overlap(a.shingles, b.shingles)
        gaps.append(float(np.mean(a.signature == b.signature)) - jaccard)
    # Unbiased: the mean error of 40 estimates is small; each is within a few sd.
    assert abs(np.mean(gaps)) < 0.05
    assert max(abs(g) for g in gaps) < 0.3


@pytest.mark.parametrize("length", [30, 120, 600])
def test_signatures_never_rule_out_a_pair_that_verification_calls_a_copy(length: int) -> None:
    """Candidates the signatures rule out are not verified: every pair verify() calls a
    copy (near-duplicates at the threshold, excerpts of any size) must pass, while
    texts sharing only a quote are ruled out."""
    rng = random.Random(length)
    copies = ruled_out = unrelated = 0
    for _ in range(300):
        words = random_words(rng, length)
        kind = rng.choice(["near", "excerpt", "quote"])
        if kind == "near":  # a block rewritten: Jaccard around the threshold
            other = list(words)
            start = rng.randrange(length // 2)
            other[start : start + rng.randint(length // 8, length // 3)] = random_words(
                rng, length // 5
            )
        elif kind == "excerpt":  # the start of the story, a few words changed
            other = words[: rng.randint(max(30, length // 5), length)]
            for i in rng.sample(range(len(other)), len(other) // 40):
                other[i] = random_words(rng, 1)[0]
        else:  # another story quoting a sentence of this one
            start = rng.randrange(length - 12)
            other = random_words(rng, length // 2) + words[start : start + 12]
        a, b = shingles.fingerprint(" ".join(words)), shingles.fingerprint(" ".join(other))
        assert a is not None and b is not None
        agreement = int(np.count_nonzero(a.signature == b.signature))
        plausible = shingles.may_copy(len(a.shingles), len(b.shingles), agreement)
        if shingles.verify(a.shingles, b.shingles).duplicate:
            copies += 1
            assert plausible, (kind, len(a.shingles), len(b.shingles), agreement)
        elif kind == "quote":
            unrelated += 1
            ruled_out += not plausible
    assert copies >= 100
    if length >= 600:  # texts under MIN_SKETCH_SHINGLES shingles are always verified
        assert ruled_out >= 0.9 * unrelated


def test_signatures_never_rule_out_copies_at_the_thresholds_of_any_size() -> None:
    """Pairs of shingle sets exactly at verify()'s thresholds (Jaccard 0.5; an excerpt
    holding 75% of its shingles), from one shingle to thousands: none is ruled out.
    Small sets fill few bins of the signature, and their agreements come in runs."""
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(3000):
        smaller = int(np.exp(rng.uniform(0, np.log(3000))))
        for near in (True, False):
            if near:  # equal sizes sharing two thirds: Jaccard 0.5
                larger, shared = smaller, -(-2 * smaller // 3)
            elif smaller >= shingles.MIN_EXCERPT_SHINGLES:
                larger, shared = int(smaller * rng.uniform(1, 5)), -(-3 * smaller // 4)
            else:
                continue
            pool = np.unique(rng.integers(0, 2**64, smaller + larger, dtype=np.uint64))
            rng.shuffle(pool)
            common = pool[:shared]
            a = np.sort(np.concatenate([common, pool[shared:smaller]]))
            b = np.sort(np.concatenate([common, pool[smaller : smaller + larger - shared]]))
            if len(a) != smaller or len(b) != larger:
                continue  # a hash drawn twice (never, in practice)
            assert shingles.verify(a, b).duplicate
            agreement = int(np.count_nonzero(shingles._minhash(a) == shingles._minhash(b)))
            assert shingles.may_copy(len(a), len(b), agreement), (smaller, larger, agreement)
            checked += 1
    assert checked > 4000


def test_texts_fingerprinted_together_or_alone_get_the_same_fingerprint() -> None:
    """The writer fingerprints its next articles in one go; an article fingerprinted alone
    (a stored one, read back to verify a candidate) must come out the same."""
    rng = random.Random(5)
    long_text = " ".join(random_words(rng, 12_000))  # longer than one chunk of words
    assert len(long_text) > shingles.WORD_CHUNK_BYTES
    texts = [
        "", "…", "two words", "Tōkyō’s «quoted» words — and Ümlauts, in a row of nine",
        " ".join(random_words(rng, 300)), long_text, " ".join(random_words(rng, 200)),
        "x" * 70_000 + " then four more words", " ".join(random_words(rng, 50)),
    ]  # fmt: skip
    alone = [shingles.fingerprint(text) for text in texts]
    shingles.prefetch(texts)
    together = [shingles._PREFETCHED.get(text) for text in texts]
    assert [f is None for f in alone] == [True, True] + [False] * 7
    for one, other in zip(alone, together, strict=True):
        if one is None:
            assert other is None
            continue
        assert other is not None and one is not other
        for name in ("shingles", "signature", "anchors", "bands", "ordered"):
            assert np.array_equal(getattr(one, name), getattr(other, name)), name


@pytest.mark.parametrize(
    "text",
    [
        "Plain ASCII, with CAPITALS_and_underscores; and punctuation!",
        "Tōkyō’s «quoted» words — and Ümlauts, in a row of nine…",
        "ΟΔΥΣΣΕΥΣ ΚΑΙ Η ΘΑΛΑΣΣΑ: final sigmas at the ends of words",
        "İstanbul, the KELVIN sign \u212a and the ſ long s",
        "Москва — СТОЛИЦА России. «Новости» ЕЖЕДНЕВНО: ÀÉÎÕÜ ÇÑ ĄĘŁŃŚŹŻ ČĎĚŇŘŠŤŮŽ ĞŞ",
        "東京都は、新しい計画を発表した。「詳細」は後日（予定）",
        "lone \udc80 surrogate, and \u0301combining marks, tab\there",
        "".join(chr(c) for c in range(0x80, 0x500)),
    ],
)
def test_words_are_the_lower_cased_runs_of_word_characters(text: str) -> None:
    expected = [w.encode("utf-8", "surrogatepass") for w in re.findall(r"\w+", text.lower())]
    assert shingles._word_bytes(text).split() == expected


def story_paragraphs(seed: int, count: int = 7) -> list[str]:
    """Body paragraphs of a made-up story, in words no other seed's story uses."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mer", "tis", "an", "vo", "dru", "pel", "si", "gor", "ne", "ub"]

    def noun() -> str:
        return "".join(rng.choice(syllables) for _ in range(3))

    return [
        " ".join(
            f"The {noun()} of the {noun()} said on {rng.choice(['Monday', 'Friday'])} that the "
            f"{noun()} and the {noun()} would be ready by {rng.randint(2020, 2099)}."
            for _ in range(2)
        )
        for _ in range(count)
    ]


def dump(title: str, paragraphs: list[str]) -> str:
    """A whole-page dump: menus, a title, the paragraphs, a footer."""
    return "\n\n".join(["Home", "News", "Sport", title, *paragraphs, "Contact us"]) + "\n"


def test_a_block_printed_at_the_foot_of_another_story_is_not_an_excerpt(tmp_path: Path) -> None:
    """A text found whole at the end of a longer one (a disclaimer, the site's notes) is
    contained in it, but not as an excerpt is: a site runs the start of a story."""
    raw = tmp_path / "raw"
    raw.mkdir()
    footer_block = story_paragraphs(1, 4)
    (raw / "a.txt").write_text(dump("Notes from the harbour office", footer_block), "utf-8")
    (raw / "b.txt").write_text(
        dump("Council approves the schools budget", [*story_paragraphs(2, 8), *footer_block]),
        "utf-8",
    )
    db = tmp_path / "a.db"
    archiver.ingest([raw], db=db, clean_dir=None)
    assert rows(db, "select count(*) from stories") == [(2,)]
    # The same block at the start of the longer text is an excerpt of it.
    (raw / "c.txt").write_text(
        dump("Notes from the harbour office", [*footer_block, *story_paragraphs(3, 8)]), "utf-8"
    )
    archiver.ingest([raw], db=db, clean_dir=None)
    assert article_of(db, raw / "a.txt")[1] == article_of(db, raw / "c.txt")[0]


def test_copies_that_gained_different_chrome_are_joined_by_a_clean_excerpt(
    tmp_path: Path,
) -> None:
    """Two copies each carrying other text are too far apart to link on their own; a third
    copy that both contain shows they are one story, and all three are linked."""
    story = story_paragraphs(10)
    first = [*story, *story_paragraphs(11, 5)]
    second = [*story[:-1], *story_paragraphs(12, 5)]
    excerpt = story[:4]
    db = tmp_path / "a.db"
    for name, paragraphs in (("first", first), ("second", second), ("excerpt", excerpt)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.txt").write_text(dump("Harbour plan", paragraphs), "utf-8")
        archiver.ingest([folder], db=db, clean_dir=None)
        if name == "second":  # not linked yet: each has a third of its text of its own
            assert rows(db, "select count(*) from stories") == [(2,)]
    assert rows(db, "select count(*) from stories") == [(1,)]
    assert rows(db, "select copies from stories") == [(3,)]


def wire_article(name: str, paragraphs: list[str]) -> Article:
    """An article as the cleaning stage hands it to the writer (raw file NAME.txt)."""
    text = "\n\n".join(paragraphs)
    return Article(
        id=article_id(f"{name}:{text}"), raw_path=f"{name}.txt", raw_sha256="",
        title=name, text=text, published=None, source=None, dateline=None,
        author=None, language="en",
    )  # fmt: skip


def store_and_link(db: sqlite_utils.Database, *articles: Article) -> None:
    """Store articles (one a file) and link them in one transaction, as the archive's
    writer does."""
    with db.atomic():
        for article in articles:
            record = store.RawFileRecord(
                article.raw_path, "", 0, "text", "utf-8", "ok", None, 1, article.extractor_version
            )
            stored = dedupe.before_save(db, [article])
            store.save_articles(db, record, stored, None)
            dedupe.after_save(db, article.raw_path, stored, None, defer=True)
        dedupe.flush(db)


def linked_to(db_path: Path, article: Article) -> str | None:
    """The canonical an article is linked to (None: it is one)."""
    return rows(db_path, "select duplicate_of from articles where id = ?", (article.id,))[0][0]


def test_two_connections_each_find_what_the_other_linked(tmp_path: Path) -> None:
    """Two writers on one archive (two processes, or two connections) take turns: each
    finds the copies of the articles the other stored since it last looked."""
    path = tmp_path / "a.db"
    first, second = store.open_db(path), store.open_db(path)
    story = story_paragraphs(20)
    # The second connection indexes the archive before the first stores anything.
    store_and_link(second, wire_article("other", story_paragraphs(21)))
    original = wire_article("original", story)
    store_and_link(first, original)
    copy = wire_article("copy", ["LISBON (Wire) - " + story[0], *story[1:-1]])
    store_and_link(second, copy)
    assert linked_to(path, copy) == original.id
    excerpt = wire_article("excerpt", story[:4])
    store_and_link(first, excerpt)
    assert linked_to(path, excerpt) == original.id
    # The first replaces its original with another story: its copies stay one story (the
    # longest is now the canonical), and the second links a new copy to that one, not
    # to the article gone.
    store_and_link(first, wire_article("original", story_paragraphs(22)))
    assert rows(path, "select count(*) from articles where id = ?", (original.id,)) == [(0,)]
    assert linked_to(path, excerpt) == copy.id
    again = wire_article("again", story[:-2])
    store_and_link(second, again)
    assert linked_to(path, again) == copy.id
    first.close()
    second.close()


def test_a_passage_many_articles_share_returns_only_its_newest_matches() -> None:
    index = keyindex.KeyIndex()
    shared = 12345
    for seq in range(1, 301):
        index.add(seq, np.array([shared, 1_000_000 + seq], np.int64))
        if seq == 150:
            index._merge()  # the older entries in the sorted arrays, the newer pending
    found = index.lookup(np.array([shared, 1_000_005], np.int64))
    on_shared = sorted(seq for seq, i in found if i == 0)
    cap = keyindex.KeyIndex.MAX_MATCHES
    # The newest of each part: the arrays' last entries and the pending ones.
    assert on_shared == [*range(151 - cap, 151), *range(301 - cap, 301)]
    assert (5, 1) in found


def test_an_old_story_is_found_past_a_passage_many_articles_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyindex.KeyIndex, "MAX_MATCHES", 3)
    path = tmp_path / "a.db"
    db = store.open_db(path)
    boilerplate = " ".join(story_paragraphs(99, count=2))
    articles = [
        wire_article(f"s{n}", [*story_paragraphs(n)[:3], boilerplate, *story_paragraphs(n)[3:]])
        for n in range(30)
    ]
    for article in articles:
        store_and_link(db, article)
    oldest = story_paragraphs(0)
    copy = wire_article("copy", ["LISBON (Wire) - " + oldest[0], *oldest[1:-1]])
    store_and_link(db, copy)
    assert linked_to(path, copy) == articles[0].id
    # The passage they share makes none of them copies of another.
    assert rows(path, "select count(*) from articles where duplicate_of is not null") == [(1,)]
    db.close()


@pytest.mark.parametrize("tally_above", [0, 10**9], ids=["numpy", "loop"])
def test_candidates_counted_in_numpy_or_in_a_loop_link_the_same_stories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally_above: int
) -> None:
    monkeypatch.setattr(signatures, "NUMPY_TALLY_MATCHES", tally_above)
    path = tmp_path / "a.db"
    db = store.open_db(path)
    # A passage every article prints: more articles share it than are verified as
    # candidates, so each copy's own story must rank first among them.
    boilerplate = " ".join(story_paragraphs(99, count=2))
    stories = dedupe.MAX_CANDIDATES + 4
    for n in range(stories):
        story = story_paragraphs(n)
        original = wire_article(f"s{n}", [*story[:3], boilerplate, *story[3:]])
        excerpt = wire_article(f"e{n}", story[:4])
        edited = wire_article(f"c{n}", [boilerplate, "PARIS (Wire) - " + story[0], *story[1:-1]])
        store_and_link(db, original, excerpt, edited)
        assert linked_to(path, excerpt) == original.id
        assert linked_to(path, edited) == original.id
    db.close()
    assert rows(path, "select count(*), sum(copies) from stories") == [(stories, 3 * stories)]


def test_keys_probed_ahead_find_what_probing_one_at_a_time_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small merges, so that some happen in the middle of a group probed ahead.
    monkeypatch.setattr(keyindex.KeyIndex, "MIN_PENDING", 40)
    rng = np.random.default_rng(7)
    one_at_a_time, ahead = keyindex.KeyIndex(), keyindex.KeyIndex()
    steps = [
        (int(rng.integers(1, 120)), np.unique(rng.integers(0, 400, 12)).astype(np.int64))
        for _ in range(240)
    ]
    found_ahead_somewhere = False
    current: dict[int, set[int]] = {}  # what each number's keys are, kept by hand
    for start in range(0, len(steps), 8):
        group = steps[start : start + 8]
        ahead.look_ahead([keys for _, keys in group])
        for seq, keys in group:
            expected = sorted(one_at_a_time.lookup(keys))
            assert sorted(ahead.lookup(keys)) == expected
            # Few entries a key here, under MAX_MATCHES: every holder of a key is found.
            assert expected == sorted(
                (other, i)
                for i, key in enumerate(keys.tolist())
                for other, held in current.items()
                if key in held
            )
            found_ahead_somewhere |= bool(expected) and bool(ahead._ahead)
            # add() is for a number without keys; one that has some is replaced.
            replace = seq % 3 == 0 or seq in current
            for index in (one_at_a_time, ahead):
                if seq % 5 == 0:
                    index.remove(seq)
                elif replace:
                    index.replace(seq, keys)
                else:
                    index.add(seq, keys)
            if seq % 5 == 0:
                current.pop(seq, None)
            else:
                current[seq] = set(keys.tolist())
    assert found_ahead_somewhere


def test_keys_of_one_bucket_are_told_apart_by_their_low_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The arrays keep a key's top bits only as the bucket it sits in: keys of one bucket
    # (and keys of other buckets with the same low bits) must still find only their own.
    monkeypatch.setattr(keyindex.KeyIndex, "MIN_PENDING", 50)
    rng = np.random.default_rng(9)
    lows = rng.integers(0, 2**32, size=600, dtype=np.int64)
    same_bucket = (np.int64(0x1234) << np.int64(48)) | lows[:400]
    same_lows = (rng.integers(0, 2**15, size=200, dtype=np.int64) << np.int64(48)) | lows[:200]
    keys = np.concatenate([same_bucket, same_lows])
    index = keyindex.KeyIndex()
    index.add_many(np.arange(300), keys[:300])
    for seq in range(300, 600):
        index.add(seq, keys[seq : seq + 1])
    index._merge()
    found = index.lookup(keys)
    assert sorted(found) == [(seq, seq) for seq in range(600)]
    strangers = (np.int64(0x1234) << np.int64(48)) | (lows[:400] ^ np.int64(1))
    assert index.lookup(strangers[~np.isin(strangers, keys)]) == []


def test_a_filter_rebuilt_a_slice_at_a_time_lets_every_key_be_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The filter answers "surely absent" first: a key whose bit a slice missed is never
    # found again. Slices of 7 keys, and a filter doubling twice as the index grows.
    monkeypatch.setattr(keyindex.KeyIndex, "MARK_KEYS", 7)
    monkeypatch.setattr(keyindex.KeyIndex, "MIN_PENDING", 30)
    monkeypatch.setattr(keyindex.KeyIndex, "FILTER_BITS", 16)
    rng = np.random.default_rng(3)
    index = keyindex.KeyIndex()
    first_size = index._filter_log2
    keys = rng.integers(-(2**63), 2**63 - 1, size=9000, dtype=np.int64)
    index.add_many(np.arange(6000, dtype=np.int64), keys[:6000])
    for seq in range(6000, 9000, 3):
        index.add(seq, keys[seq : seq + 3])
    assert index._filter_log2 == first_size + 2
    found = index.lookup(keys)
    assert sorted(i for _, i in found) == list(range(9000))


@pytest.mark.parametrize("dtype", [np.int64, keyindex.SEQ_TYPE])
def test_entries_inserted_in_place_land_where_a_new_array_puts_them(
    dtype: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slices of 5 entries, so that insertions fall inside, between and at the ends of
    # slices, among repeated keys, before the first entry and after the last.
    monkeypatch.setattr(keyindex, "STEP", 5)
    rng = np.random.default_rng(11)
    for size, added in [(0, 4), (1, 3), (23, 0), (23, 40), (64, 7), (200, 200)]:
        array = np.sort(rng.integers(-20, 20, size)).astype(dtype)
        values = np.sort(rng.integers(-25, 25, added)).astype(dtype)
        at = array.searchsorted(values, "right")
        expected = np.insert(array, at, values)
        merged = keyindex.insert_in_place(array, at, values)
        assert merged.dtype == dtype
        assert merged.tolist() == expected.tolist()
        assert merged.tolist() == sorted(merged.tolist())


def test_entries_of_replaced_numbers_dropped_in_place_leave_the_rest_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keyindex, "STEP", 4)  # slices of 4: kept entries cross slices
    rng = np.random.default_rng(5)
    for size, gone in [(0, [1]), (9, []), (9, list(range(10))), (50, [0, 3]), (101, [7])]:
        keys = np.sort(rng.integers(-50, 50, size)).astype(np.int64)
        seqs = rng.integers(0, 10, size).astype(keyindex.SEQ_TYPE)
        keep = ~np.isin(seqs, gone)
        expected = (keys[keep].tolist(), seqs[keep].tolist())
        dropped_at = np.flatnonzero(~keep).tolist()
        kept_keys, kept_seqs, dropped = keyindex.drop_in_place(keys, seqs, np.array(gone, np.int64))
        assert (kept_keys.tolist(), kept_seqs.tolist()) == expected
        assert dropped.tolist() == dropped_at
        assert kept_seqs.dtype == keyindex.SEQ_TYPE


def test_the_same_page_twice_in_one_batch_keeps_the_index_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Identical files are one article, signed twice in the writer's batch: the index must
    # stay in step with the table, not be read again from it (a cost the size of the
    # archive, in time and memory, at every such batch).
    builds = []
    build = signatures.Signatures._build

    def counted_build(self: signatures.Signatures, db: sqlite_utils.Database) -> None:
        builds.append(db)
        build(self, db)

    monkeypatch.setattr(signatures.Signatures, "_build", counted_build)
    db = store.open_db(tmp_path / "a.db")
    page = wire_article("page", story_paragraphs(3))
    store_and_link(db, page, dataclasses.replace(page, raw_path="same_again.txt"))
    story = story_paragraphs(3)
    copy = wire_article("copy", ["LISBON (Wire) - " + story[0], *story[1:-1]])
    store_and_link(db, wire_article("other", story_paragraphs(4)), copy)
    assert len(builds) == 1  # when the archive was first opened
    assert linked_to(tmp_path / "a.db", copy) == page.id
    db.close()


def test_an_article_signed_again_after_another_in_one_batch_keeps_its_number(
    tmp_path: Path,
) -> None:
    # The index numbers rows as SQLite will; an article signed a second time later in
    # the batch keeps the number of its first signing, so the rows must be written in
    # that order, or the index and the table disagree on whose row is whose.
    path = tmp_path / "a.db"
    db, other = sqlite_utils.Database(path), sqlite_utils.Database(path)
    signatures.ensure_table(db)
    texts = {"first": " ".join(story_paragraphs(1)), "second": " ".join(story_paragraphs(2))}

    def sign(sigs: signatures.Signatures, article: str, raw_path: str) -> None:
        fp = shingles.fingerprint(texts[article])
        assert fp is not None
        digest = shingles.text_digest(texts[article])
        sigs.put(article, raw_path, fp, signatures.keys_of(fp), digest)

    sigs = signatures.Signatures()
    sigs.sync(db)
    sign(sigs, "first", "first.txt")
    sign(sigs, "second", "second.txt")
    sign(sigs, "first", "first.txt")
    sigs.flush(db)
    db.conn.commit()
    table = dict(db.execute("select article_id, seq from minhash").fetchall())
    assert table == {"first": sigs.seq("first"), "second": sigs.seq("second")}
    # Another writer signs "second" again from another file: "first" is still known as
    # signed from its own file.
    theirs = signatures.Signatures()
    theirs.sync(other)
    sign(theirs, "second", "second-moved.txt")
    theirs.flush(other)
    other.conn.commit()
    sigs.sync(db)
    assert sigs.signed_from(db, "first.txt") == ["first"]
    assert sigs.signed_from(db, "second-moved.txt") == ["second"]
    db.close()
    other.close()

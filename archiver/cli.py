"""The ``archiver`` command line: thin wrappers that parse options and call the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import pipeline, sources, store
from .models import Article

DB_OPTION = click.option(
    "--db",
    default="archive.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite archive file.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archiver")
def main() -> None:
    """Strip chrome from news pages and archive each story in SQLite."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@DB_OPTION
@click.option(
    "--clean-dir",
    default="clean",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for one clean .txt file per article.",
)
@click.option(
    "--max-bytes",
    default=sources.DEFAULT_MAX_BYTES,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refuse inputs larger than this (after gunzip).",
)
def ingest(paths: tuple[str, ...], db: str, clean_dir: str, max_bytes: int) -> None:
    """Ingest raw files and folders (recursively) into the archive and clean/.

    Files already ingested unchanged are skipped; a changed file replaces its
    article. Exits with status 1 if any input failed.
    """
    files = list(sources.iter_raw_files(paths))
    outcomes = pipeline.iter_ingest(files, db, clean_dir, max_bytes)
    results: list[pipeline.FileOutcome] = []
    try:
        if sys.stderr.isatty():
            with click.progressbar(
                outcomes, length=len(files), label="ingesting", file=sys.stderr, show_pos=True,
                item_show_func=lambda o: o.record.path[-40:] if o else None,
            ) as bar:  # fmt: skip
                for outcome in bar:
                    results.append(_report(outcome, bar))
        else:
            for outcome in outcomes:
                results.append(_report(outcome, None))
    except store_errors() as exc:
        raise click.ClickException(f"cannot write the archive {db}: {exc}") from None
    summary = pipeline.summarise(results)
    click.echo(summary.line(), err=True)
    if summary.failed:
        sys.exit(1)


def store_errors() -> tuple[type[BaseException], ...]:
    """Errors of the database or the clean folder that end a run with a clear message."""
    import sqlite3

    return (sqlite3.DatabaseError, OSError)


def _report(outcome: pipeline.FileOutcome, bar: object) -> pipeline.FileOutcome:
    lines = (
        [f"failed: {outcome.record.path}: {outcome.record.error}"]
        if outcome.status == pipeline.FAILED
        else []
    )
    lines += [f"warning: {outcome.record.path}: {w}" for w in outcome.warnings]
    for line in lines:
        if bar is not None:
            click.echo("\r\033[K", nl=False, err=True)
        click.echo(line, err=True)
    return outcome


@main.command("clean")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file (JSON Lines).")
def clean_command(files: tuple[str, ...], as_json: bool) -> None:
    """Print the clean body of each FILE, without touching any database."""
    failed = 0
    for name in files:
        outcome = pipeline.process_file(Path(name))
        if outcome.status == pipeline.FAILED:
            failed += 1
            click.echo(f"failed: {name}: {outcome.record.error}", err=True)
            if as_json:
                error = {"path": name, "error": outcome.record.error, "text": ""}
                click.echo(json.dumps(error, ensure_ascii=False))
            continue
        for article in outcome.articles:
            if as_json:
                click.echo(json.dumps(article_json(name, article), ensure_ascii=False))
            else:
                click.echo(article.text)
                click.echo()
    if failed:
        sys.exit(1)


def article_json(path: str, article: Article) -> dict[str, object]:
    """The JSON object ``archiver clean --json`` prints for one article."""
    return {
        "path": path,
        "title": article.title,
        "published": article.published,
        "source": article.source,
        "dateline": article.dateline,
        "author": article.author,
        "language": article.language,
        "url": article.url,
        "text": article.text,
        "removed": [
            {"line": r.line_no, "text": r.text, "reason": r.reason} for r in article.removed
        ],
    }


@main.command()
@DB_OPTION
def stats(db: str) -> None:
    """Counts of articles by source and language, and of removed lines by reason."""
    if not Path(db).exists():
        raise click.ClickException(f"no archive at {db}: run 'archiver ingest' first")
    database = store.open_db(db)
    for title, rows in store.archive_stats(database).items():
        click.echo(f"{title}:")
        for name, count in rows:
            click.echo(f"  {count:>7}  {name}")
        if not rows:
            click.echo("  (none)")

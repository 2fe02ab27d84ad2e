"""The ``archiver`` command line: thin wrappers that parse options and call the library."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import cleanfiles, cluster, dedupe, pipeline, reprocessing, sources, store
from . import workers as workers_module
from .models import Article, counted
from .terminal import (
    echo_above,
    interrupted_status,
    one_line,
    printed_notes,
    progress,
    terminate_as_ctrl_c,
)

F = TypeVar("F", bound=Callable[..., Any])


def not_empty(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse an empty path (an unset shell variable): it would mean this folder."""
    values = value if isinstance(value, tuple) else (value,)
    if any(v is not None and not str(v).strip() for v in values):
        raise click.BadParameter("an empty path names no file or folder (give . for this one)")
    return value


def clean_dir_option(help_text: str) -> Callable[[F], F]:
    """The --clean-dir option, with the help its command gives it."""
    return click.option(
        "--clean-dir",
        default="clean",
        show_default=True,
        type=click.Path(file_okay=False),
        callback=not_empty,
        help=help_text,
    )


WORKERS_OPTION = click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes for extraction [default: the number of cores].",
)

DB_OPTION = click.option(
    "--db",
    default="archive.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    callback=not_empty,
    help="SQLite archive file.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archiver")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Strip chrome from news pages and archive each story in SQLite."""
    ctx.with_resource(terminate_as_ctrl_c())


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(), callback=not_empty)
@DB_OPTION
@clean_dir_option("Folder for one clean .txt file per article.")
@click.option(
    "--max-bytes",
    default=sources.DEFAULT_MAX_BYTES,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refuse inputs larger than this (after gunzip).",
)
@WORKERS_OPTION
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Run extraction on this Dask distributed scheduler instead of local workers.",
)
def ingest(
    paths: tuple[str, ...],
    db: str,
    clean_dir: str,
    max_bytes: int,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Ingest raw files and folders (recursively) into the archive and clean/.

    Files already ingested unchanged are skipped; a changed file replaces its
    article. Exits with status 1 if any input failed.
    """
    if scheduler and workers is not None:
        click.echo("note: --workers does not apply with --scheduler: the cluster's"
                   " workers extract", err=True)  # fmt: skip
    summary = run_ingest(paths, db, clean_dir, max_bytes, workers, scheduler)
    _warn_outdated_signatures(db)
    if summary.failed:
        sys.exit(1)


def run_ingest(
    paths: Iterable[str],
    db: str,
    clean_dir: str,
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    workers: int | None = None,
    scheduler: str | None = None,
) -> pipeline.IngestSummary:
    """Ingest with the command line's progress, failure lines, notes and summary line.

    A Ctrl-C ends the command with what was stored said; errors end it with one line.
    """
    paths = list(paths)
    try:  # before the notes and the count below: a refused run says only why
        pipeline.check_inputs([Path(p) for p in paths], db, clean_dir, names=paths)
    except (FileNotFoundError, cleanfiles.CleanDirRefused) as exc:
        raise click.ClickException(str(exc)) from None
    # Counted in a first walk, not listed: a list of millions of paths would grow with the
    # corpus (30 MB for 100,000 files).
    own = sources.archive_paths(db, clean_dir)
    for path, why in sources.skipped_inputs(paths, own):
        click.echo(f"note: skipped {path}: {why}", err=True)
    count = sources.count_raw_files(paths, own)
    if count == 0:
        click.echo("note: no files to ingest in the paths given (hidden files and folders,"
                   " and the archive's own, are skipped)", err=True)  # fmt: skip
    if workers is None:
        workers = pipeline_workers(count)
    tally = pipeline.Tally()
    # Counted as stored (tally.add): the summary of an interrupted run is what was stored.
    outcomes = pipeline.iter_ingest(
        paths, db, clean_dir, max_bytes, workers, scheduler, on_stored=tally.add
    )
    # Dask's logged tracebacks of a lost scheduler would bury the one line that says it.
    quiet = cluster.quiet_dask_logs() if scheduler else contextlib.nullcontext()
    try:
        # Closed here, whatever stops the loop: a Ctrl-C that lands between two files leaves
        # the run paused at a file, its batch not yet committed. Closing commits it before
        # the summary says it was stored (left to the interpreter's exit, it could be lost).
        with (
            contextlib.closing(outcomes),
            quiet,
            printed_notes(),
            progress(outcomes, count, "ingesting") as shown,
        ):
            for outcome in shown:
                _report(outcome)
    except KeyboardInterrupt:
        click.echo(f"interrupted: {tally.summary().line()}; run again to resume", err=True)
        sys.exit(interrupted_status())
    except cluster.SchedulerError as exc:
        done = tally.summary()
        if done.ingested or done.unchanged or done.failed:
            click.echo(f"stopped: {done.line()}; run again to resume", err=True)
        raise click.ClickException(one_line(str(exc))) from None
    except (store.NotAnArchive, cleanfiles.CleanDirRefused) as exc:
        raise click.ClickException(str(exc)) from None
    except store_errors() as exc:
        done = tally.summary()
        if done.ingested or done.unchanged or done.failed:
            click.echo(f"stopped: {done.line()}; run again to resume", err=True)
        raise click.ClickException(
            f"cannot write the archive {db} or its clean folder {clean_dir}: {exc}"
        ) from None
    except RuntimeError as exc:  # e.g. no Dask installed
        raise click.ClickException(str(exc)) from None
    summary = tally.summary()
    click.echo(summary.line(), err=True)
    return summary


def _warn_outdated_signatures(db: str) -> None:
    outdated = dedupe.outdated_signatures(db)
    if outdated:
        click.echo(
            f"note: {outdated} older articles were indexed for deduplication by an earlier "
            f"version and are not compared with new ones; run `archiver reprocess "
            f"--only-outdated --db {db}` once to re-index them",
            err=True,
        )


def pipeline_workers(inputs: int) -> int:
    """Default worker count: every core, unless there are too few inputs to repay a pool."""
    return workers_module.default_workers() if inputs >= workers_module.MIN_INPUTS_FOR_POOL else 1


def store_errors() -> tuple[type[BaseException], ...]:
    """Errors of the database or the clean folder that end a run with a clear message."""
    import sqlite3

    return (sqlite3.DatabaseError, OSError)


def _report(outcome: pipeline.FileOutcome) -> pipeline.FileOutcome:
    lines = (
        [f"failed: {outcome.record.path}: {outcome.record.error}"]
        if outcome.status == pipeline.FAILED
        else []
    )
    lines += [f"failed: {r.path}: {r.error}" for r in outcome.record_failures]
    lines += [f"warning: {outcome.record.path}: {w}" for w in outcome.warnings]
    for line in lines:
        echo_above(line)
    return outcome


@main.command("clean")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article (JSON Lines).")
def clean_command(files: tuple[str, ...], as_json: bool) -> None:
    """Print the clean body of each FILE (- for standard input), touching no database.

    With several articles (several files, or a WARC capture of several pages), each
    body comes under a header line, ==> FILE <== (with the page's URL for a capture).
    """
    failed = 0
    headed = len(files) > 1
    try:
        for name in files:
            failed += _clean_one(name, as_json, headed)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(interrupted_status())
    if failed:
        sys.exit(1)


def _clean_one(name: str, as_json: bool, headed: bool) -> int:
    """Print one input's clean bodies (or JSON objects); the number of failures said."""
    failed = 0
    if name == "-":  # a page piped in: `curl URL | archiver clean -`
        data = sys.stdin.buffer.read(sources.DEFAULT_MAX_BYTES + 1)
        outcome = pipeline.process_file(Path("-"), data=data)
    else:
        outcome = pipeline.process_file(Path(name))
    failures = [(name, outcome.record.error)] if outcome.status == pipeline.FAILED else []
    failures += [(record.path, record.error) for record in outcome.record_failures]
    headed = headed or len(outcome.articles) > 1
    for article in outcome.articles:
        if as_json:
            click.echo(json.dumps(article_json(name, article), ensure_ascii=False))
            continue
        if headed:
            click.echo(one_line(clean_header(name, article)))
        click.echo(article.text)
        click.echo()
    # Said as ingest says them: a capture's records that failed, damaged or cut short.
    for path, reason in failures:
        failed += 1
        click.echo(one_line(f"failed: {path}: {reason}"), err=True)
        if as_json:
            error = {"path": path, "error": reason, "text": ""}
            click.echo(json.dumps(error, ensure_ascii=False))
    for warning in outcome.warnings:
        click.echo(one_line(f"warning: {name}: {warning}"), err=True)
    return failed


def clean_header(path: str, article: Article) -> str:
    """The line ``archiver clean`` prints above each body when it prints several."""
    # A capture's pages share its path: the URL tells them apart.
    where = f"{path} ({article.url})" if article.captured_at and article.url else path
    return f"==> {where} <=="


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
        "captured_at": article.captured_at,
        "site": article.site,
        "extractor": article.extractor,
        "text": article.text,
        "removed": [
            {"line": r.line_no, "text": r.text, "reason": r.reason, "stage": r.stage}
            for r in article.removed
        ],
    }


@main.command()
@DB_OPTION
def stats(db: str) -> None:
    """Totals, then counts of articles by source and language, removed lines by reason."""
    try:
        database = store.open_archive_read_only(db)
    except store.NotAnArchive as exc:
        raise click.ClickException(str(exc)) from None
    for title, rows in store.archive_stats(database).items():
        click.echo(f"{title}:")
        for name, count in rows:
            click.echo(f"  {count:>7}  {name}")
        if not rows:
            click.echo("  (none)")


@main.command("fetch")
@click.argument("urls", nargs=-1)
@click.option(
    "--from-file",
    "url_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="Read URLs from FILE, one a line ('#' starts a comment); '-' reads stdin.",
)
@DB_OPTION
@click.option(
    "--out",
    default="raw",
    show_default=True,
    type=click.Path(file_okay=False),
    callback=not_empty,
    help="Folder for the .warc.gz files.",
)
@click.option(
    "--delay",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between two requests to one host.",
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests in flight at once, over all hosts (one per host).",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait to connect, and between two reads.",
)
@click.option(
    "--retries",
    default=3,
    show_default=True,
    type=click.IntRange(min=0, max=10),
    help="Retries after a connection error, a timeout, a 429 or a 5xx.",
)
@click.option(
    "--backoff",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds before the first retry; doubled for each further retry.",
)
@click.option(
    "--max-bytes",
    default=20 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Body size cap: the rest is not downloaded and the record is marked truncated.",
)
@click.option(
    "--warc-size",
    default=100 * 1000 * 1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Start a new WARC file once the current one would grow past this size.",
)
@click.option("--user-agent", help="User-Agent header [default: archiver/VERSION (...)].")
@click.option("--all-types", is_flag=True, help="Archive every content type, not only HTML.")
@click.option("--refetch", is_flag=True, help="Fetch URLs again even if already fetched.")
@click.option("--ingest", "then_ingest", is_flag=True, help="Ingest the new WARC files after.")
@clean_dir_option("With --ingest: folder for one clean .txt file per article.")
def fetch_command(
    urls: tuple[str, ...],
    url_files: tuple[str, ...],
    db: str,
    out: str,
    delay: float,
    concurrency: int,
    timeout: float,
    retries: int,
    backoff: float,
    max_bytes: int,
    warc_size: int,
    user_agent: str | None,
    all_types: bool,
    refetch: bool,
    then_ingest: bool,
    clean_dir: str,
) -> None:
    """Fetch URLs politely and archive the HTML pages as WARC files in --out.

    robots.txt is honoured, one request at a time per host with --delay between them.
    URLs already fetched are skipped (unless --refetch), so an interrupted run resumes
    when run again. Exits with status 1 if any URL failed.
    """
    import contextlib

    from . import fetch as fetching
    from . import urls as url_lists

    wanted = list(urls)
    for name in url_files:
        try:
            wanted += url_lists.read_url_file(name)
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read the URL list {name}: {exc}") from None
    if not wanted:
        raise click.UsageError("give URLs to fetch, or --from-file FILE")
    options = fetching.FetchOptions(
        out_dir=Path(out),
        delay=delay,
        concurrency=concurrency,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        max_bytes=max_bytes,
        warc_max_bytes=warc_size,
        user_agent=user_agent or fetching.DEFAULT_USER_AGENT,
        all_types=all_types,
        refetch=refetch,
    )
    total = len(url_lists.unique_urls(wanted))
    if total < len(wanted):
        twice = len(wanted) - total
        click.echo(f"note: {counted(twice, 'URL')} given more than once (the same page once"
                   " normalised) fetched once", err=True)  # fmt: skip
    results: list[fetching.FetchResult] = []
    hosts: dict[str, int] = {}

    def per_host(_: object) -> str:
        top = sorted(hosts.items(), key=lambda item: -item[1])[:3]
        return "  ".join(f"{host or '-'} {count}" for host, count in top)

    try:
        outcomes = fetching.iter_fetch(wanted, db, options)
        bar = None
        if sys.stderr.isatty():
            bar = click.progressbar(
                length=total, label="fetching", file=sys.stderr, show_pos=True,
                item_show_func=per_host,
            )  # fmt: skip
        with bar or contextlib.nullcontext():
            for result in outcomes:
                results.append(result)
                hosts[result.host] = hosts.get(result.host, 0) + 1
                if result.outcome not in (fetching.FETCHED, fetching.ALREADY):
                    why = result.error or (
                        f"{result.content_type} is not HTML (see --all-types)"
                        if result.content_type
                        else "no Content-Type, so not taken for HTML (see --all-types)"
                    )
                    echo_above(f"{result.outcome}: {result.url}: {why}")
                if bar is not None:
                    bar.update(1, result)
    except KeyboardInterrupt:
        click.echo(
            f"\ninterrupted after {len(results)} of {total} URLs; run again to resume", err=True
        )
        sys.exit(interrupted_status())
    except store.NotAnArchive as exc:
        raise click.ClickException(str(exc)) from None
    except store_errors() as exc:
        raise click.ClickException(f"cannot write the archive {db} or {out}: {exc}") from None
    summary = fetching.summarise(results)
    click.echo(summary.line(), err=True)
    if summary.warc_files:
        click.echo(f"wrote {len(summary.warc_files)} WARC file(s) in {out}", err=True)
    failed = summary.failed_count > 0
    if then_ingest:
        # This run's captures, and those an interrupted run fetched but did not ingest.
        captures = fetching.captures_to_ingest(db, summary.warc_files)
        if captures:
            failed = run_ingest(captures, db, clean_dir).failed > 0 or failed
    if failed:
        sys.exit(1)


@main.command()
@DB_OPTION
@clean_dir_option("Folder of clean .txt files to bring up to date.")
@WORKERS_OPTION
@click.option(
    "--only-outdated",
    is_flag=True,
    help="Only raw files last cleaned by another extractor version.",
)
def reprocess(db: str, clean_dir: str, workers: int | None, only_outdated: bool) -> None:
    """Re-derive every article and clean file from raw/ with the current extractor.

    Raw files are read again (never refetched); articles keep their ids, learned site
    templates are stripped (reason 'template') and duplicates are linked again. A raw
    file missing from disk or failing now keeps what the archive holds of it.
    """
    try:
        store.open_archive_read_only(db).close()
        cleanfiles.check_clean_dir(Path(clean_dir), db)
    except (store.NotAnArchive, cleanfiles.CleanDirRefused) as exc:
        raise click.ClickException(str(exc)) from None
    database = store.open_db(db)
    try:
        count = reprocessing.count_stored_raw_files(database, only_outdated)
    finally:
        database.close()
    if workers is None:
        workers = pipeline_workers(count)
    tally = reprocessing.ReprocessTally()
    items = reprocessing.iter_reprocess(
        db, clean_dir, workers=workers, only_outdated=only_outdated, on_stored=tally.add
    )
    try:
        with contextlib.closing(items), progress(items, count, "reprocessing") as shown:
            for item in shown:
                if item.kept_because:
                    echo_above(f"kept as stored: {item.outcome.record.path}: {item.kept_because}")
    except KeyboardInterrupt:
        click.echo("interrupted: run again to finish", err=True)
        sys.exit(interrupted_status())
    except store_errors() as exc:
        raise click.ClickException(
            f"cannot write the archive {db} or its clean folder {clean_dir}: {exc}"
        ) from None
    summary = tally.summary()
    click.echo(summary.line(), err=True)
    if summary.files and summary.missing + summary.edited == summary.files:
        click.echo("note: none of the raw files is where and as the archive says: paths are"
                   " stored as given, so run reprocess from the folder they were ingested from",
                   err=True)  # fmt: skip

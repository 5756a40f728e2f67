"""The ``tracker`` command: the entry layer, a thin one over the importable core.

Every command takes ``--db PATH`` (else ``$TRACKER_DB``, else ``db/tracker.db``)
and ``--config PATH`` (else ``$TRACKER_CONFIG``, else ``./tracker.toml``).
Any :class:`tracker.errors.TrackerError`, a database or file system that
refuses a read or write, and any other failure becomes a one-line error in one
place, :class:`TrackerGroup` -- never a traceback. This is the only module of
``tracker/`` that imports ``jobs/``.

Libraries a command needs are imported inside that command: ``tracker --help``
and ``tracker status`` start in a fraction of a second and never load torch,
feedparser or Datasette (measured in the README's Development section).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path

import click

from jobs import runner
from tracker.config import Config, load_config
from tracker.errors import TrackerError, describe


class TrackerGroup(click.Group):
    """Turns every failure into a one-line message, for every command: the tracker's
    own errors as they are written, a database or file system that refuses a write
    (a full disk, a file-size limit, a locked or damaged file) as ``describe`` puts
    it. SQLite rolls the transaction back, so such a failure loses nothing already
    stored; a job's run is in ``job_runs`` with the same line when it could be
    written. Anything else is a bug: one line too, and ``TRACKER_DEBUG=1`` lets its
    traceback through."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except sqlite3.Error as exc:
            raise click.ClickException(f"database error: {describe(exc)}") from None
        except OSError as exc:
            raise click.ClickException(describe(exc)) from None
        except Exception as exc:
            if os.environ.get("TRACKER_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected error (a bug; TRACKER_DEBUG=1 shows the traceback): "
                f"{describe(exc)}") from None


class Context:
    """What every command needs: the loaded config and the database."""

    def __init__(self, config: Config):
        self.config = config
        self._db = None

    @property
    def db(self):
        if self._db is None:
            from tracker_db import open_db

            try:
                self._db = open_db(self.config.db_path)
            except sqlite3.DatabaseError as exc:
                raise click.ClickException(f"cannot open database {self.config.db_path}: {exc}")
        return self._db


def output_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An output file's folder must exist before any work is done: a long
    ``calibrate`` or ``eval`` should not end in a failed write."""
    if value is not None and value != "-":
        folder = Path(value).parent
        if not folder.is_dir():
            raise click.BadParameter(f"folder {str(folder)!r} does not exist", ctx, param)
    return value


def common_options(command):
    """``--db`` and ``--config`` on every command; passes a :class:`Context` first."""

    @click.option("--db", "db_path", type=click.Path(dir_okay=False), envvar="TRACKER_DB",
                  help="SQLite database file [env TRACKER_DB; default db/tracker.db]")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False),
                  envvar="TRACKER_CONFIG",
                  help="TOML config file [env TRACKER_CONFIG; default ./tracker.toml if present]")
    @functools.wraps(command)
    def wrapper(db_path, config_path, **kwargs):
        config = load_config(config_path, db_path)
        runner.job_schedules(config)  # a [schedule.<job>] naming no job is a config error
        return command(Context(config), **kwargs)

    return wrapper


@click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="arctic-stance-tracker")
def cli():
    """Arctic stance tracker: ingest news, tag its stance toward a topic,
    group it into events and publish it with Datasette.

    \b
    Example:
        tracker run            # ingest seeds/, tag, build events, serve on :8001
    """


@cli.command()
@common_options
def init(ctx: Context):
    """Create the database (or bring its schema up to date).

    \b
    Example:
        tracker init --db db/tracker.db
    """
    db = ctx.db
    click.echo(f"Database ready: {ctx.config.db_path} ({len(db.table_names())} tables)")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@common_options
def ingest(ctx: Context, paths: tuple[str, ...]):
    """Ingest text articles from files or folders (default: seeds/).

    A file that cannot be read or parsed is recorded in the errors table and the
    rest still ingest; exits non-zero only when nothing could be ingested.

    \b
    Example:
        tracker ingest seeds/ more/article.txt
    """
    summary = runner.run_job(ctx.db, ctx.config, "ingest", paths=list(paths) or None)
    click.echo(
        f"{summary.files} files: {summary.new} new, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.failed} failed"
    )
    for missing in summary.missing_paths:
        click.echo(f"not found: {missing}", err=True)
    if summary.failed:
        click.echo("see the errors table (tracker status) for the reasons", err=True)
    if summary.did_nothing:
        raise click.ClickException("nothing could be ingested")


@cli.command()
@click.option("--host", default=None, help="Interface to listen on [default 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port [default 8001]")
@click.option("--metadata", type=click.Path(dir_okay=False), default=None,
              help="Datasette metadata file [default metadata.yml]")
@click.option("--public", is_flag=True, default=None,
              help="Public mode: no arbitrary SQL, 1 s limit, no path-revealing pages")
@click.option("--root", is_flag=True,
              help="Print a one-time link that signs you in as root (to correct stance tags)")
@common_options
def serve(ctx: Context, host: str | None, port: int | None, metadata: str | None,
          public: bool | None, root: bool):
    """Serve the database with Datasette (read-write file, not immutable).

    \b
    Example:
        tracker serve --port 8001
        tracker serve --public --host 0.0.0.0   # a site anyone can reach
        tracker serve --root                    # prints a sign-in link for corrections
    """
    from tracker import publish  # Datasette: only when serving

    ctx.db  # create and migrate before serving
    host = host or ctx.config.server.host
    port = port or ctx.config.server.port
    public = ctx.config.server.public if public is None else public
    datasette = publish.build_datasette(ctx.config.db_path, metadata or ctx.config.server.metadata,
                                        public=public,
                                        counts_seconds=ctx.config.memory.table_counts_seconds)
    click.echo(f"Serving {ctx.config.db_path} on http://{host}:{port}/", err=True)
    if root:
        # Datasette's own root login: the token works once, for this process only.
        click.echo(f"Sign in as root: {publish.root_login_url(datasette, host, port)}", err=True)
    publish.serve(datasette, host, port)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
@common_options
def status(ctx: Context, as_json: bool):
    """Show row counts, stance counts, open errors, the service, and each job's
    last run and next scheduled run.

    \b
    Example:
        tracker status --json
    """
    from tracker.status import next_run_text, read_status, service_line

    report = read_status(ctx.db)
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    click.echo(f"Database: {ctx.config.db_path}")
    click.echo("  " + ", ".join(f"{name}: {n}" for name, n in report.counts.items()))
    if report.stance:
        click.echo("  stance: " + ", ".join(f"{k}: {v}" for k, v in report.stance.items()))
    click.echo(f"  open errors: {report.open_errors}")
    click.echo(service_line(report))
    if not report.last_runs:
        click.echo("No job has run yet.")
    for run in report.last_runs:
        line = f"  {run['job']:<13} {run['status']:<11} {run['started_at']}"
        if run["duration_s"] is not None:
            line += f" ({run['duration_s']:.1f}s)"
        line += f" {run['counts'] or ''}"
        click.echo(line)
        if run["error"]:
            click.echo(f"      error: {run['error'].splitlines()[0]}")
        if next_run_text(report, run["job"]):
            click.echo(f"      {next_run_text(report, run['job'])}")
    ran = {run["job"] for run in report.last_runs}
    for row in report.schedule:
        if row["job"] not in ran:
            click.echo(f"  {row['job']:<13} {'never run':<11} {next_run_text(report, row['job'])}")


@cli.command()
@click.option("--once", is_flag=True, help="Run every job once in dependency order, then exit")
@click.option("--no-serve", is_flag=True, help="Only run the scheduled jobs; do not serve Datasette")
@click.option("--port", type=int, default=None, help="Datasette port [default 8001]")
@click.option("--public", is_flag=True, default=None,
              help="Serve in public mode (see tracker serve --public)")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"],
                                               case_sensitive=False),
              default="info", show_default=True, help="Log detail on stderr")
@common_options
def run(ctx: Context, once: bool, no_serve: bool, port: int | None, public: bool | None,
        log_level: str):
    """Run the background service: every job on its schedule, and Datasette.

    Jobs that missed their slot while the service was down run once at
    start-up, in dependency order. Stop it with SIGTERM or Ctrl-C: the running
    job finishes its current item and the process exits 0. Only one
    `tracker run` per database at a time.

    \b
    Example:
        tracker run --port 8001
        tracker run --no-serve --log-level debug
        tracker run --once      # for system cron
    """
    from jobs import service

    service.check_schedules(ctx.config)
    service.configure_logging(log_level)
    if public is not None:
        ctx.config.server.public = public
    try:
        if once:
            results = service.run_once(ctx.config)
        else:
            service.run_service(ctx.config, serve=not no_serve, port=port)
            return
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot open database {ctx.config.db_path}: {exc}")
    failed = [name for name, result in results.items() if isinstance(result, Exception)]
    for name, result in results.items():
        if isinstance(result, Exception):
            click.echo(f"{name}: failed: {result}", err=True)
        else:
            click.echo(f"{name}: {result}", err=True)
    if failed:
        raise click.ClickException(f"failed: {', '.join(failed)} (see job_runs)")


@cli.command()
@click.option("--feed", "feed_refs", multiple=True, metavar="URL_OR_ID",
              help="Fetch only this feed, due or not (repeatable)")
@click.option("--force", is_flag=True, help="Fetch every enabled feed, even if not due yet")
@common_options
def refresh(ctx: Context, feed_refs: tuple[str, ...], force: bool):
    """Fetch every feed that is due and store new and changed entries.

    Feeds come from [[feeds]] in the config and from `tracker feeds add`.
    A failing feed is recorded (fetches, errors) and backed off; the
    others still ingest.

    \b
    Example:
        tracker refresh
        tracker refresh --feed https://www.arctictoday.com/feed/
    """
    summary = runner.run_job(ctx.db, ctx.config, "refresh", feeds=list(feed_refs) or None,
                             force=force)
    click.echo(
        f"{summary.feeds} feeds: {summary.ok} fetched, {summary.not_modified} not modified, "
        f"{summary.failed} failed; entries: {summary.new} new, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.duplicates} duplicates"
    )
    for failure in summary.failures:
        click.echo(f"failed: {failure}", err=True)
    if summary.failed and not summary.ok + summary.not_modified:
        raise click.ClickException("no feed could be fetched (see tracker feeds list)")


@cli.group()
def feeds():
    """Add, remove, import, export, list, enable and disable feeds.

    \b
    Example:
        tracker feeds add https://www.highnorthnews.com/en/rss.xml --name "High North News"
    """


@feeds.command("add")
@click.argument("url")
@click.option("--name", default=None,
              help="Display name, also the outlet of its articles [default: the feed's title]")
@click.option("--full-text", is_flag=True,
              help="Fetch each entry's linked page for the article text (summary-only feeds)")
@click.option("--no-check", is_flag=True,
              help="Add without fetching it first (offline); a bad URL shows at the next refresh")
@common_options
def feeds_add(ctx: Context, url: str, name: str | None, full_text: bool, no_check: bool):
    """Add an RSS or Atom feed (http or https URL), after fetching it once.

    What is not a feed is refused, with the reason. Given a web page, the feed it
    links to (<link rel="alternate">) is added; if it links to several, they are
    listed and none is added.

    \b
    Example:
        tracker feeds add https://www.arctictoday.com/feed/ --name "Arctic Today" --full-text
        tracker feeds add https://www.highnorthnews.com/    # finds the page's feed
    """
    from tracker import feeds as subscriptions

    if not no_check:
        checked = subscriptions.check_feed(url, ctx.config.fetch)
        if checked.candidates:
            for link in checked.candidates:
                click.echo(f"  {link.url}  ({link.kind}{': ' + link.title if link.title else ''})")
        if checked.problem:
            raise click.ClickException(f"not added: {checked.problem}")
        if checked.url != url.strip():
            click.echo(f"Found the feed at {checked.url}", err=True)
        url = checked.url
    feed, created = subscriptions.add_feed(ctx.db, url, name, full_text, fetch=ctx.config.fetch)
    click.echo(f"{'Added' if created else 'Already there'}: #{feed.id} {feed.url}")


@feeds.command("remove")
@click.argument("feed_ref", metavar="URL_OR_ID")
@click.option("--keep-articles", "articles", flag_value="keep",
              help="Its articles stay (without a source; their outlet stays)")
@click.option("--delete-articles", "articles", flag_value="delete",
              help="Its articles go too, with their tags and event memberships")
@common_options
def feeds_remove(ctx: Context, feed_ref: str, articles: str | None):
    """Stop following a feed for good. Say what happens to its articles.

    \b
    Example:
        tracker feeds remove 3 --keep-articles
        tracker feeds remove https://example.org/rss --delete-articles
    """
    from tracker import feeds as subscriptions
    from tracker.store import feeds as feed_store

    if articles is None:
        raise click.ClickException("say what happens to its articles: --keep-articles or "
                                   "--delete-articles")
    feed = feed_store.get_feed(ctx.db, feed_ref)
    deleted = subscriptions.remove_feed(ctx.db, feed, delete_articles=articles == "delete")
    kept = "its articles were deleted" if articles == "delete" else "its articles stay"
    click.echo(f"Removed: #{feed.id} {feed.url} ({kept}{f': {deleted}' if deleted else ''})")


@feeds.command("import")
@click.argument("opml_file", type=click.Path(dir_okay=False))
@common_options
def feeds_import(ctx: Context, opml_file: str):
    """Add every feed of an OPML file (folders are flattened).

    \b
    Example:
        tracker feeds import subscriptions.opml
    """
    from tracker import feeds as subscriptions

    result = subscriptions.import_opml(ctx.db, opml_file, ctx.config.fetch)
    click.echo(f"{len(result.added)} added, {len(result.existing)} already there, "
               f"{len(result.invalid)} invalid")
    for url, reason in result.invalid:
        click.echo(f"skipped {url}: {reason}", err=True)


@feeds.command("export")
@click.argument("opml_file", type=click.Path(dir_okay=False, writable=True), required=False,
                callback=output_file)
@common_options
def feeds_export(ctx: Context, opml_file: str | None):
    """Write every feed as OPML 2.0 (to OPML_FILE, or standard output).

    \b
    Example:
        tracker feeds export subscriptions.opml
    """
    from tracker import feeds as subscriptions
    from tracker.sources.opml import export_opml
    from tracker.store import feeds as feed_store

    subscriptions.sync_config_feeds(ctx.db, ctx.config.feeds, ctx.config.fetch)
    text = export_opml(feed_store.list_feeds(ctx.db))
    if opml_file:
        Path(opml_file).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array")
@common_options
def feeds_list(ctx: Context, as_json: bool):
    """List feeds with their health: ok, failing, disabled (and why) or new.

    \b
    Example:
        tracker feeds list
    """
    from tracker import feeds as subscriptions
    from tracker.store import feeds as feed_store

    subscriptions.sync_config_feeds(ctx.db, ctx.config.feeds, ctx.config.fetch)
    rows = feed_store.feed_health(ctx.db)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No feeds. Add one with: tracker feeds add URL")
    for row in rows:
        click.echo(f"#{row['id']:<4} {row['health']:<9} {row['name'] or row['feed_title'] or ''}"
                   f" <{row['url']}>")
        upcoming = ("never (disabled)" if not row["enabled"]
                    else row["next_fetch_at"] or "now")
        click.echo(f"      {row['articles']} articles, last fetched {row['last_fetched_at'] or 'never'}"
                   f", next {upcoming}")
        if row["disabled_reason"]:
            click.echo(f"      disabled: {row['disabled_reason']}")
        elif row["last_error"]:
            click.echo(f"      error ({row['consecutive_failures']} in a row): {row['last_error']}")


@feeds.command("enable")
@click.argument("feed_ref", metavar="URL_OR_ID")
@common_options
def feeds_enable(ctx: Context, feed_ref: str):
    """Enable a feed again, clearing its failures and backoff (fetched next refresh).

    \b
    Example:
        tracker feeds enable 3
    """
    from tracker import feeds as subscriptions
    from tracker.store import feeds as feed_store

    feed = subscriptions.set_enabled(ctx.db, feed_store.get_feed(ctx.db, feed_ref), True)
    click.echo(f"Enabled: #{feed.id} {feed.url}")


@feeds.command("disable")
@click.argument("feed_ref", metavar="URL_OR_ID")
@click.option("--reason", default=None, help="Why (shown in feeds list and Datasette)")
@common_options
def feeds_disable(ctx: Context, feed_ref: str, reason: str | None):
    """Stop fetching a feed; its articles stay.

    \b
    Example:
        tracker feeds disable https://www.arctictoday.com/feed/ --reason "paywalled"
    """
    from tracker import feeds as subscriptions
    from tracker.store import feeds as feed_store

    feed = subscriptions.set_enabled(ctx.db, feed_store.get_feed(ctx.db, feed_ref), False,
                                     reason)
    click.echo(f"Disabled: #{feed.id} {feed.url}")


@cli.command()
@click.option("--rebuild", is_flag=True,
              help="Regroup every article from scratch (event ids are kept where possible)")
@common_options
def events(ctx: Context, rebuild: bool):
    """Group articles that report the same development into events.

    Incremental by default: new articles join or merge existing events.
    Articles tagged unrelated are left out; untagged ones are grouped.

    \b
    Example:
        tracker events            # after tracker ingest (and tagging)
        tracker events --rebuild  # after changing [events] settings
    """
    summary = runner.run_job(ctx.db, ctx.config, "events", rebuild=rebuild)
    click.echo(
        f"{summary.events} events from {summary.articles} articles: {summary.new} articles "
        f"grouped, {summary.removed} removed, {summary.created} events created, "
        f"{summary.deleted} emptied"
        + (" (full rebuild)" if summary.rebuilt else "")
    )


@cli.command()
@click.option("--rebuild", is_flag=True,
              help="Recompute the summary tables and event statistics from the articles")
@common_options
def summaries(ctx: Context, rebuild: bool):
    """Check the summary tables the timeline reads (stance per day, week, outlet,
    event) against the articles; with --rebuild, recompute them.

    The jobs keep them up to date as they write, so a check should always find
    them equal; exits non-zero when it does not.

    \b
    Example:
        tracker summaries            # check (read-only)
        tracker summaries --rebuild  # recompute in one transaction
    """
    from tracker.store import summaries as store

    if rebuild:
        rows = store.rebuild(ctx.db)
        click.echo("Rebuilt: " + ", ".join(f"{table} {n:,}" for table, n in rows.items()))
        return
    result = store.check(ctx.db)
    for table, rows in result.rows.items():
        differ = result.differences.get(table, 0)
        click.echo(f"{table}: {rows:,} rows" + (f", {differ:,} differ from a rebuild" if differ else ""))
    if not result.ok:
        raise click.ClickException("summaries differ from the articles: run tracker summaries --rebuild")
    click.echo("Summaries agree with the articles.")


@cli.command()
@click.option("--all", "retag_all", is_flag=True,
              help="Re-tag every article, not only new or changed ones")
@common_options
def tag(ctx: Context, retag_all: bool):
    """Tag the stance of new and changed articles toward the topic.

    Only articles without a tag, or whose text, model or tagger configuration
    changed, are tagged (identical texts once). An article that fails is
    recorded with the reason; the rest go on.

    \b
    Example:
        tracker tag
        tracker tag --all       # after editing the hypotheses by hand
    """
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="Tagging", file=sys.stderr)
            bar.__enter__()
        bar.update(done)

    try:
        summary = runner.run_job(ctx.db, ctx.config, "tag", retag_all=retag_all,
                                 progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    labels = ", ".join(f"{k}: {v}" for k, v in sorted(summary.labels.items())) or "none"
    click.echo(
        f"{summary.candidates} to tag: {summary.tagged} tagged, {summary.reused} reused, "
        f"{summary.failed} failed ({labels})"
    )
    if summary.failed:
        click.echo("see the errors table (tracker status) for the reasons", err=True)


@cli.command("eval")
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.option("--corrections", is_flag=True,
              help="Score against the stance corrections stored in the database instead of a file")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object")
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, writable=True),
              callback=output_file,
              help="Write each misclassified item (JSON lines: labels, scores, evidence) here")
@common_options
def eval_command(ctx: Context, file: str | None, corrections: bool, as_json: bool,
                 errors_file: str | None):
    """Score the current tagger on labelled texts: macro-F1 with a 95% bootstrap
    interval, accuracy, per-label F1, confusion.

    FILE has one JSON object per line: {"text": ..., "label": ...} with label
    one of the stance labels or "unrelated", and optionally "title" and "id".
    With --corrections, the labelled texts are the articles analysts corrected
    (the latest correction of each), read from the database.

    \b
    Example:
        tracker eval my_labels.jsonl
        tracker eval my_labels.jsonl --errors misses.jsonl
        tracker eval bench/stance_dev.jsonl --json
        tracker eval --corrections
    """
    from tracker.analysis.evaluate import evaluate_examples, evaluate_file, from_corrections

    if bool(file) == corrections:
        raise click.UsageError("give either FILE or --corrections")
    if corrections:
        from tracker.analysis.stance import UNRELATED
        from tracker.store.story import corrected_examples

        examples = from_corrections(corrected_examples(ctx.db),
                                    [*ctx.config.tagger.labels, UNRELATED])
        evaluation = evaluate_examples(examples, ctx.config.tagger)
    else:
        evaluation = evaluate_file(file, ctx.config.tagger)
    if errors_file:
        misses = evaluation.errors()
        Path(errors_file).write_text(
            "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in misses), encoding="utf-8")
        click.echo(f"{len(misses)} misclassified items written to {errors_file}", err=True)
    if as_json:
        click.echo(json.dumps(evaluation.metrics.to_dict(), indent=2))
    else:
        click.echo(evaluation.metrics.table())


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--write", "write_file", type=click.Path(dir_okay=False, writable=True),
              callback=output_file,
              help="Write the configuration with the fitted [calibration] to this TOML file")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="Cross-validation folds for the before/after scores")
@click.option("--weights", "fit_weights", is_flag=True,
              help="Also fit the ensemble weight (needs a few hundred examples)")
@common_options
def calibrate(ctx: Context, file: str, write_file: str | None, folds: int, fit_weights: bool):
    """Fit the tagger's calibration to your own labelled texts.

    Fits the relevance threshold and the per-label biases (with --weights, the
    ensemble weight too; the models are never trained) on FILE (the format of
    tracker eval). Prints the
    cross-validated macro-F1 before (the current configuration) and after (fitted on
    the other folds), then fits on all of FILE; --write saves the current
    configuration with the fitted [calibration], ready for --config.

    \b
    Example:
        tracker calibrate my_labels.jsonl
        tracker calibrate my_labels.jsonl --write tracker.toml
    """
    from tracker.analysis.calibrate import calibrate_file

    result = calibrate_file(file, ctx.config, folds, weights=fit_weights)
    click.echo(f"{result.examples} examples, {folds}-fold cross-validation")
    click.echo(f"before (current calibration): {result.before.summary()}")
    click.echo(f"after (fitted on the other folds): {result.after.summary()}")
    for name, value in result.fitted.items():
        click.echo(f"  {name} = {value}")
    if write_file:
        from tracker.config import config_to_toml

        ctx.config.tagger = result.config.tagger
        header = (f"Written by tracker calibrate from {file}: the configuration of "
                  f"{ctx.config.source_file or 'the built-in defaults'} with a fitted "
                  f"[calibration]\n(cross-validated macro-F1 {result.before.mean:.3f} before, "
                  f"{result.after.mean:.3f} after).")
        Path(write_file).write_text(config_to_toml(ctx.config, header), encoding="utf-8")
        click.echo(f"Written: {write_file} (use it with --config {write_file})")


def main() -> None:  # pragma: no cover - console entry point
    cli(prog_name="tracker")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

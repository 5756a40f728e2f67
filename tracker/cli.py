"""The ``tracker`` command: a thin layer over the importable core.

Every command takes ``--db PATH`` (else ``$TRACKER_DB``, else ``db/tracker.db``)
and ``--config PATH`` (else ``$TRACKER_CONFIG``, else ``./tracker.toml``).
User mistakes become one-line errors (click.ClickException), not tracebacks.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from pathlib import Path

import click

from tracker.config import Config, ConfigError, load_config


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


def common_options(command):
    """``--db`` and ``--config`` on every command; passes a :class:`Context` first."""

    @click.option("--db", "db_path", type=click.Path(dir_okay=False), envvar="TRACKER_DB",
                  help="SQLite database file [env TRACKER_DB; default db/tracker.db]")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False),
                  envvar="TRACKER_CONFIG",
                  help="TOML config file [env TRACKER_CONFIG; default ./tracker.toml if present]")
    @functools.wraps(command)
    def wrapper(db_path, config_path, **kwargs):
        try:
            config = load_config(config_path, db_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc))
        return command(Context(config), **kwargs)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

    A file that cannot be read or parsed is recorded in ingest_errors and the
    rest still ingest; exits non-zero only when nothing could be ingested.

    \b
    Example:
        tracker ingest seeds/ more/article.txt
    """
    from jobs.runner import run_job

    summary = run_job(ctx.db, ctx.config, "ingest", paths=list(paths) or None)
    click.echo(
        f"{summary.files} files: {summary.new} new, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.failed} failed"
    )
    for missing in summary.missing_paths:
        click.echo(f"not found: {missing}", err=True)
    if summary.failed:
        click.echo("see the ingest_errors table (tracker status) for the reasons", err=True)
    if summary.did_nothing:
        raise click.ClickException("nothing could be ingested")


@cli.command()
@click.option("--host", default=None, help="Interface to listen on [default 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port [default 8001]")
@click.option("--metadata", type=click.Path(dir_okay=False), default=None,
              help="Datasette metadata file [default metadata.yml]")
@common_options
def serve(ctx: Context, host: str | None, port: int | None, metadata: str | None):
    """Serve the database with Datasette (read-write file, not immutable).

    \b
    Example:
        tracker serve --port 8001
    """
    from tracker.serve import serve as serve_datasette

    ctx.db  # create and migrate before serving
    host = host or ctx.config.server.host
    port = port or ctx.config.server.port
    click.echo(f"Serving {ctx.config.db_path} on http://{host}:{port}/", err=True)
    serve_datasette(ctx.config.db_path, host, port, metadata or ctx.config.server.metadata)


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
    from dataclasses import asdict

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
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"],
                                               case_sensitive=False),
              default="info", show_default=True, help="Log detail on stderr")
@common_options
def run(ctx: Context, once: bool, no_serve: bool, port: int | None, log_level: str):
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
    from jobs.runner import JOBS
    from jobs.service import ServiceError, check_schedules, configure_logging, run_once, run_service
    from tracker.lock import LockError

    try:
        check_schedules(ctx.config, list(JOBS))
    except ServiceError as exc:
        raise click.ClickException(str(exc))
    configure_logging(log_level)
    try:
        if once:
            results = run_once(ctx.config)
        else:
            run_service(ctx.config, serve=not no_serve, port=port)
            return
    except (ServiceError, LockError) as exc:
        raise click.ClickException(str(exc))
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


def main() -> None:  # pragma: no cover - console entry point
    cli(prog_name="tracker")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

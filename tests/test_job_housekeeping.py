import datetime as dt

from jobs.ingest import run_ingest
from jobs.runner import run_job
from tracker.config import HousekeepingConfig
from tracker.timeutil import to_iso, utc_now


def days_ago(days: float) -> str:
    return to_iso(utc_now() - dt.timedelta(days=days))


def test_housekeeping_prunes_old_rows_and_keeps_the_index_working(db, config):
    run_ingest(db, config)
    source = db["sources"].insert({"kind": "feed", "location": "http://127.0.0.1/feed"}).last_pk
    for age in (200, 100, 10, 1):
        db["fetches"].insert({"source_id": source, "started_at": days_ago(age), "outcome": "ok"})
    # ingest: three old runs and a recent one; events: only an old run, which stays
    # (the latest run of a job is never deleted); an old run still 'running' stays too.
    for job, age, status in [("ingest", 300, "ok"), ("ingest", 200, "error"),
                             ("ingest", 120, "ok"), ("ingest", 1, "ok"),
                             ("events", 400, "ok"), ("tag", 500, "running"), ("tag", 2, "ok")]:
        db["job_runs"].insert({"job": job, "trigger": "schedule", "status": status,
                               "started_at": days_ago(age), "finished_at": days_ago(age)})
    config.housekeeping = HousekeepingConfig(keep_fetches_days=30, keep_job_runs_days=90)

    summary = run_job(db, config, "housekeeping")

    assert (summary.fetches_deleted, summary.job_runs_deleted) == (2, 3)
    # Every full-text index once (other jobs may add their own, e.g. events_fts).
    assert "articles_fts" in summary.fts_optimized
    assert len(set(summary.fts_optimized)) == len(summary.fts_optimized)
    assert summary.wal_checkpoint_busy == 0
    kept = {(r["job"], r["status"]) for r in db.query(
        "select job, status from job_runs where trigger = 'schedule'")}
    assert kept == {("ingest", "ok"), ("events", "ok"), ("tag", "running"), ("tag", "ok")}
    assert db.execute("select count(*) from fetches").fetchone()[0] == 2
    # The merged full-text index still finds what it found before.
    assert len(list(db["articles"].search("Dmitriev"))) == 4
    run = next(db.query("select status, counts from job_runs where job = 'housekeeping'"))
    assert run["status"] == "ok" and '"job_runs_deleted": 3' in run["counts"]

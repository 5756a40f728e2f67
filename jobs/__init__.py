"""Scheduled jobs. Each is ``run_x(db, config) -> Summary``: the scheduler, the
CLI and the tests call them the same way; the scheduler only decides when."""

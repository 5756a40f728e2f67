"""Arctic stance tracker: ingest news, tag its stance, group it into events, publish with Datasette."""

__version__ = "0.1.0"

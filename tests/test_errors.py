"""tracker.errors: one root, one-line descriptions without the machine's paths."""

from tracker.errors import ConfigError, Stage, TrackerError, describe, shorten_paths


def test_every_user_error_has_one_root_and_one_line():
    assert issubclass(ConfigError, TrackerError)
    assert describe(ConfigError("[fetch] max_bytes must be ...")) == "[fetch] max_bytes must be ..."
    assert describe(ValueError("bad\nsecond line")) == "ValueError: bad"
    assert describe(KeyError()) == "KeyError"
    assert str(Stage.TAG) == "tag" and Stage("fulltext") is Stage.FULLTEXT


def test_paths_are_shortened_but_urls_are_not():
    error = FileNotFoundError(2, "No such file or directory", "/opt/tracker/seeds/sub/a.txt")
    assert describe(error) == "FileNotFoundError: [Errno 2] No such file or directory: '…/sub/a.txt'"
    assert shorten_paths("GET https://news.example.org/a/b/c failed") == \
        "GET https://news.example.org/a/b/c failed"
    assert shorten_paths("in /var/lib/tracker/db/tracker.db") == "in …/db/tracker.db"
    assert shorten_paths("/tmp/x") == "/tmp/x"

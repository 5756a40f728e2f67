"""The tracker's errors: one root, one way to describe a failure, named stages.

Every error a user can cause or meet (a bad config, an unreachable model, a
feed that is not a feed) is a :class:`TrackerError` whose message is one line
that says what and why. The CLI turns any of them into a one-line message in
one place (``tracker.cli``); jobs record them per input in the ``errors``
table with a :class:`Stage`. Importable without torch or any other heavy
dependency.
"""

from __future__ import annotations

import enum
import os
import re


class TrackerError(Exception):
    """Something the user can act on; ``str(exc)`` is a one-line reason."""


class ConfigError(TrackerError):
    """The configuration file is missing, unreadable or has a bad value."""


class ModelError(TrackerError):
    """A model could not be found or loaded; the message says which and why."""


class InvalidURL(TrackerError, ValueError):
    """A feed or page URL that may not be fetched (scheme, credentials, address)."""


class FeedNotFound(TrackerError, LookupError):
    """No feed with that URL or id."""


class OPMLError(TrackerError, ValueError):
    """The OPML file cannot be read or is not OPML."""


class FeedParseError(TrackerError, ValueError):
    """The bytes are not an RSS/Atom feed."""


class TextFileError(TrackerError, ValueError):
    """A text file that cannot be turned into an article."""


class EvalFileError(TrackerError, ValueError):
    """A labelled file is missing or a line is not a usable example."""


class LockError(TrackerError):
    """Another process holds the lock."""


class ServiceError(TrackerError):
    """The service cannot start: a bad schedule, the port in use, Datasette failing."""


class Stage(str, enum.Enum):
    """Where an input failed; the ``stage`` column of the ``errors`` table."""

    READ = "read"  # a file or folder could not be read
    PARSE = "parse"  # a file or feed document is not what it should be
    FETCH = "fetch"  # a feed could not be fetched
    FULLTEXT = "fulltext"  # a linked page of a full_text feed could not be fetched
    STORE = "store"  # the database refused a write
    CONFIG = "config"  # a configured input is invalid (e.g. a feed URL)
    TAG = "tag"  # an article could not be tagged

    def __str__(self) -> str:
        return self.value


# An absolute file path inside a message (not the path part of a URL: that
# follows a host name, never a space, a quote or the start of the text).
_ABSOLUTE_PATH = re.compile(r"""(?:(?<=^)|(?<=[\s'"(=]))/(?:[^\s/'"()]+/)+[^\s/'"()]+""")


def shorten_paths(text: str) -> str:
    """The home folder as ``~``, other absolute paths by their last two parts:
    error columns are published, the machine's layout is not."""
    home = os.path.expanduser("~")
    if home and home != "/":
        text = text.replace(home + "/", "~/")

    def short(match: re.Match) -> str:
        parts = match.group(0).split("/")
        return match.group(0) if len(parts) <= 3 else "…/" + "/".join(parts[-2:])

    return _ABSOLUTE_PATH.sub(short, text)


def describe(exc: BaseException) -> str:
    """One line for the error tables and logs: ``Type: first line of the message``.

    A :class:`TrackerError` is already written for users and keeps its text
    alone. Absolute paths of this machine are shortened (:func:`shorten_paths`;
    the full detail goes to the log, not to a published table).
    """
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if isinstance(exc, TrackerError):
        text = message or type(exc).__name__
    else:
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return shorten_paths(text)

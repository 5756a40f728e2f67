"""The project's own Datasette plugin: hooks registered by :func:`tracker.publish.build_datasette`.

* Every mode: a POST to a read-only canned query is answered ``405`` (Datasette
  0.65 answers it with a 500 and a traceback in the log).
* Public mode (``tracker serve --public``, ``[server] public = true``): the
  introspection pages that reveal paths, versions and settings answer ``404``.
* The story, event and article pages (:mod:`tracker.publish.pages`), and table
  cells that link to them (:mod:`tracker.publish.cells`).
* The ``summary`` facet type, counted from the summary tables
  (:mod:`tracker.publish.facets`). The bounded search box
  (:mod:`tracker.publish.search`) is registered beside this module.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from datasette import hookimpl

# Hooks of this plugin that live in their own modules.
from tracker.publish.cells import extra_body_script, render_cell  # noqa: F401
from tracker.publish.facets import register_facet_classes  # noqa: F401
from tracker.publish.pages import register_routes  # noqa: F401

# Pages a public site does not show: the database file's path, versions, settings...
PRIVATE_PAGES = ("/-/databases", "/-/versions", "/-/plugins", "/-/settings", "/-/config",
                 "/-/metadata", "/-/threads", "/-/actor", "/-/messages", "/-/allow-debug",
                 "/-/permissions")


async def _send_plain(send, status: int, text: str) -> None:
    body = json.dumps({"ok": False, "error": text, "status": status}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _read_only_query(datasette, path: str) -> bool:
    """Whether ``path`` is ``/<database>/<canned query>`` of a query that does not write."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if len(parts) != 2:
        return False
    database, name = parts[0], parts[1].removesuffix(".json")
    queries = (datasette.metadata("queries", database=database, fallback=False) or {})
    query = queries.get(name)
    return isinstance(query, (dict, str)) and not (isinstance(query, dict) and query.get("write"))


@hookimpl
def asgi_wrapper(datasette):
    public = bool(datasette.plugin_config("tracker") and
                  datasette.plugin_config("tracker").get("public"))

    def wrap(app):
        async def guarded(scope, receive, send):
            if scope.get("type") == "http":
                path = scope.get("path", "")
                if public and any(path == p or path.startswith(p + ".") or path.startswith(p + "/")
                                  for p in PRIVATE_PAGES):
                    await _send_plain(send, 404, "Not found")
                    return
                if scope.get("method") == "POST" and _read_only_query(datasette, path):
                    await _send_plain(send, 405, "Method not allowed: this query only reads")
                    return
            await app(scope, receive, send)
        return guarded

    return wrap

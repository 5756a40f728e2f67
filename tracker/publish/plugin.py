"""The project's own Datasette plugin: hooks registered by :func:`tracker.publish.build_datasette`.

* Every mode: a POST to a read-only canned query is answered ``405`` (Datasette
  0.65 answers it with a 500 and a traceback in the log).
* Every mode: an error page is Datasette's own, but the log gets one line for an
  error raised on purpose and one line with a plain traceback for a crash, not
  Datasette's rich traceback with every local variable (the request and its
  headers among them), ~240 lines for each mistyped URL. A public site shows a
  server error's status, not its message.
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
import logging
from urllib.parse import unquote

from datasette import Response, hookimpl
from datasette.utils import add_cors_headers
from datasette.utils.asgi import Base400
from datasette.views.base import DatasetteError
from markupsafe import Markup

from tracker.errors import describe

# Hooks of this plugin that live in their own modules.
from tracker.publish.cells import extra_body_script, render_cell  # noqa: F401
from tracker.publish.facets import register_facet_classes  # noqa: F401
from tracker.publish.pages import register_routes  # noqa: F401

log = logging.getLogger("tracker.publish")

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


def _public(datasette) -> bool:
    return bool((datasette.plugin_config("tracker") or {}).get("public"))


@hookimpl
def handle_exception(datasette, request, exception):
    """Datasette's error page and JSON, logged in one line for an error raised on
    purpose (any status) and with a traceback without locals for a crash; a public
    site's 500 keeps its message to the log. Datasette 0.65's own handler, which awaits
    every plugin's and prints its rich traceback regardless, is unregistered
    (tracker.publish._register_plugin)."""

    async def inner():
        title, info = None, {}
        if isinstance(exception, Base400):
            status, message = exception.status, exception.args[0] if exception.args else ""
        elif isinstance(exception, DatasetteError):
            status, info, message = exception.status, dict(exception.error_dict), exception.message
            title = exception.title
            if exception.message_is_html:
                message = Markup(message)
        else:
            status, message = 500, str(exception)
        where = f"{request.method} {request.path}: {status} {describe(exception)}"
        if isinstance(exception, (Base400, DatasetteError)):
            # Raised on purpose with a message (a bad parameter, often one Datasette
            # answers with 500): one line.
            log.log(logging.WARNING if status >= 500 else logging.INFO, "%s", where)
        else:
            log.error("%s", where, exc_info=(type(exception), exception, exception.__traceback__))
        if status >= 500 and _public(datasette):
            info, message, title = {}, "Internal error: the server's log has the details", None
        info.update({"ok": False, "error": message, "status": status, "title": title})
        headers: dict[str, str] = {}
        if datasette.cors:
            add_cors_headers(headers)
        if request.path.endswith(".json"):
            return Response.json(info, status=status, headers=headers)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        return Response.html(await template.render_async(dict(
            info, urls=datasette.urls, app_css_hash=datasette.app_css_hash(),
            menu_links=lambda: [])), status=status, headers=headers)

    return inner

"""OPML subscription lists: reading feed outlines and writing them. No I/O."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Iterable

from tracker.domain import Feed
from tracker.errors import OPMLError


def read_opml(content: bytes) -> list[tuple[str, str | None]]:
    """``(xmlUrl, title)`` of every feed outline, at any depth (folders are flattened)."""
    try:
        # ElementTree does not fetch external entities; expat limits entity expansion.
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise OPMLError(f"not well-formed XML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise OPMLError(f"not OPML: the root element is <{root.tag}>")
    found = []
    for outline in root.iter("outline"):
        attributes = {k.lower(): v for k, v in outline.attrib.items()}
        url = attributes.get("xmlurl")
        if url:
            found.append((url.strip(), attributes.get("title") or attributes.get("text")))
    return found


def export_opml(feeds: Iterable[Feed], title: str = "Arctic stance tracker feeds") -> str:
    """OPML 2.0 with one outline per feed (disabled feeds included, marked)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = dt.datetime.now(dt.timezone.utc).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attributes = {"type": "rss", "text": feed.label, "title": feed.label, "xmlUrl": feed.url}
        if not feed.enabled:
            attributes["isDisabled"] = "true"  # not standard OPML; ignored by other readers
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

"""Article text from a linked web page, for feeds that carry only summaries.

Extraction is trafilatura's (main-content detection, boilerplate removal);
fetching is :mod:`tracker.fetch`'s, with the same politeness rules as feeds.
"""

from __future__ import annotations

import trafilatura


def extract_page_text(content: bytes, url: str | None = None) -> str | None:
    """The main text of an HTML page, or None when no article text is found.

    trafilatura detects the page's encoding from the bytes (meta charset,
    then detection), so undeclared encodings are handled.
    """
    if not content:
        return None
    text = trafilatura.extract(content, url=url, include_comments=False, include_tables=False,
                               favor_precision=True)
    return text.strip() or None if text else None

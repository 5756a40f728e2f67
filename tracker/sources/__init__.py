"""Where articles come from: fetching (network only), and turning bytes into articles.

* :mod:`.urls`      -- which URLs may be fetched
* :mod:`.fetch`     -- polite HTTP for feeds and linked pages (no storage)
* :mod:`.feedparse` -- feed bytes -> articles (pure)
* :mod:`.fulltext`  -- a web page -> its article text (pure)
* :mod:`.textfiles` -- a text file -> an article
* :mod:`.files`     -- finding input files in folders
* :mod:`.opml`      -- subscription lists
"""

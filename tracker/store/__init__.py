"""The store layer: every SQL statement on the tracker's tables lives here.

One module per family of tables (the schema itself is in ``db/``):

* :mod:`.articles`    -- ``articles`` (and the ``sources`` rows of text folders)
* :mod:`.feeds`       -- ``sources`` of kind feed, ``fetches``
* :mod:`.stance_tags` -- ``stance_tags`` and the stance copied onto ``articles``
* :mod:`.events`      -- ``events``, ``event_articles``, ``article_embeddings``, ``event_settings``
* :mod:`.runs`        -- ``job_runs``, ``schedule``, ``service_state``
* :mod:`.errors`      -- ``errors``: inputs that failed, with the reason
* :mod:`.maintenance` -- FTS merges, WAL checkpoints, counts for ``tracker status``

Jobs read through it, compute with pure code (:mod:`tracker.analysis`,
:mod:`tracker.sources`) and write through it; nothing above this layer
writes SQL.
"""

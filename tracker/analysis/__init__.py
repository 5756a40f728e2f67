"""Pure computation on articles: the model runtime, passages, stance, events, evaluation.

Nothing here touches the database or the network: jobs read through
:mod:`tracker.store`, call these, and write the results back through the store.
"""

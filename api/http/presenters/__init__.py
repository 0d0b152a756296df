"""Presenters: domain objects and view rows turned into the HTTP answers' models and JSON text.

The per-resource models themselves live in ``api.http.schemas``; what turns a single
aggregate or event into one of them (``summary_of``, ``entry_of``) stays beside its model.
"""

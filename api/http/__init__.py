"""The HTTP room: the FastAPI app, its routes, schemas, problems and observability.

Routes turn requests into calls on the ledger (``domain``), the views (``projections``) and
the use cases shared with the command line (``api.services``); nothing below this room
knows it is being served over HTTP.
"""

"""The HTTP room: the FastAPI app, its routes, schemas, problems and observability.

Routes turn requests into calls on the ledger (``domain``), the views (``projections``) and
the use cases shared with the command line (``api.services``); nothing below this room
knows it is being served over HTTP. Routes are independent of each other (a contract checks):
what two share lives beside them: ``deps`` (dependencies, the views' wait), ``reads`` (what a
read of the views answers), ``presenters`` (views and aggregates into answers), ``paging``,
``conditional`` (ETag, If-Match), ``notes`` (the signed checkpoint) and ``responses``.
"""

"""What a read of the views answers, apart from any route: the routes and ``page.json`` share it.

Each read takes the views its route got fresh (``Services.fresh_views``) and the request's
time travel; it raises the domain's errors, which the problem handlers answer.
"""

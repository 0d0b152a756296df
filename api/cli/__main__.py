"""``python -m api.cli``: the same ``parley`` command, every group registered."""

from api.cli import app

app(prog_name="parley")

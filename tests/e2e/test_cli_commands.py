"""``parley`` and ``python -m api.cli`` are one command: the same commands, all registered."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import typer

from api.cli import app

# A command's row in the help's Commands panel: "│ name   its help…" (continuations indent).
COMMAND_ROW = re.compile(r"^│ (?P<name>[a-z][a-z-]*)\s{2}")


def listed(*argv: str) -> set[str]:
    """The command names a ``--help`` lists."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    result = subprocess.run(
        [*argv, "--help"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    panel = result.stdout.split("Commands", 1)[1]
    return {m["name"] for line in panel.splitlines() if (m := COMMAND_ROW.match(line))}


def test_python_m_and_the_console_script_list_every_registered_command() -> None:
    registered = set(typer.main.get_group(app).commands)
    assert {"serve", "load", "rebuild", "keys", "verify", "import", "chart"} <= registered

    console_script = Path(sys.executable).with_name("parley")
    assert listed(str(console_script)) == registered
    assert listed(sys.executable, "-m", "api.cli") == registered

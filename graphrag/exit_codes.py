"""Exit codes of the `graphrag` commands, for scripts, cron and CI (README: "Exit codes")."""

from __future__ import annotations

OK = 0
ERROR = 1  # the command could not run: configuration, a locked workspace, a store or model down
USAGE = 2  # an argument error: a path that does not exist, an unknown document, a bad option
PARTIAL = 3  # it ran, but some documents failed (see the report); --allow-partial makes this 0

"""Ingestion on a schedule: serves the ingest flow as a deployment from this process.

    python -m flows.schedule SOURCE... --cron "*/15 * * * *" [--workspace DIR] [--prune] [--max-tokens N]
    python -m flows.schedule SOURCE... --interval 900

The process registers the deployment with the Prefect server named by PREFECT_API_URL
(schedules only fire against a server: `prefect server start`) and runs each scheduled
run in a subprocess, one at a time, until it is stopped (Ctrl-C or SIGTERM, as sent by
Docker and systemd; the schedule is then paused). To run on a work pool with workers instead, see prefect.yaml.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphrag.errors import ConfigError, GraphRAGError
from graphrag.settings import Settings


def deployment_parameters(
    sources: Sequence[str],
    *,
    workspace: str | Path | None = None,
    prune: bool = False,
    max_tokens: int | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Flow parameters with absolute paths: scheduled runs may start in another directory."""
    if not sources:
        raise ConfigError("give at least one source: a folder, a file or a glob")
    resolved = Path(workspace) if workspace is not None else Settings().workspace
    params: dict[str, Any] = {
        "source": [os.path.abspath(os.path.expanduser(str(s))) for s in sources],
        "workspace": str(resolved.expanduser().resolve()),
        "prune": prune,
    }
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if settings:
        params["settings"] = settings
    return params


def deployment_name(workspace: str) -> str:
    return "ingest-" + (re.sub(r"[^a-z0-9]+", "-", Path(workspace).name.lower()).strip("-") or "default")


def serve_ingest(
    sources: Sequence[str],
    *,
    cron: str | None = None,
    interval: float | None = None,
    workspace: str | Path | None = None,
    prune: bool = False,
    max_tokens: int | None = None,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
) -> None:
    """Serves the ingest flow with a cron or interval schedule; blocks until interrupted."""
    if (cron is None) == (interval is None):
        raise ConfigError("give exactly one schedule: --cron \"*/15 * * * *\" or --interval SECONDS")
    if interval is not None and interval <= 0:
        raise ConfigError(f"--interval must be a positive number of seconds, got {interval:g}")
    params = deployment_parameters(sources, workspace=workspace, prune=prune, max_tokens=max_tokens, settings=settings)

    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ConfigError(
            "schedules need a Prefect server: start one with `prefect server start`, then "
            "`export PREFECT_API_URL=http://127.0.0.1:4200/api` (or `prefect config set PREFECT_API_URL=...`)"
        )
    from flows.ingest import ingest

    name = name or deployment_name(params["workspace"])
    runner = _runner(name)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_ctrl_c)  # until the runner installs its own
    deployment_id = None
    try:
        deployment_id = runner.add_flow(
            ingest,
            name=name,
            cron=cron,
            interval=interval,
            parameters=params,
            description=f"graphrag ingestion of {', '.join(params['source'])} into {params['workspace']}",
            tags=["graphrag"],
        )
        print(f"serving deployment '{ingest.name}/{name}' "
              f"({'cron ' + cron if cron else f'every {interval:g} s'}); Ctrl-C or SIGTERM pauses it and stops",
              file=sys.stderr, flush=True)
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        if deployment_id is not None:
            asyncio.run(_pause(deployment_id))  # in case the runner stopped before it started
        print(f"stopped; the schedule of '{name}' is paused (resume: prefect deployment resume "
              f"'{ingest.name}/{name}')", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sigterm_as_ctrl_c(signum: int, frame: Any) -> None:
    # asyncio turns SIGINT into a cancellation of the main task (outside a loop, into
    # KeyboardInterrupt), so shutdown runs the runner's exit (pause, clean-up) as on Ctrl-C.
    signal.raise_signal(signal.SIGINT)


async def _pause(deployment_id: Any) -> None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        await client.pause_deployment(deployment_id)


def _runner(name: str) -> Any:
    """A Prefect runner that treats SIGTERM (what Docker, systemd and Kubernetes send) like
    Ctrl-C: its runs stop and the schedule is paused. Prefect's own SIGTERM handler exits
    without pausing, which leaves a schedule firing with nobody serving it."""
    from prefect.runner import Runner

    class _Runner(Runner):
        def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
            _sigterm_as_ctrl_c(signal.SIGTERM, None)

    # limit=1: runs of this deployment never overlap; the workspace lock guards the rest.
    return _Runner(name=name, pause_on_shutdown=True, limit=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.schedule", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="+", help="folders, files or globs to ingest")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='a cron expression, e.g. "*/15 * * * *"')
    when.add_argument("--interval", type=float, metavar="SECONDS", help="seconds between runs")
    parser.add_argument("--workspace", "-w", help="workspace directory (default ./.graphrag or GRAPHRAG_WORKSPACE)")
    parser.add_argument("--prune", action="store_true", help="remove indexed documents whose files are gone")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="token budget of each run")
    parser.add_argument("--name", help="deployment name (default ingest-<workspace folder>)")
    args = parser.parse_args(argv)
    try:
        serve_ingest(
            args.source, cron=args.cron, interval=args.interval, workspace=args.workspace,
            prune=args.prune, max_tokens=args.max_tokens, name=args.name,
        )
    except (GraphRAGError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

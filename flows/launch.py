"""The `touchless` command's entry point: a command that runs a flow starts Prefect's temporary server first.

The CLI's own imports (torch, spaCy, pandas, the flows) take ~3 s before a flow can start, and the temporary
server takes several seconds to answer; launched here, before those imports, it gets ready beside them (see
`flows.server.launch_early`). Every other command starts no server.
"""

from __future__ import annotations

import sys

FLOW_COMMANDS = {"discover", "assign", "evaluate", "demo"}  # the commands that call `flows.cli._run`


def main() -> None:
    try:
        cli = _started(sys.argv[1:])
    except KeyboardInterrupt:  # Ctrl-C in the seconds before the command's own handling of it is in place
        sys.stderr.write("error: aborted\n")
        sys.exit(130)
    cli()


def _started(args: list[str]):
    """The command's entry, imported (torch, spaCy, Prefect: seconds), after the early server where one is wanted."""
    if args and args[0] in FLOW_COMMANDS and not {"--help", "-h"} & set(args):
        from flows.server import launch_early

        try:
            launch_early(verbose=bool({"--verbose", "-v"} & set(args)))
        except Exception:  # noqa: BLE001  (a bad Prefect setting: the command meets it again and says so in one line)
            pass
    from flows.cli import main as cli

    return cli

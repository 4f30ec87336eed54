"""Prefect settings that must be in place before Prefect is imported.

With no server configured, Prefect runs flows against a temporary local server (its ephemeral mode). Its home
(database, logs, results) goes under the user's touchless cache, never into the working directory. A data team
that sets PREFECT_HOME or PREFECT_API_URL itself keeps its own settings. A server saved in a Prefect profile
(`prefect config set`, kept in ~/.prefect/profiles.toml) is not read: the profiles live in the home this moves, and
reading them here would also take a profile's other settings (one without a server turns the temporary server off).
"""

from __future__ import annotations

import os
from pathlib import Path

import pipeline  # noqa: F401  (switches the model hubs off first)
from pipeline.runtime import cache_home


def configure_prefect() -> None:
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    home = Path(os.environ.setdefault("PREFECT_HOME", str(cache_home() / "prefect"))).expanduser()
    home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last level itself
    # the first start of the temporary server migrates a new database; slow disks need more than the default 20 s
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

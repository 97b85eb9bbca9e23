"""Prefect tasks, only where a task earns its decorator (retries, concurrency); flows call emoscore directly.

Importing this package sets project-local Prefect defaults before Prefect itself is imported: a git-ignored
PREFECT_HOME in the project, a generous ephemeral-server start-up timeout, and emoscore's logs in Prefect's.
"""

import os
from pathlib import Path

_PROJECT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PREFECT_HOME", str(_PROJECT / ".prefect"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "240")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "emoscore")
os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")

"""Prefect flows: one per DVC stage plus the scheduled scoring flow. Composition only; the work is in emoscore."""

import emoscore_tasks  # noqa: F401  (sets project-local Prefect defaults before Prefect is imported)

"""Prefect flows over the pipeline steps. Importing this package keeps Prefect local and quiet."""

from flows.settings import configure_prefect

configure_prefect()

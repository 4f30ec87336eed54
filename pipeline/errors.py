"""touchless's own errors: each message tells a person what is wrong, where, and what to do."""

from __future__ import annotations


class TouchlessError(Exception):
    """Base of every error touchless raises on purpose; the CLI prints these without a traceback."""


class InputError(TouchlessError):
    """An input file cannot be used as it is. Names the file, and the row and column where known."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.row = row
        self.column = column
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = (", ".join(where) + ": " if where else "") + self.problem
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


class ConfigError(TouchlessError):
    """A config file or option is wrong: unknown key, bad value, missing file."""


class OutputError(TouchlessError):
    """An output folder cannot be written safely (locked by another run, or not touchless's)."""


class ModelError(TouchlessError):
    """A model cannot be loaded offline, or a saved run model does not fit the data."""


class TaxonomyError(TouchlessError):
    """The taxonomy file, or the decisions kept beside it, cannot be used as they are."""


class QueryError(TouchlessError):
    """A person's SQL over a run's tables is empty or fails."""

"""What reading an export found and set aside: counted and shown to the user, kept in the run's manifest.

Row numbers count data rows from 1, the header not included; a message lists a few rows, then "and N more".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.errors import InputError

SHOWN = 5  # how many offending rows a message lists before "and N more"


@dataclass
class InputReport:
    """What was read and what was set aside, for the run summary."""

    file: str
    kind: str = "contacts"
    text_column: str = "text"  # the input column the text was read from
    rows: int = 0
    conversations: int | None = None
    empty_text: int = 0
    no_reason: int = 0
    other_language: int = 0
    truncated: int = 0
    duplicates_dropped: int = 0
    already_known: int = 0  # contacts an earlier run holds with the same text: not prepared again (assign)
    changed: int = 0  # contacts an earlier run holds whose text or details changed since: read again (assign)
    details_changed: int = 0  # of them, those whose words are the same: they keep their cluster (assign)
    continued: int = 0  # conversations an earlier run holds that this export continues: messages added (assign)
    redacted: dict[str, int] = field(default_factory=dict)
    optional_columns: list[str] = field(default_factory=list)  # optional fields found, with values
    # day-first | month-first per date field whose values told (created_at, sent_at): `assign` reads its files so
    date_orders: dict[str, str] = field(default_factory=dict)
    columns: str = ""  # which input column each field was read from, what was not found and what that turns off
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def list_rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:SHOWN])
    return shown + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")


def rows_error(what: str, rows: list[int], file: str | Path, column: str | None) -> InputError:
    """The error for rows of a file that lack something: how many, which, and the first as the place to look."""
    return InputError(f"{len(rows)} {what}: rows {list_rows(rows)}", file=str(file), row=rows[0], column=column)

"""Property: whatever personal data the contacts hold, no output of a run holds it (Parquet, DuckDB, JSON)."""

from __future__ import annotations

import json
import re

import duckdb
import pandas as pd
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.text.redact import luhn_ok
from tests.redaction_corpus import luhn_complete

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
FILLER = [
    "my card",
    "was charged twice",
    "refund please",
    "the app crashes",
    "delivery is late",
    "I need help",
    "cancel my subscription",
    "top up failed",
    "wrong exchange rate",
    "PIN blocked",
]


@st.composite
def phones(draw) -> str:
    """International or national numbers of 9 to 14 digits, grouped in the usual ways."""
    groups = draw(st.lists(st.text("0123456789", min_size=2, max_size=4), min_size=3, max_size=4))
    sep = draw(st.sampled_from([" ", "-", ".", ""]))
    prefix = draw(st.sampled_from(["+44 ", "+1 ", "+49 ", "+33 ", "+91 ", "0", "(0) "]))
    number = prefix + sep.join(groups)
    digits = re.sub(r"\D", "", number)
    return number if 9 <= len(digits) <= 14 else "+44 20 7946 0958"


@st.composite
def cards(draw) -> str:
    import random

    number = luhn_complete(
        draw(st.sampled_from(["4", "51", "37", "6011"])), 16, random.Random(draw(st.integers(0, 10**6)))
    )
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


@st.composite
def contacts(draw) -> list[tuple[str, list[str]]]:
    rows = []
    for _ in range(draw(st.integers(12, 20))):
        secrets = draw(st.lists(st.one_of(st.emails(), phones(), cards()), max_size=2))
        words = draw(st.lists(st.sampled_from(FILLER), min_size=1, max_size=3))
        parts = words + [f"contact {s}" for s in secrets]
        rows.append((" ".join(draw(st.permutations(parts))), secrets))
    rows[0][1].append(draw(st.one_of(st.emails(), phones(), cards())))  # every example holds personal data
    rows[0] = (f"{rows[0][0]} contact {rows[0][1][-1]}", rows[0][1])
    return rows


def output_strings(out) -> tuple[list[str], list[str]]:
    """(text cells, JSON files) a run wrote: string cells of every Parquet file and DuckDB table, and run.json."""
    cells, files = [], []
    for path in out.rglob("*"):
        if path.suffix == ".parquet":
            for column in pq.read_table(path).to_pydict().values():
                cells += [v if isinstance(v, str) else json.dumps(v) for v in column if isinstance(v, (str, list))]
        elif path.suffix == ".json":
            files.append(path.read_text())
    with duckdb.connect(str(out / "touchless.duckdb"), read_only=True) as db:
        text_columns = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE data_type LIKE 'VARCHAR%'"
        ).fetchall()
        for table, column in text_columns:
            found = db.execute(f'SELECT "{column}" FROM "{table}"').fetchall()
            cells += [v if isinstance(v, str) else json.dumps(v) for (v,) in found if v]
    return cells, files


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=contacts())
def test_no_output_holds_an_email_phone_or_card(rows, tmp_path_factory, test_config):
    from flows.discover import discover

    folder = tmp_path_factory.mktemp("pii")
    frame = pd.DataFrame({"contact_id": [f"c{i}" for i in range(len(rows))], "text": [text for text, _ in rows]})
    frame.to_csv(folder / "contacts.csv", index=False)
    discover(input_path=str(folder / "contacts.csv"), out_dir=str(folder / "out"), config_path=str(test_config))
    cells, files = output_strings(folder / "out")
    assert not EMAIL.search("\n".join(cells + files))
    # digit runs in text, joined across the separators people write between digit groups
    runs = [re.sub(r"\D", "", r) for c in cells for r in re.findall(r"(?<![\w.])\d(?:[ .()-]{0,2}\d)*(?![\w])", c)]
    for _, secrets in rows:
        for secret in secrets:
            if "@" not in secret:
                assert not any(re.sub(r"\D", "", secret) in run for run in runs), secret
    assert not [run for run in runs if 13 <= len(run) <= 19 and luhn_ok(run)]

"""The bad-input corpus: every way an export, a config, a taxonomy or a command line can be wrong.

Each case that stops a run must end with touchless's own error type, one message naming the file (and the row and
column where they apply), exit status 2, no traceback, and the previous output byte-identical. Each case that is
only warned about must run, say so naming the column, and keep every contact. A bounded fuzz test feeds the
readers and the text steps arbitrary bytes and Unicode: they return, or raise an InputError, nothing else.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import load_config
from pipeline.errors import InputError
from pipeline.read.volume import load_volume
from tests.conftest import SIX_INTENTS, run_cli, tree_digest

SIX = pd.read_csv(SIX_INTENTS)


def csv(text: str) -> bytes:
    return text.encode()


def contacts(n: int = 40, **columns) -> pd.DataFrame:
    frame = SIX.head(n)[["contact_id", "text"]].copy()
    for name, values in columns.items():
        frame[name] = values
    return frame


def write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)


# case: (file name, content: bytes or a function of the folder writing it, extra CLI args, words the message holds)
STOPS = {
    "missing_column": ("c.csv", csv("contact_id,body\n1,hello there\n"), [], ["column 'text'", "is missing"]),
    "empty_file": ("c.csv", b"", [], ["file is empty"]),
    "header_only": ("c.csv", csv("contact_id,text\n"), [], ["header but no rows"]),
    "non_utf8": (
        "c.csv",
        b"contact_id,text\n1,caf\xe9 payment failed\n",
        [],
        ["row 1, column 'text': bytes at line 2", "not valid utf-8"],
    ),
    # the message said line 5: a quoted text over two lines and a blank line make it row 2
    "non_utf8_after_a_text_over_lines": (
        "c.csv",
        b'contact_id,text\n1,"my card\nnever came"\n\n2,caf\xe9 payment failed\n',
        [],
        ["row 2, column 'text': bytes at line 5", "not valid utf-8"],
    ),
    "non_utf8_in_the_header": ("c.csv", b"contact_id,t\xe9xt\n1,hi\n", [], ["bytes in the header at line 1"]),
    "non_utf8_jsonl": (
        "c.jsonl",
        b'{"contact_id": "1", "text": "my card"}\n\n{"contact_id": "2", "text": "caf\xe9"}\n',
        [],
        ["row 2: bytes at line 3", "not valid utf-8"],
    ),
    "windows_1252": ("c.csv", b"contact_id,text\n1,I can\x92t pay\n", [], ["not valid utf-8", "Windows", "cp1252"]),
    "utf16": (
        "c.csv",
        "contact_id,text\n1,my card\n".encode("utf-16"),
        [],
        ["header at line 1", "not valid utf-8", "byte-order mark: utf-16"],
    ),
    "unbalanced_quotes": (
        "c.csv",
        csv('contact_id,text\n1,"my card never came\n2,refund\n'),
        [],
        ["row 1: cannot be parsed as CSV", "never closed", 'written twice ("")'],
    ),
    # pandas said 'row 5' (blank lines counted) and 'line 4' (the header counted): rows are the data's
    "unbalanced_quotes_after_a_text_over_lines": (
        "c.csv",
        csv('contact_id,text\n1,"my card\nnever came"\n\n2,refund\n\n3,"open\n4,fine\n'),
        [],
        ["row 3: cannot be parsed as CSV", "never closed"],
    ),
    # pandas pads a short row: the line after an unquoted line break became a contact, its text an id, exit 0
    "a_text_broken_over_lines_without_quotes": (
        "c.csv",
        csv("contact_id,text,channel\n1,my card never came,email\n2,my top up failed.\nplease help me,chat\n"),
        [],
        ["row 2: the line after this row starts with text where the rows start with an id", "not quoted"],
    ),
    # a quote left open takes the rows after it into its text until another quote closes it
    "a_quote_left_open_inside_a_text": (
        "c.csv",
        csv('contact_id,text,channel\n1,"my card, it never came,email\n2,"refund me, now",chat\n3,where is it,chat\n'),
        [],
        ["row 1: holds more values than the header names columns"],
    ),
    # only the text is redacted: read as the customer id too, an email address in it was stored raw
    "the_text_column_mapped_to_another_field": (
        "c.csv",
        csv("contact_id,text\n1,my email is ann@example.com\n2,refund please\n"),
        ["--column", "customer_id=text"],
        ["column 'text': customer_id is mapped to column 'text', the column read as the text", "unredacted"],
    ),
    "the_text_column_as_a_dimension": (
        "c.csv",
        csv("contact_id,message\n1,my email is ann@example.com\n2,refund please\n"),
        ["--column", "text=message", "--dimension", "message"],
        ["the dimension 'message' is the column read as the text", "unredacted"],
    ),
    "a_text_broken_over_three_lines": (
        "c.csv",
        csv("contact_id,text,channel\n1,my card never came,email\n2,my top up\nfailed again\nplease help,chat\n"),
        [],
        ["row 2: the line after this row starts with text"],
    ),
    # the second line holds a delimiter: it reads as a whole row, whose id was a name
    "a_text_broken_before_a_line_with_a_comma": (
        "c.csv",
        csv("contact_id,text,channel\n1,my card never came,email\n2,please call me\nJane Doe, 07700 900123,phone\n"),
        [],
        ["row 2: the line after this row starts with text"],
    ),
    "a_last_column_text_broken_over_lines": (
        "c.csv",
        csv("contact_id,channel,text\n1,email,my card never came\n2,chat,refund still missing\nJane Doe, Acme Ltd\n"),
        [],
        ["row 2: the line after this row starts with text"],
    ),
    "a_quote_left_open_in_a_middle_column": (
        "c.csv",
        csv('contact_id,text,channel\n1,"my card never came,email\n2,refund me,chat\n'),
        [],
        ["row 1: cannot be parsed as CSV: a quote opened in this row is never closed"],
    ),
    "too_many_values_after_a_text_over_lines": (
        "c.csv",
        csv('contact_id,text\n1,"my card\nnever came"\n2,refund\n3,a,b,c\n'),
        [],
        ["row 3: holds more values than the header names columns"],
    ),
    "duplicate_ids": (
        "c.csv",
        csv("contact_id,text\n1,my card is lost\n2,where is my card\n1,refund please\n"),
        [],
        ["row 3", "column 'contact_id'", "'1' (rows 1, 3)"],
    ),
    "missing_ids": (
        "c.csv",
        csv("contact_id,text\n1,my card is lost\n,where is my card\n"),
        [],
        ["row 2", "column 'contact_id'", "no contact id"],
    ),
    "one_contact": (
        "c.csv",
        csv("contact_id,text\n1,my card is lost\n"),
        [],
        ["only 1 of 1 contacts", "column 'text'"],
    ),
    "two_contacts": ("c.csv", csv("contact_id,text\n1,my card is lost\n2,refund please\n"), [], ["only 2 of 2"]),
    "only_greetings": (
        "c.csv",
        csv("contact_id,text\n" + "".join(f"{i},thanks!\n" for i in range(30))),
        [],
        ["only 0 of 30", "30 no reason"],
    ),
    "broken_jsonl_line": (
        "c.jsonl",
        b'{"contact_id": "1", "text": "my card"}\n{"contact_id": "2", "text": \n',
        [],
        ["row 2: line 2 is not valid JSON"],
    ),
    "json_object_as_text": (
        "c.jsonl",
        b'{"contact_id": "1", "text": "my card"}\n{"contact_id": "2", "text": {"a": 1}}\n',
        [],
        ["row 2", "column 'text'", "JSON object"],
    ),
    "parquet_number_text": (
        "c.parquet",
        lambda p: pq.write_table(pa.table({"contact_id": ["1", "2"], "text": [1, 2]}), p),
        [],
        ["column 'text'", "int64 values, not text"],
    ),
    "truncated_gzip": ("c.csv.gz", gzip.compress(SIX_INTENTS.read_bytes())[:500], [], ["not a whole gzip file"]),
    "ambiguous_dates": (
        "c.csv",
        lambda p: write(contacts(created_at=["01/02/2026", "03/04/2026"] * 20), p),
        [],
        ["column 'created_at'", "day-first", "month-first", "date_format"],
    ),
    "mixed_date_orders": (
        "c.csv",
        lambda p: write(contacts(created_at=["28/08/2026", "08/29/2026"] * 20), p),
        [],
        ["column 'created_at'", "mix day-first and month-first", "row 1"],
    ),
    "unsupported_type": ("c.xlsx", b"PK\x03\x04", [], ["unsupported file type"]),
    "semicolons_in_a_csv": (
        "c.csv",
        b"contact_id;text\n1;my card, it broke\n2;a refund, please\n",
        [],
        ["row 1", "the header is split by semicolons"],
    ),
    "a_folder": ("folder", lambda p: p.mkdir(), [], ["is a folder, not a file"]),
    "a_named_pipe": (
        "pipe.csv",
        lambda p: os.mkfifo(p),
        [],
        ["is not a regular file (a named pipe"],
    ),  # "does not exist"
    "a_link_loop": (
        "loop.csv",
        lambda p: (p.symlink_to(p.with_name("loop2.csv")), p.with_name("loop2.csv").symlink_to(p)),
        [],
        ["loop"],
    ),
    "a_missing_file": ("absent.csv", None, [], ["file does not exist"]),
    "unknown_config_key": (
        "c.csv",
        None,
        ["--config", "{bad_config}"],
        ["unknown key 'cluster.min_clustr_size'", "min_cluster_size"],
    ),
    "bad_option_value": ("c.csv", None, ["--granularity", "medum"], ["'cluster.granularity' on the command line"]),
    "cache_dir_under_a_file": (
        "c.csv",
        None,
        ["--config", "{cache_in_a_file}"],
        ["embedding.cache_dir", "a-file is a file, not a folder"],
    ),
    "granularity_beside_reasons": (
        "c.csv",
        None,
        ["--reasons", "2-3", "--granularity", "fine"],
        ["--granularity fine has no effect beside --reasons 2-3"],
    ),
    "a_format_that_reads_no_date": (
        "c.csv",
        lambda p: write(contacts(created_at=["08-31-2026", "09-01-2026"] * 20), p),
        ["--date-format", "%d/%m/%Y"],
        ["none of the 40 values of 'created_at'", "column 'created_at'", "every file a run reads"],
    ),
    "bad_column_flag": ("c.csv", None, ["--column", "opened_on"], ["--column takes FIELD=COLUMN"]),
    "a_mapped_column_the_file_lacks": (
        "c.csv",
        None,
        ["--column", "created_at=opened"],
        ["created_at is mapped to column 'opened', which the file does not have", "column 'opened'"],
    ),
    "two_columns_for_one_field": (
        "c.csv",
        None,
        ["--column", "text=channel", "--text-column", "text"],
        ["two columns are given for text: 'text' and 'channel'"],
    ),
    "broken_taxonomy": ("c.csv", None, ["--taxonomy", "{broken_taxonomy}"], ["is not a valid taxonomy", "reason #1"]),
    "decisions_a_string": (
        "c.csv",
        None,
        ["--taxonomy", "{taxonomy_with_string_decisions}"],
        ["decisions file", "must hold a mapping"],
    ),
    "decisions_not_mappings": (
        "c.csv",
        None,
        ["--taxonomy", "{taxonomy_with_list_decisions}"],
        ["decisions file", "is not valid"],
    ),
    "broken_volume": (
        "c.csv",
        None,
        ["--volume", "{broken_volume}"],
        ["volume.csv", "row 2", "column 'date'", "have no date"],
    ),
    "input_inside_out": ("in-out", None, [], ["lies inside the output folder"]),
}


@pytest.fixture()
def existing_output(six_intents_run, tmp_path) -> Path:
    out = tmp_path / "existing"
    shutil.copytree(six_intents_run[0], out)
    return out


@pytest.fixture()
def files(tmp_path) -> dict[str, str]:
    """Broken files other than the input, by the name a case's arguments use."""
    bad_config = tmp_path / "config.yaml"
    bad_config.write_text("cluster:\n  min_clustr_size: 5\n")
    broken = tmp_path / "broken" / "taxonomy.yaml"
    broken.parent.mkdir()
    broken.write_text("version: 1\nreasons:\n  - id: Not An Id\n    name: x\n")
    found = {"bad_config": str(bad_config), "broken_taxonomy": str(broken)}
    (tmp_path / "a-file").write_text("x")
    cache_in_a_file = tmp_path / "cache-config.yaml"
    cache_in_a_file.write_text(f"embedding:\n  cache_dir: {tmp_path / 'a-file' / 'cache'}\n")
    found["cache_in_a_file"] = str(cache_in_a_file)
    for name, decisions in (("string", "just a sentence\n"), ("list", "decisions:\n  - 3\n  - 4\n")):
        folder = tmp_path / f"decisions-{name}"
        folder.mkdir()
        (folder / "taxonomy.yaml").write_text("version: 1\nreasons:\n  - id: cards\n    name: Cards\n")
        (folder / "taxonomy.decisions.yaml").write_text(decisions)
        found[f"taxonomy_with_{name}_decisions"] = str(folder / "taxonomy.yaml")
    volume = tmp_path / "volume.csv"
    volume.write_text("date,volume\n2026-01-05,100\nnot a date,5\n")
    found["broken_volume"] = str(volume)
    return found


@pytest.mark.parametrize("case", sorted(STOPS))
def test_what_stops_a_run_is_named_and_changes_nothing(case, existing_output, files, tmp_path, test_config, capsys):
    name, content, extra, expected = STOPS[case]
    path = tmp_path / name
    if case == "input_inside_out":
        path = existing_output / "today.csv"
        shutil.copyfile(SIX_INTENTS, path)
    elif callable(content):
        content(path)
    elif content is not None:
        path.write_bytes(content)
    elif case != "a_missing_file":
        shutil.copyfile(SIX_INTENTS, path)
    before = tree_digest(existing_output)
    args = [a.format(**files) for a in extra]
    config = [] if "--config" in args else ["--config", str(test_config)]
    code = run_cli("discover", str(path), "--out", str(existing_output), *config, *args)
    message = capsys.readouterr().err
    assert code == 2, message
    assert "Traceback" not in message and message.count("\n") <= 8, message
    for words in expected:
        assert words in message, f"{words!r} not in {message!r}"
    if case not in (
        "unknown_config_key",
        "bad_option_value",
        "granularity_beside_reasons",
        "cache_dir_under_a_file",
        "bad_column_flag",
        "two_columns_for_one_field",
        "broken_taxonomy",
        "decisions_a_string",
        "decisions_not_mappings",
        "broken_volume",
    ):
        assert str(path) in message or path.name in message, message
    assert tree_digest(existing_output) == before


def test_a_mistyped_command_or_flag_is_a_usage_message(capsys):
    assert run_cli("discoverr", "x") == 2
    assert run_cli("discover", "x", "--outt", "y") == 2
    message = capsys.readouterr().err
    assert "No such command 'discoverr'" in message and "No such option: --outt" in message
    assert "Traceback" not in message


# case: (content, the warning's words); the run goes on and keeps every contact
WARNED = {
    "byte_order_mark": ("\ufeff" + SIX.to_csv(index=False), None),
    "a_megabyte_text": (
        contacts(60, text=["my card " * 130_000] + SIX["text"].head(59).tolist()).to_csv(index=False),
        "longer than 5000 characters were cut",
    ),
    "unreadable_dates": (
        contacts(60, created_at=["2026-03-01"] * 59 + ["yesterday"]).to_csv(index=False),
        "'created_at' are not dates",
    ),
    "negative_handle_times": (
        contacts(60, handle_time_s=[30] * 59 + [-5]).to_csv(index=False),
        "'handle_time_s' are not non-negative numbers",
    ),
    "future_dates": (
        contacts(60, created_at=["2026-03-01"] * 59 + ["2099-01-01"]).to_csv(index=False),
        "lie after this run's time",
    ),
    "identical_texts": (contacts(60, text=["my card has not arrived yet"] * 60).to_csv(index=False), None),
    "columns_under_other_names": (
        contacts(60, opened_on=["2026-03-01"] * 60, cust_no=["c1"] * 60).to_csv(index=False),
        "--column created_at=opened_on --column customer_id=cust_no",
    ),
}


@pytest.mark.parametrize("case", sorted(WARNED))
def test_what_is_only_warned_about_is_said_and_every_contact_kept(case, tmp_path, test_config, capsys):
    content, warning = WARNED[case]
    path = tmp_path / "c.csv"
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    code = run_cli("discover", str(path), "--out", str(out), "--config", str(test_config))
    message = capsys.readouterr().err
    assert code == 0, message
    if warning:
        assert warning in message, message
    written = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    assert pd.read_parquet(out / "contacts.parquet")["contact_id"].tolist() == written["contact_id"].tolist()


def test_unknown_roles_and_a_broken_character_are_warned_about(tmp_path, test_config, capsys):
    messages = pd.read_csv(Path(__file__).parent / "data" / "multidogo_finance_messages.csv")
    messages.loc[messages.index[:3], "role"] = "supervisor"
    records = messages.to_dict("records")
    lines = [json.dumps(r) for r in records]
    lines[5] = lines[5].replace('"text": "', '"text": "\\ud800', 1)  # half of a character pair, escaped
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code = run_cli("discover", str(path), "--out", str(tmp_path / "out"), "--config", str(test_config))
    message = capsys.readouterr().err
    assert code == 0, message
    assert "'supervisor'" in message and "replaced by U+FFFD" in message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]))
def test_readers_take_any_bytes(data, suffix, tmp_path):
    from pipeline.read.contacts import contacts_from_table
    from pipeline.read.files import read_table

    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    cfg = load_config().input
    try:
        contacts_from_table(read_table(path), cfg, path)
    except InputError:
        pass


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=8))
def test_text_steps_take_any_unicode(texts):
    from pipeline.text.clean import Cleaner
    from pipeline.text.prepare import content_terms, detect_languages, normalise
    from pipeline.text.redact import PLACEHOLDER, Redactor

    cfg = load_config().prepare
    cleaned = [normalise(Cleaner(cfg.cleaning).clean(normalise(t)).text) for t in texts]
    redacted, _ = Redactor().redact_many(cleaned)
    assert len(content_terms(redacted, 16)) == len(detect_languages(redacted, cfg.language)) == len(texts)
    for original, text in zip(texts, redacted):
        text.encode("utf-8")  # valid Unicode: it can be written to Parquet
        assert not re.search(r"<[a-zA-Z/!][^<>]*>", text), (original, text)  # plain text: no tag survives cleaning
        for placeholder in PLACEHOLDER.finditer(text):  # a placeholder never cuts a word
            assert not text[placeholder.end() : placeholder.end() + 1].isalnum(), (original, text)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=20))
def test_dates_take_any_text(values):
    from pipeline.read.dates import parse_dates

    try:
        parsed, _, _ = parse_dates(
            pd.Series(values, dtype=object), file="f.csv", column="created_at", rows=range(1, len(values) + 1)
        )
        assert len(parsed) == len(values)
    except InputError:
        pass


def test_a_volume_file_of_other_weeks_is_said_not_left_as_an_empty_touch_index(tmp_path, test_config, capsys):
    path, volume = tmp_path / "c.csv", tmp_path / "volume.csv"
    contacts(60, created_at=["2026-03-02"] * 30 + ["2026-03-09"] * 30).to_csv(path, index=False)
    volume.write_text("date,volume\n2020-01-01,1000\n")
    code = run_cli(
        "discover", str(path), "--out", str(tmp_path / "out"), "--config", str(test_config), "--volume", str(volume)
    )
    message = capsys.readouterr().err
    assert code == 0 and "the volume file covers none of the weeks that have contacts" in message, message


def test_a_volume_file_for_contacts_without_times_is_said_and_makes_no_touch_index(tmp_path, test_config, capsys):
    """The volume's weeks read 0 contacts per 1,000 (the contacts' weeks are unknown), a touch index of zeros."""
    path, volume = tmp_path / "c.csv", tmp_path / "volume.csv"
    contacts(60).to_csv(path, index=False)
    volume.write_text("date,volume\n2026-03-02,1000\n2026-03-09,1200\n")
    out = tmp_path / "out"
    code = run_cli("discover", str(path), "--out", str(out), "--config", str(test_config), "--volume", str(volume))
    message = " ".join(capsys.readouterr().err.split())
    assert code == 0 and "the volume file is not used: no contact has a time (created_at)" in message, message
    assert pd.read_parquet(out / "touch_index.parquet").empty


def test_a_volume_file_that_misses_some_weeks_is_said(tmp_path, test_config, capsys):
    path, volume = tmp_path / "c.csv", tmp_path / "volume.csv"
    contacts(60, created_at=["2026-03-02"] * 20 + ["2026-03-09"] * 20 + ["2026-03-16 23:00"] * 20).to_csv(
        path, index=False
    )
    volume.write_text("date,volume,segment\n2026-03-02,600,web\n2026-03-02,400,app\n2026-03-16,900,web\n")
    code = run_cli(
        "discover", str(path), "--out", str(tmp_path / "out"), "--config", str(test_config), "--volume", str(volume)
    )
    message = " ".join(capsys.readouterr().err.split())
    assert code == 0, message
    assert "gives no volume (or 0) for 1 of the 2 whole weeks that have contacts (weeks of 2026-03-09)" in message
    assert "1 date(s) are on more than one row (the first, 2026-03-02, on rows 1, 2)" in message, message
    assert "columns not used: segment" in message, message


@pytest.mark.parametrize(
    "rows, bad_row, column",
    [
        ("2026-01-05,100\n2026-01-12,inf\n", 2, "volume"),  # an infinite volume would read as a perfect week
        ("2026-01-05,100\n2026-01-12,-3\n", 2, "volume"),
        (",100\n2026-01-12,-3\n", 1, "date"),  # each row is blamed on its own column
    ],
)
def test_a_volume_row_without_a_usable_volume_is_named(rows, bad_row, column, tmp_path):
    volume = tmp_path / "volume.csv"
    volume.write_text("date,volume\n" + rows)
    with pytest.raises(InputError) as raised:
        load_volume(volume)
    assert raised.value.row == bad_row and raised.value.column == column, str(raised.value)


def test_a_volume_with_a_thousands_separator_is_named_as_such(tmp_path):
    """'1,000' was said to be no volume at all: the person looked for an empty cell."""
    volume = tmp_path / "volume.csv"
    volume.write_text('date,volume\n2026-01-05,"1,000"\n2026-01-12,"1,250"\n')
    with pytest.raises(InputError, match="such as '1,000': write volumes as plain numbers, without a thousands"):
        load_volume(volume)
    volume.write_text("date,volume\n2026-01-05,1.000\n2026-01-12,1.250\n")  # read as 1 and 1.25: said so
    _, warnings = load_volume(volume)
    assert any("every volume is written like '1.000', read as 1:" in w for w in warnings), warnings

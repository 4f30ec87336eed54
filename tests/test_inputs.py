"""Reading contacts exports: formats, column mapping, what is carried past and what stops the run."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.errors import InputError
from pipeline.text.prepare import read_and_prepare

CONFIG = load_config()
CFG = CONFIG.input


def load_contacts(path, cfg=CFG):
    return read_and_prepare(path, CONFIG.model_copy(update={"input": cfg}))


def test_reads_csv_jsonl_and_parquet_alike(tmp_path):
    frame = pd.DataFrame(
        {"contact_id": ["007", "8"], "text": ["card lost", "refund?"], "created_at": ["2026-01-05", "2026-01-06"]}
    )
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "a.parquet")
    loaded = [load_contacts(tmp_path / f"a.{ext}", CFG)[0] for ext in ("csv", "jsonl", "parquet")]
    for contacts in loaded:
        assert contacts["contact_id"].tolist() == ["007", "8"]
        assert contacts["created_at"].dt.day.tolist() == [5, 6]
        assert contacts["customer_id"].isna().all()


def test_empty_texts_are_kept_counted_and_reported(tmp_path):
    (tmp_path / "a.csv").write_text("contact_id,text\n1,card lost\n2,\n3,   \n")
    contacts, report = load_contacts(tmp_path / "a.csv", CFG)
    assert contacts["text_status"].tolist() == ["ok", "empty", "empty"]
    assert report.empty_text == 2
    assert "rows 2, 3" in report.warnings[0]


def test_long_texts_are_cut_and_bad_dates_left_empty(tmp_path):
    (tmp_path / "a.csv").write_text(
        f"contact_id,text,created_at\n1,{'word ' * 1200},yesterday\n2,card lost,2026-02-01\n"
    )
    contacts, report = load_contacts(tmp_path / "a.csv", CFG)
    assert len(contacts["text"][0]) == CFG.max_text_chars
    assert report.truncated == 1
    assert pd.isna(contacts["created_at"][0])
    assert any("created_at" in w and "rows 1" in w for w in report.warnings)


def test_missing_ids_name_the_row(tmp_path):
    (tmp_path / "a.csv").write_text("contact_id,text\n1,a\n,b\n")
    with pytest.raises(InputError, match=r"row 2, column 'contact_id'"):
        load_contacts(tmp_path / "a.csv", CFG)


def test_rows_with_no_value_at_all_are_skipped_and_named(tmp_path):
    """A spreadsheet exports the empty rows it once formatted (`,,`): they hold no contact, so they are skipped
    with a warning, not refused as rows without an id; a row with a text but no id still stops the run."""
    (tmp_path / "a.csv").write_text("contact_id,text,channel\n1,card lost,email\n, ,\n2,refund,chat\n,,\n,,\n")
    contacts, report = load_contacts(tmp_path / "a.csv", CFG)
    assert contacts["contact_id"].tolist() == ["1", "2"] and contacts["row"].tolist() == [1, 3]
    assert any("skipped 3 empty row(s)" in w and "rows 2, 4, 5" in w for w in report.warnings)
    (tmp_path / "m.csv").write_text("conversation_id,role,text\nc1,customer,my card was lost\n,,\nc1,agent,ok\n")
    contacts, report = load_contacts(tmp_path / "m.csv", CFG)
    assert report.kind == "messages" and contacts["contact_id"].tolist() == ["c1"]
    assert any("skipped 1 empty row(s)" in w and "rows 2" in w for w in report.warnings)
    (tmp_path / "b.csv").write_text("contact_id,text\n1,a\n,,\n,b\n")
    with pytest.raises(InputError, match=r"row 3, column 'contact_id': 1 row\(s\) have no contact id: rows 3$"):
        load_contacts(tmp_path / "b.csv", CFG)


def test_a_column_named_twice_stops_the_run_and_a_name_off_by_case_or_spaces_is_pointed_at(tmp_path):
    """pandas reads a second 'text' as 'text.1', a name not in the file, and the first was used without a word."""
    (tmp_path / "a.csv").write_text("contact_id,text,created_at,text\n1,card lost,2026-01-01,refund\n")
    with pytest.raises(InputError, match=r"the file names column 'text' more than once \(columns 2, 4\)"):
        load_contacts(tmp_path / "a.csv", CFG)
    (tmp_path / "b.csv").write_text("contact_id,Text ,created_at\n1,card lost,2026-01-01\n")
    with pytest.raises(InputError, match=r"'Text ' differs from it only in case or spaces(.|\n)*--column text=COLUMN"):
        load_contacts(tmp_path / "b.csv", CFG)
    (tmp_path / "a.jsonl").write_text('{"contact_id": 1, "text": "card lost", "text": "refund"}\n')
    with pytest.raises(InputError, match=r"names column 'text' more than once \(line 1\)"):
        load_contacts(tmp_path / "a.jsonl", CFG)
    (tmp_path / "b.jsonl").write_text('{"contact_id": 1, "text": "card lost", "meta": {"tag": "a", "tag": "b"}}\n')
    (tmp_path / "d.csv").write_text("contact_id,text,Tags,Tags,,\n1,card lost,a,b,,\n")  # columns not read
    assert all(len(load_contacts(tmp_path / name, CFG)[0]) == 1 for name in ("b.jsonl", "d.csv"))
    (tmp_path / "c.csv").write_text("contact_id,text,created_at \n1,card lost,2026-01-01\n")
    _, report = load_contacts(tmp_path / "c.csv", CFG)
    assert any("--column 'created_at=created_at '" in w for w in report.warnings), report.warnings


def test_parquet_categories_are_text_and_whole_number_ids_with_gaps_stay_whole(tmp_path):
    """A dictionary-encoded text column was refused as 'category values, not text'; a customer id column of whole
    numbers with one missing (floats in pandas) gave the id '821.0'."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "contact_id": pa.array([1.0, 2.0, 3.0]),
            "text": pa.array(["card lost", "refund please", "card lost"]).dictionary_encode(),
            "customer_id": pa.array([821, None, 822], pa.int64()),
            "ticket_id": pa.array([1234567890123456789, None, 1234567890123456790], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "a.parquet")
    contacts, _ = load_contacts(tmp_path / "a.parquet", CFG)
    assert contacts["contact_id"].tolist() == ["1", "2", "3"]
    assert contacts["text"].tolist() == ["card lost", "refund please", "card lost"]
    assert contacts["customer_id"].tolist()[0::2] == ["821", "822"] and pd.isna(contacts["customer_id"][1])
    assert contacts["ticket_id"].tolist()[0::2] == ["1234567890123456789", "1234567890123456790"]  # every digit
    numbers = pa.table({"contact_id": ["1", "2"], "text": pa.array([7, None], pa.int64())})  # ints with a gap
    pq.write_table(numbers, tmp_path / "b.parquet")
    with pytest.raises(InputError, match="holds integer values, not text"):
        load_contacts(tmp_path / "b.parquet", CFG)


def test_windows_characters_read_as_latin_1_are_warned_about(tmp_path):
    """The hint for a file that is not UTF-8 said latin-1; a Windows export read so stored its quotes and dashes
    as control codes without a word."""
    (tmp_path / "a.csv").write_bytes(b"contact_id,text\n1,I can\x92t pay \x96 it says \x93declined\x94\n")
    _, report = load_contacts(tmp_path / "a.csv", CFG.model_copy(update={"encoding": "latin-1"}))
    assert any("control code(s)" in w and "cp1252" in w for w in report.warnings), report.warnings
    contacts, report = load_contacts(tmp_path / "a.csv", CFG.model_copy(update={"encoding": "cp1252"}))
    assert contacts["text"][0] == "I can\u2019t pay \u2013 it says \u201cdeclined\u201d" and not report.warnings
    (tmp_path / "b.csv").write_text("contact_id,text\n1,I can\u0092t log in\n", encoding="utf-8")
    assert not load_contacts(tmp_path / "b.csv", CFG)[1].warnings  # UTF-8 said what it holds: cp1252 is no cure


def test_a_byte_order_mark_the_codec_keeps_is_no_part_of_the_first_column(tmp_path):
    """'utf-16-le' keeps the mark a UTF-16 export starts with. pandas dropped it, but the header touchless checks
    read '\ufeffcontact_id', so a file naming the first column twice was read without a word."""
    cfg = CFG.model_copy(update={"encoding": "utf-16-le"})
    (tmp_path / "a.csv").write_bytes("\ufeffcontact_id,text\n1,card lost\n".encode("utf-16-le"))
    contacts, _ = load_contacts(tmp_path / "a.csv", cfg)
    assert contacts["contact_id"].tolist() == ["1"] and contacts["text"].tolist() == ["card lost"]
    (tmp_path / "b.csv").write_bytes("\ufeffcontact_id,text,contact_id\n1,card lost,2\n".encode("utf-16-le"))
    with pytest.raises(InputError, match=r"names column 'contact_id' more than once \(columns 1, 3\)"):
        load_contacts(tmp_path / "b.csv", cfg)


def test_bytes_that_decode_to_half_a_character_are_named_not_a_traceback(tmp_path):
    """utf-7 decodes '+2AA-' to a lone surrogate, half of a character pair no text holds: one message naming the
    line, not a UnicodeEncodeError from deep inside the reader."""
    (tmp_path / "a.csv").write_bytes(b"contact_id,text\n1,card lost\n2,pin +2AA- blocked\n")
    with pytest.raises(InputError, match=r"at line 3 the bytes read as utf-7 give half of a character") as raised:
        load_contacts(tmp_path / "a.csv", CFG.model_copy(update={"encoding": "utf-7"}))
    assert raised.value.row == 2 and raised.value.column == "text"


def test_dates_that_do_not_tell_their_order_are_shown_by_two_distinct_examples(tmp_path):
    """A value written on two rows was given as both examples."""
    (tmp_path / "a.csv").write_text(
        "contact_id,text,created_at\n1,a,03/12/2026 10:00\n2,b,03/12/2026 10:00\n3,c,04/11/2026 09:00\n"
    )
    with pytest.raises(InputError, match=r"03/12/2026 10:00 = 3 December 2026, 04/11/2026 09:00 = 4 November"):
        load_contacts(tmp_path / "a.csv", CFG)


def test_rows_ending_in_a_delimiter_are_read_as_written(tmp_path):
    """pandas takes a row's one value more than the header names for an index and shifts every column by one: the
    ids became the texts, and the texts the next column."""
    (tmp_path / "a.csv").write_text("contact_id,text,channel\n7,card lost,chat,\n8,refund please,email, \n")
    contacts, _ = load_contacts(tmp_path / "a.csv", CFG)
    assert contacts["contact_id"].tolist() == ["7", "8"]
    assert contacts["text"].tolist() == ["card lost", "refund please"]
    assert contacts["channel"].tolist() == ["chat", "email"]
    # only a later row ends in delimiters: pandas, which takes the first row's width as every row's, refused it
    (tmp_path / "b.csv").write_text("contact_id,text,channel\n7,card lost,chat\n8,refund please,email,,\n")
    contacts, _ = load_contacts(tmp_path / "b.csv", CFG)
    assert contacts["text"].tolist() == ["card lost", "refund please"]
    assert contacts["channel"].tolist() == ["chat", "email"]


@pytest.mark.parametrize("body", ["7,card, lost,chat\n8,refund,email\n", "7,card,lost,chat\n8,refund,please,email\n"])
def test_a_value_past_the_header_names_its_row(tmp_path, body):
    """An unquoted comma in a text: a row with one value too many (pandas' own error), or every row (pandas read
    them as shifted columns, or dropped the last values with only a warning)."""
    (tmp_path / "a.csv").write_text("contact_id,text,channel\n" + body)
    with pytest.raises(InputError, match=r"a.csv(, row 1)?: (holds more values|cannot be parsed)"):
        load_contacts(tmp_path / "a.csv", CFG)


def test_duplicate_ids_can_keep_the_first(tmp_path):
    (tmp_path / "a.csv").write_text("contact_id,text\n1,card lost\n1,card stolen\n2,refund please\n")
    cfg = CFG.model_copy(update={"on_duplicate_id": "keep_first"})
    contacts, report = load_contacts(tmp_path / "a.csv", cfg)
    assert contacts["contact_id"].tolist() == ["1", "2"]
    assert report.duplicates_dropped == 1


def test_a_jsonl_text_holding_a_line_separator_is_read_whole(tmp_path):
    """JSON strings may hold U+2028 and U+0085 as they are (json.dumps and pandas write them so): the line was cut
    there and read as 'line 1 is not valid JSON: Unterminated string'."""
    from pipeline.read.files import read_table

    texts = ["my card\u2028never came", "refund\x85please", "where\x0cis it"]
    pd.DataFrame({"contact_id": ["1", "2", "3"], "text": texts}).to_json(
        tmp_path / "a.jsonl", orient="records", lines=True, force_ascii=False
    )
    assert "\u2028" in (tmp_path / "a.jsonl").read_text(encoding="utf-8")
    assert read_table(tmp_path / "a.jsonl")["text"].tolist() == texts
    # a bare carriage return (old Mac files) still ends a line: it cannot lie inside a JSON string
    (tmp_path / "mac.jsonl").write_bytes(b'{"contact_id": "1", "text": "a"}\r{"contact_id": "2", "text": "b"}\r')
    assert read_table(tmp_path / "mac.jsonl")["text"].tolist() == ["a", "b"]


def test_rows_short_of_trailing_values_are_read_as_written(tmp_path):
    """Some exports leave out a row's empty last values, or name one column more than they write: those rows are
    read padded. A short row followed by rows that make it whole is a broken text (tests/test_bad_inputs.py)."""
    from pipeline.read.files import read_table

    rows = "contact_id,text,channel\n1,my card,email\n2,card lost\n3,refund\n4\n5,pin,chat\n"
    (tmp_path / "ragged.csv").write_text(rows)  # short rows one after another, as spreadsheets write them
    assert read_table(tmp_path / "ragged.csv")["channel"].isna().tolist() == [False, True, True, True, False]
    texts = 'contact_id,text,channel\n1,"Can I have a virtual card?\n\nBest,\nJane Doe, Support, Acme Ltd"\n2,ok,chat\n'
    (tmp_path / "signed.csv").write_text(texts)  # a quoted text over lines, its row short of the channel
    assert read_table(tmp_path / "signed.csv")["text"].str.contains("Acme").tolist() == [True, False]
    (tmp_path / "comma.csv").write_text("contact_id,text,\n1,my card\n2,card lost\n3,refund\n")
    assert read_table(tmp_path / "comma.csv")["text"].tolist() == ["my card", "card lost", "refund"]


def test_unsupported_type_and_bad_json_are_named(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match="unsupported file type"):
        load_contacts(tmp_path / "a.xlsx", CFG)
    (tmp_path / "a.jsonl").write_text('{"contact_id": 1, "text": "a"}\n{"contact_id": 2, "text": \n')
    with pytest.raises(InputError, match="line 2 is not valid JSON"):
        load_contacts(tmp_path / "a.jsonl", CFG)


# "@" marks where a byte that is not UTF-8 is put, one place at a time: rows over lines, blank and space-only lines,
# CRLF endings, quoted delimiters, a last line without its line end
BAD_BYTE_FILES = {
    "csv": 'contact_id,te@xt,channel\r\n1,"my card@\r\nnever came",email\n\n   \n2,@refund,@chat\n'
    '3,"a, b and ""c""@",\n\n4,,phone@\n5,last@',
    "jsonl": '{"contact_id": "1", "text": "my\u2028card@"}\n\n   \n{"contact_id": "2", "text": "@refund"}\r\n'
    '{"contact_id": "3", "text": "x@"}',
}


@pytest.mark.parametrize("kind", sorted(BAD_BYTE_FILES))
def test_bad_bytes_are_named_by_the_row_and_column_the_file_reads_them_in(kind, tmp_path):
    """The message counted lines ('bytes at line 6') where every other message counts rows: it names the row (1 =
    the first after the header) and column that the same file, its byte mended, reads the character in, and the
    line."""
    from pipeline.read.files import read_table

    template = BAD_BYTE_FILES[kind]
    places = [i for i, c in enumerate(template) if c == "@"]
    for place in places:

        def file_with(byte: bytes, template=template, place=place) -> str:
            path = tmp_path / f"c.{kind}"
            content = template[:place].replace("@", "") + "\0" + template[place + 1 :].replace("@", "")
            path.write_bytes(content.encode().replace(b"\0", byte))
            return str(path)

        with pytest.raises(InputError) as bad:
            read_table(file_with(b"\xe9"))
        line = template[:place].count("\n") + 1
        if kind == "csv" and place < template.index("\n"):  # in the header
            assert bad.value.row is None and f"bytes in the header at line {line} " in str(bad.value)
            continue
        mended = read_table(file_with("é".encode()))
        found = mended.map(lambda v: isinstance(v, str) and "é" in v)
        row, column = found.stack().idxmax()
        assert bad.value.row == row + 1, str(bad.value)
        assert bad.value.column == (column if kind == "csv" else None), str(bad.value)
        assert f"bytes at line {line} " in str(bad.value) and str(tmp_path) in str(bad.value)


def test_a_value_past_the_header_is_named_by_its_row_past_a_line_of_spaces(tmp_path):
    """A line of spaces is no row (pandas skips it), but the message counted it: row 3 for the file's second row."""
    from pipeline.read.files import read_table

    (tmp_path / "a.csv").write_text("contact_id,text,intent\n1,a,x\n   \n2,b, c,y\n")
    with pytest.raises(InputError, match="row 2: holds more values than the header names columns"):
        read_table(tmp_path / "a.csv", columns={"contact_id", "intent"})


@pytest.mark.parametrize(
    "text",
    [
        'id,text\r\n1,"two\nlines"\r\n\r\n2,x',
        "a\nb\n",
        "no line end",
        "",
        "\n\n",
        "a\rb\nc",
        "a\x85b\u2028c\x0bd\n",  # only "\n" ends a line, as in a StringIO (str.splitlines would cut at each)
        "é,😀\nx,y\n",
    ],
)
def test_csv_lines_are_read_one_at_a_time_as_a_stringio_gives_them(text):
    """The CSV reader walks the text a line at a time instead of through a StringIO, which copies a whole export at
    4 bytes a character first: the lines, and so every row and error location, are the same."""
    from pipeline.read.files import _lines

    assert list(_lines(text)) == list(io.StringIO(text))

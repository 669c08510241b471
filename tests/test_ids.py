"""Reading the batch ID file."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from etl.errors import InputFileError
from etl.imitation.world import ID_FILE_BATCHES, SampleWorld
from etl.source.ids import parse_id_lines, read_id_file

ROOT = Path(__file__).resolve().parent.parent

A = "0b7c1f36-9d2a-4e5b-8c61-3f0e2d4a5b6c"
B = "5e8a2d19-7c4b-4f3e-a1d0-9b8c7e6f5a4d"


def parse(text: bytes):
    return parse_id_lines(io.BytesIO(text), "ids.txt")


def test_blank_lines_and_comments_are_ignored():
    result = parse(f"# nightly list\n\n{A}\n   \n{B}  # the big one\n".encode())
    assert result.batch_ids == [A, B]
    assert result.bad_lines == []


def test_crlf_and_bom_are_accepted():
    result = parse(b"\xef\xbb\xbf" + f"{A}\r\n{B}\r\n".encode())
    assert result.batch_ids == [A, B]


def test_ids_are_normalized_and_duplicates_fetched_once():
    result = parse(f"  {A.upper()}\n{A}\n\t{B}\t\n{B.upper()}\n".encode())
    assert result.batch_ids == [A, B]
    assert result.duplicates == 2


@pytest.mark.parametrize(
    "line",
    [
        "../studies/x",
        "abc?x=1",
        f"{A}/../../studies",
        f"{A}?x=1",
        "not-a-uuid",
        A[:-1],
        f"{A}{A}",
        f"{A} {B}",
        "%2e%2e%2fstudies",
    ],
)
def test_anything_but_a_uuid_is_a_bad_line_with_its_number(line):
    result = parse(f"{A}\n{line}\n".encode())
    assert result.batch_ids == [A]
    assert [(bad.line_number, bad.text) for bad in result.bad_lines] == [(2, line)]
    assert str(result.bad_lines[0]).startswith("ids.txt:2: not a batch ID (UUID): ")


def test_a_line_that_is_not_utf8_is_a_bad_line():
    result = parse(f"{A}\n".encode() + b"\xff\xfe\x00bad\n" + f"{B}\n".encode())
    assert result.batch_ids == [A, B]
    assert [(bad.line_number, bad.reason) for bad in result.bad_lines] == [(2, "not UTF-8 text")]


def test_a_long_bad_line_is_shortened_in_reports():
    result = parse(("x" * 500 + "\n").encode())
    assert len(result.bad_lines[0].text) == 80


def test_missing_file_names_the_file_says_what_one_holds_and_where_a_sample_is(tmp_path):
    # Issue 15: a newcomer following the README had no ID file, no sample, no word on the format.
    missing = tmp_path / "missing.txt"
    with pytest.raises(InputFileError) as caught:
        read_id_file(str(missing))

    assert str(caught.value) == (
        f"cannot read ID file {missing}: it does not exist. An ID file holds one batch ID (a "
        "UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e) a line, and # starts a comment: "
        "`prolific-etl examples batch_ids.txt > batch_ids.txt` writes an example to edit; or let "
        "sync find the batches itself with --all-workspaces"
    )


def test_the_example_id_file_is_valid_and_lists_batches_the_local_api_serves():
    example = ROOT / "examples" / "batch_ids.txt"
    text = example.read_text(encoding="utf-8")
    read = read_id_file(str(example))

    assert read.bad_lines == [] and read.duplicates == 0
    assert read.batch_ids == SampleWorld().id_file_ids()[:ID_FILE_BATCHES]
    names = {batch["id"]: batch["name"] for batch in SampleWorld().batches}
    for batch_id in read.batch_ids:  # each line says which batch it is
        assert f"{batch_id}  # {names[batch_id]}\n" in text
    assert "One batch ID a line" in text and "# to the end of its line" in text


def test_file_without_valid_ids_is_an_input_error(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# only a comment\nnope\n")
    with pytest.raises(InputFileError, match="holds no valid batch ID; 1 bad line") as caught:
        read_id_file(str(path))
    assert [bad.line_number for bad in caught.value.bad_lines] == [2]


def test_dash_reads_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{A}\n{B}\n".encode())))
    result = read_id_file("-")
    assert (result.source, result.batch_ids) == ("<stdin>", [A, B])


def test_a_comment_that_is_not_utf8_is_ignored():
    result = parse(b"# Liste f\xfcr M\xfcnchen\n" + A.encode() + b"  # f\xfcr M\xfcnchen\n")
    assert result.batch_ids == [A]
    assert result.bad_lines == []


def test_a_bom_at_the_start_of_any_line_is_ignored():
    bom = b"\xef\xbb\xbf"
    result = parse(bom + f"{A}\n".encode() + bom + b"# second file\n" + bom + f"{B}\n".encode())
    assert result.batch_ids == [A, B]
    assert result.bad_lines == []


def test_cr_and_mixed_line_ends_split_lines(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_bytes(f"{A}\rnope\r\n{B}\nbad\r".encode())
    result = read_id_file(str(path))
    assert result.batch_ids == [A, B]
    assert [(bad.line_number, bad.text) for bad in result.bad_lines] == [(2, "nope"), (4, "bad")]


def test_cr_line_ends_split_lines_read_as_an_iterable():
    result = parse(f"{A}\rnope\r{B}\n".encode())
    assert result.batch_ids == [A, B]
    assert [(bad.line_number, bad.text) for bad in result.bad_lines] == [(2, "nope")]

"""CSV dialects through the real API, SDK and CLI: delimiters and decimal commas sniffed or
given, Latin-1 and Windows-1252 read when named, a one-column misreading refused."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

import shipyard as sy
from shipyard.datasets._dialect import Dialect, sniff_decimal, sniff_sep
from shipyard.datasets._readers import CSV_BLOCK_BYTES
from shipyard.errors import InvalidRequest
from shipyard.testing import LocalServer

from .helpers import Upload

ROWS = [("Ann", 12, 3.5), ("Bob", 7, 10.25), ("Cy", 30, 0.75)]


def _text(sep: str, decimal: str = ".") -> bytes:
    lines = [sep.join(["name", "tenure", "charges"])]
    lines += [sep.join([n, str(t), f"{c}".replace(".", decimal)]) for n, t, c in ROWS]
    return ("\n".join(lines) + "\n").encode()


def _download(client: httpx.Client, name: str) -> pd.DataFrame:
    r = client.get(f"/api/v1/datasets/{name}/download", params={"format": "parquet"})
    assert r.status_code == 200, r.text
    return pd.read_parquet(io.BytesIO(r.content))


def _expected() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["name", "tenure", "charges"])


@pytest.mark.parametrize(("sep", "filename"), [
    (";", "semicolon.csv"), ("\t", "tab.csv"), ("|", "pipe.csv"), (",", "comma.csv"),
    (";", "semicolon.csv.gz"),
])
def test_the_delimiter_is_sniffed(upload: Upload, client: httpx.Client, sep: str,
                                  filename: str) -> None:
    data = _text(sep)
    name = "sniff-" + filename.replace(".", "-")
    r = upload(name, [(filename, gzip.compress(data) if filename.endswith(".gz") else data)])
    assert r.status_code == 201, r.text
    doc = r.json()
    assert [c["name"] for c in doc["schema"]] == ["name", "tenure", "charges"]
    assert doc["source"]["files"][0]["dialect"] == {"sep": sep, "decimal": ".",
                                                    "encoding": "utf-8"}
    pd.testing.assert_frame_equal(_download(client, name), _expected())


def test_a_decimal_comma_is_sniffed(upload: Upload, client: httpx.Client) -> None:
    r = upload("decimal-comma", [("de.csv", _text(";", decimal=","))])
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["source"]["files"][0]["dialect"]["decimal"] == ","
    assert {c["name"]: c["dtype"] for c in doc["schema"]}["charges"] == "double"
    pd.testing.assert_frame_equal(_download(client, "decimal-comma"), _expected())


def test_grouped_thousands_with_a_decimal_comma(upload: Upload, client: httpx.Client) -> None:
    text = "Artikel;Preis;Menge\nA;1.234,5;3\nB;12,25;4\nC;1.000.000;5\nD;;6\n"
    r = upload("grouped", [("preise.csv", text.encode())])
    assert r.status_code == 201, r.text
    got = _download(client, "grouped")
    assert got["Preis"].tolist()[:3] == [1234.5, 12.25, 1_000_000.0]
    assert pd.isna(got["Preis"].iloc[3]) and got["Menge"].tolist() == [3, 4, 5, 6]


def test_a_grouped_column_that_turns_out_to_be_text_is_read_again(
        upload: Upload, client: httpx.Client) -> None:
    """A value that is no number after the first 4 MiB block: the reader starts again, with
    the column as text."""
    rows = "".join(f"r{i};{i % 1000}.000,5\n" for i in range(400_000)) + "x;unknown\n"
    assert len(rows) > CSV_BLOCK_BYTES
    r = upload("grouped-late", [("late.csv", ("k;v\n" + rows).encode())])
    assert r.status_code == 201, r.text
    got = _download(client, "grouped-late")
    assert got["v"].iloc[-1] == "unknown" and got["v"].iloc[0] == "0.000,5"
    assert len(got) == 400_001


def test_sep_and_decimal_can_be_given(upload: Upload, client: httpx.Client) -> None:
    # Comma-separated with numbers that look like a decimal comma in one column only when
    # quoted: the user says how to read it.
    text = 'a|b\n"1,5"|2\n"2,5"|3\n'
    r = upload("given", [("g.txt", text.encode())], format="csv", sep="pipe", decimal=",")
    assert r.status_code == 201, r.text
    assert _download(client, "given")["a"].tolist() == [1.5, 2.5]
    r = upload("given-tab", [("t.csv", b"a\tb\n1\t2\n")], sep="\\t")
    assert r.status_code == 201, r.text
    assert [c["name"] for c in r.json()["schema"]] == ["a", "b"]


@pytest.mark.parametrize(("fields", "fragment"), [
    ({"sep": ";;"}, "sep must be one character"),
    ({"decimal": ";"}, "decimal must be '.' or ','"),
    ({"sep": ",", "decimal": ","}, "both ','"),
    ({"encoding": "klingon"}, "Unknown encoding 'klingon'"),
    ({"encoding": "utf-16"}, "save the file as UTF-8"),
])
def test_bad_dialect_fields_are_400(upload: Upload, fields: dict, fragment: str) -> None:
    r = upload("bad-dialect", [("b.csv", b"a,b\n1,2\n")], **fields)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]["message"]
    assert upload("bad-dialect", [("b.csv", b"a,b\n1,2\n")], append=True).status_code == 404


def test_one_column_that_holds_delimiters_is_refused(upload: Upload,
                                                     client: httpx.Client) -> None:
    r = upload("one-column", [("s.csv", _text(";"))], sep=",")
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "single column named 'name;tenure;charges'" in message
    assert "sep=';'" in message and "--sep" in message
    # Sniffing cannot pick ';' when its rows disagree; the refusal still says what to try.
    ragged = b"a|b|c\n1|2|3\n4|5\n6|7\n8\n"
    r = upload("one-column", [("p.csv", ragged)])
    assert r.status_code == 400 and "sep='|'" in r.json()["error"]["message"]
    assert client.get("/api/v1/datasets/one-column").status_code == 404


def test_a_real_one_column_file_is_taken_with_an_explicit_sep(upload: Upload) -> None:
    """A header that holds a ';' is refused when sniffed, taken as said with --sep."""
    text = b"answer; free text\nyes\nno; not really\nmaybe\n"
    assert upload("one-col", [("o.csv", text)]).status_code == 400
    r = upload("one-col", [("o.csv", text)], sep=",")
    assert r.status_code == 201, r.text
    assert [c["name"] for c in r.json()["schema"]] == ["answer; free text"]


LATIN = "name;city;price\nJosé;São Paulo;3,5\nAnaïs;Besançon;4,25\n"


def test_latin1_is_read_when_named(upload: Upload, client: httpx.Client) -> None:
    data = LATIN.encode("latin-1")
    r = upload("latin", [("l.csv", data)])
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "not valid UTF-8" in message and "--encoding" in message
    r = upload("latin", [("l.csv", data)], encoding="latin-1")
    assert r.status_code == 201, r.text
    assert r.json()["source"]["files"][0]["dialect"] == {"sep": ";", "decimal": ",",
                                                         "encoding": "iso8859-1"}
    got = _download(client, "latin")
    assert got["city"].tolist() == ["São Paulo", "Besançon"]
    assert got["price"].tolist() == [3.5, 4.25]


def test_cp1252_is_read_when_named(upload: Upload, client: httpx.Client) -> None:
    text = "item,price\n\u20ac coin,1\n\u201cquoted\u201d,2\n"
    r = upload("cp1252", [("w.csv.gz", gzip.compress(text.encode("cp1252")))],
               encoding="cp1252")
    assert r.status_code == 201, r.text
    assert _download(client, "cp1252")["item"].tolist() == ["\u20ac coin", "\u201cquoted\u201d"]


def test_json_in_latin1_is_read_when_named(upload: Upload, client: httpx.Client) -> None:
    data = '[{"name": "José", "n": 1}]'.encode("latin-1")
    r = upload("latin-json", [("l.json", data)], encoding="latin-1")
    assert r.status_code == 201, r.text
    assert _download(client, "latin-json")["name"].tolist() == ["José"]


# -- SDK and CLI ------------------------------------------------------------------------------
def test_sdk_create_and_append_take_the_dialect(server: LocalServer, tmp_path: Path) -> None:
    first, second = tmp_path / "v1.csv", tmp_path / "v2.csv"
    first.write_bytes(LATIN.encode("latin-1"))
    second.write_bytes("name;city;price\nZoë;Köln;1.234,5\n".encode("cp1252"))
    with sy.connect(url=server.url, token=server.admin_token, set_default=False) as conn:
        ds = sy.Dataset.create("sdk-dialect", first, encoding="latin-1", sep=";",
                               decimal=",", client=conn)
        assert ds.num_rows == 2
        ds.append(second, encoding="cp1252")  # sep and decimal sniffed
        frame = ds.to_pandas()
        assert frame["city"].tolist() == ["São Paulo", "Besançon", "Köln"]
        assert frame["price"].tolist() == [3.5, 4.25, 1234.5]
        with pytest.raises(InvalidRequest, match="decimal must be"):
            sy.Dataset.create("sdk-dialect-bad", first, decimal="x", client=conn)


def test_cli_create_and_append_take_the_dialect(server: LocalServer, tmp_path: Path) -> None:
    env = server.sdk_env()
    path = tmp_path / "prices.csv"
    path.write_bytes(LATIN.encode("latin-1"))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120, input="")

    bad = cli("datasets", "create", "cli-dialect", "--file", str(path))
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "--encoding" in bad.stderr and "Traceback" not in bad.stderr
    done = cli("datasets", "create", "cli-dialect", "--file", str(path), "--encoding",
               "latin-1", "--sep", ";", "--decimal", ",", "--json")
    assert done.returncode == 0, done.stderr
    tab = tmp_path / "more.tsv.csv"
    tab.write_bytes("name\tcity\tprice\nAnn\tOslo\t2,5\n".encode("latin-1"))
    more = cli("datasets", "append", "cli-dialect", "--file", str(tab), "--sep", "tab",
               "--decimal", ",", "--encoding", "latin-1", "--json")
    assert more.returncode == 0, more.stderr
    refused = cli("datasets", "append", "cli-dialect", "--file", str(tab), "--sep", ",")
    assert refused.returncode != 0 and "--sep" in refused.stderr
    with server.client() as c:
        got = _download(c, "cli-dialect")
    assert got["price"].tolist() == [3.5, 4.25, 2.5]


# -- the sniffers, on known answers -----------------------------------------------------------
@pytest.mark.parametrize(("text", "sep"), [
    ("a,b,c\n1,2,3\n", ","),
    ("a;b;c\n1,5;2;3\n", ";"),
    ("a\tb\n1\t2\n", "\t"),
    ("a|b\n1|2\n", "|"),
    ('name,comment\nAnn,"hi; there"\n', ","),
    ("name;comment\nAnn;hello, world\nBo;fine\n", ";"),
    ("single\n1\n2\n", ","),  # one column: nothing to sniff, the default stays
])
def test_sniff_sep(text: str, sep: str) -> None:
    assert sniff_sep(text, ",") == sep


@pytest.mark.parametrize(("text", "sep", "decimal"), [
    ("a;b\n3,14;2\n", ";", ","),
    ("a;b\n1.234,5;2\n", ";", ","),
    ("a;b\n3.14;2,5\n", ";", "."),  # a point somewhere: not a decimal-comma file
    ("a;b\n1.234;2\n", ";", "."),  # ambiguous alone: left as it is
    ("a,b\n1,2\n", ",", "."),
])
def test_sniff_decimal(text: str, sep: str, decimal: str) -> None:
    assert sniff_decimal(text, sep) == decimal


def test_dialect_names() -> None:
    assert Dialect.parse("tab").sep == "\t" and Dialect.parse("semicolon").sep == ";"
    assert Dialect.parse(None, None, "Latin-1").encoding == "iso8859-1"
    assert Dialect.parse(None, None, "UTF8").encoding == "utf-8"

"""Path-traversal strings, shared by every test that feeds user names to a path-like field."""

TRAVERSAL = [
    "../canary.txt",
    "../../canary.txt",
    "a/../../canary.txt",
    "..%2fcanary.txt",
    "%2e%2e/canary.txt",
    "%2e%2e%2fcanary.txt",
    "%252e%252e%252fcanary.txt",
    "%25252e%25252e/canary.txt",
    "/etc/passwd",
    "//etc/passwd",
    "C:\\Windows\\win.ini",
    "..\\canary.txt",
    "a\\..\\..\\canary.txt",
    "x\x00.txt",
    "a/%00/b",
    "./canary.txt",
    "a//b",
    "..",
    ".",
    "....//canary.txt",
    "file:///etc/passwd",
    "\u2025/canary.txt",
    "~/canary.txt",
]


# -- hostile request bodies ------------------------------------------------------------------
# Sent to every write route of the API (tests/api/test_hostile_bodies.py discovers them from
# /api/v1/openapi.json); none may answer 5xx. Each is (label, body bytes, Content-Type or
# None for no header). Hostile *file contents* (bombs, NUL in CSV headers) live with ingest.
JSON_CT = "application/json"
_DEEP_ARRAY = "[" * 1000 + "]" * 1000
_DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
_HUGE_TEXT = "a" * (3 * 1024 * 1024)
_LARGE_TEXT = "b" * (900 * 1024)
_FIELDS = ("name", "notes", "description", "tags", "model", "query", "role", "target",
           "version", "reason", "comment", "status", "kind", "card", "every", "path")


def _all_fields(value: str) -> bytes:
    """An object setting every usual field name to ``value`` (a JSON fragment)."""
    return ("{" + ", ".join(f'"{f}": {value}' for f in _FIELDS) + "}").encode()


HOSTILE_JSON: list[tuple[str, bytes, str | None]] = [
    ("deep array", _DEEP_ARRAY.encode(), JSON_CT),
    ("deep object", _DEEP_OBJECT.encode(), JSON_CT),
    ("deep in a field", _all_fields(_DEEP_ARRAY), JSON_CT),
    ("deep 70", _all_fields("[" * 70 + "]" * 70), JSON_CT),
    ("10^400", _all_fields("1" + "0" * 400), JSON_CT),
    ("1e400", _all_fields("1e400"), JSON_CT),
    ("5000 digits", _all_fields("9" * 5000), JSON_CT),
    ("2^64", _all_fields(str(2**64)), JSON_CT),
    ("NaN", _all_fields("NaN"), JSON_CT),
    ("Infinity", _all_fields("Infinity"), JSON_CT),
    ("-Infinity list", b"[-Infinity]", JSON_CT),
    ("lone surrogate", _all_fields('"\\ud800"'), JSON_CT),
    ("lone low surrogate", _all_fields('"x\\udfffy"'), JSON_CT),
    ("surrogate key", b'{"\\ud800": 1, "tags": {"\\udc00": "x"}}', JSON_CT),
    ("surrogate in tags", b'{"tags": {"k": "\\ud800"}, "notes": "fine"}', JSON_CT),
    ("encoded surrogate bytes", b'{"name": "\xed\xa0\x80", "notes": "\xed\xa0\x80"}', JSON_CT),
    ("raw invalid UTF-8", b'{"name": "\xff\xfe"}', JSON_CT),
    ("NUL escape", _all_fields('"a\\u0000b"'), JSON_CT),
    ("raw NUL byte", b'{"name": "a\x00b"}', JSON_CT),
    ("array", b"[]", JSON_CT),
    ("string", b'"just a string"', JSON_CT),
    ("number", b"123", JSON_CT),
    ("true", b"true", JSON_CT),
    ("null", b"null", JSON_CT),
    ("lists for strings", _all_fields('["a", "b"]'), JSON_CT),
    ("objects for strings", _all_fields('{"a": 1}'), JSON_CT),
    ("numbers for strings", _all_fields("12"), JSON_CT),
    ("booleans", _all_fields("false"), JSON_CT),
    ("nulls", _all_fields("null"), JSON_CT),
    ("negative", _all_fields("-1"), JSON_CT),
    ("empty strings", _all_fields('""'), JSON_CT),
    ("truncated", b'{"name": "x", ', JSON_CT),
    ("empty body", b"", JSON_CT),
    ("empty, no type", b"", None),
    ("json without type", _all_fields('"\\ud800"'), None),
    ("deep without type", _DEEP_ARRAY.encode(), None),
    ("huge string", _all_fields(f'"{_HUGE_TEXT[:3 * 1024 * 1024 // len(_FIELDS)]}"'), JSON_CT),
    ("large string", ('{"notes": "' + _LARGE_TEXT + '", "description": "x"}').encode(), JSON_CT),
    ("control characters", _all_fields('"\\u0001\\u001b[31m\\u007f"'), JSON_CT),
    ("text/plain", _all_fields('"x"'), "text/plain"),
    ("xml", b"<a><b>1</b></a>", "application/xml"),
    ("form urlencoded", b"name=x&notes=%00", "application/x-www-form-urlencoded"),
    ("bogus type", b"{}", "application/json; charset=utf-7"),
    ("multipart, no boundary", b"--x\r\n", "multipart/form-data"),
    ("binary", bytes(range(256)) * 64, "application/octet-stream"),
]


def _multipart(fields: list[tuple[str, bytes]], files: list[tuple[str, str, bytes]],
               boundary: str = "shipyardhostile") -> tuple[str, bytes, str]:
    out = b""
    for name, value in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                .encode() + value + b"\r\n")
    for name, filename, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return "multipart", out, f"multipart/form-data; boundary={boundary}"


_CSV = b"a,b\n1,x\n2,y\n"
_CSV_FILE = [("file", "t.csv", _CSV)]


def _form(label: str, fields: list[tuple[str, bytes]],
          files: list[tuple[str, str, bytes]] = _CSV_FILE) -> tuple[str, bytes, str]:
    _, body, ctype = _multipart(fields, files)
    return label, body, ctype


HOSTILE_FORMS: list[tuple[str, bytes, str | None]] = [
    _form("form: NUL in name", [("name", b"a\x00b")]),
    _form("form: NUL in description", [("name", b"hostile-form"), ("description", b"a\x00b")]),
    _form("form: surrogate bytes", [("name", b"hostile-form"),
                                    ("description", b"\xed\xa0\x80")]),
    _form("form: invalid UTF-8", [("name", b"\xff\xfe"), ("format", b"\xff")]),
    _form("form: deep column_types", [("name", b"hostile-form"),
                                      ("column_types", _DEEP_ARRAY.encode())]),
    _form("form: NaN source", [("name", b"hostile-form"), ("source", b'{"a": NaN}')]),
    _form("form: surrogate source", [("name", b"hostile-form"),
                                     ("source", b'{"a": "\\ud800"}')]),
    _form("form: 1e400 column_types", [("name", b"hostile-form"),
                                       ("column_types", b'{"a": 1e400}')]),
    _form("form: list column_types", [("name", b"hostile-form"), ("column_types", b"[1]")]),
    _form("form: NUL format", [("name", b"hostile-form"), ("format", b"csv\x00")]),
    _form("form: huge field", [("name", b"hostile-form"), ("description", b"d" * 2_000_000)]),
    _form("form: no file", [("name", b"hostile-form")], []),
    _form("form: empty file", [("name", b"hostile-form")], [("file", "e.csv", b"")]),
    _form("form: file name traversal", [("name", b"hostile-form")],
          [("file", "../../etc/passwd\x00.csv", _CSV)]),
    ("form: truncated", b"--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx",
     "multipart/form-data; boundary=b"),
]

#: Everything above: the corpus the hostile-body test sends to each write route.
HOSTILE_BODIES: list[tuple[str, bytes, str | None]] = HOSTILE_JSON + HOSTILE_FORMS

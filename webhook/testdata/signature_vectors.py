#!/usr/bin/env python3
"""Produces the constant vectors of sign_test.go. Run once by hand: python3 signature_vectors.py

The Go test holds the output and never runs this script. It exists so that the vectors come
from an implementation independent of ours: Python's own URL and query parsing, following the
logic of Plivo's official validator (plivo-python, plivo/utils/signature_v3.py,
validate_v3_signature):

  - base is scheme://netloc + path from urllib.parse.urlparse;
  - the URL query is read with parse_qs(keep_blank_values=True), so every query value is a
    list, decoded, '+' as space, ';' not a separator;
  - GET: the callback params are updated with the URL query (the URL's value wins), then
    written k=v sorted by key (a list gives one k=v per value, values sorted), joined by '&';
  - POST with params: base + '?' + (sorted URL query + '.' if it is not empty) + every
    param written k+v, sorted, with no separators;
  - POST without params: base + ('?' + sorted URL query if it is not empty);
  - signature = base64(HMAC-SHA256(token, s + '.' + nonce)), encodebytes() then strip().

The vectors are ASCII only on purpose. On non-ASCII text the official validator misbehaves:
it parses the URL as bytes, so a non-ASCII decoded query value raises UnicodeEncodeError, and
it formats the bytes of the string to sign with chr() per byte before encoding them as UTF-8,
so any non-ASCII character is signed double-encoded. pbxbridge signs UTF-8, as plivo-go does.
Each vector was also checked against a verbatim copy of the official functions.
"""
import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlparse

TOKEN = "test-auth-token-3c9d2a61"
NONCE = "05281749930061274835"


def sorted_pairs(m, sep):
    out = []
    for k in sorted(m):
        v = m[k]
        for x in sorted(v) if isinstance(v, list) else [v]:
            out.append(k + sep + x)
    return out


def string_to_sign(method, uri, params):
    u = urlparse(uri)
    base = u.scheme + "://" + u.netloc + u.path
    query = parse_qs(u.query, keep_blank_values=True)
    if method == "GET":
        merged = dict(params)
        merged.update(query)
        q = "&".join(sorted_pairs(merged, "="))
        return base + ("?" + q if q else "")
    q = "&".join(sorted_pairs(query, "="))
    if not params:
        return base + ("?" + q if q else "")
    return base + "?" + (q + "." if q else "") + "".join(sorted_pairs(params, ""))


def plivo_v3(method, uri, params):
    s = string_to_sign(method, uri, params)
    mac = hmac.new(TOKEN.encode(), (s + "." + NONCE).encode(), hashlib.sha256).digest()
    return s, base64.encodebytes(mac).strip().decode()


CALL = "5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b"
PLIVO = [
    ("GET", "https://app.example.net/answer?b=2&a=1&a=0",
     {"CallUUID": CALL, "From": "15550100001", "a": "mine", "Text": "hi it's"}),
    ("GET", "https://app.example.net/answer", {}),
    ("GET", "http://app.example.net:8080/a%20b/c?q=%41%2F%3d&plus=a+b&semi=1;2&bad=%zz&flag",
     {"Digits": "#", "e": "", "~t": "x"}),
    ("POST", "https://app.example.net/rec?x=1&y=a+b%26c",
     {"Digits": "#", "RecordUrl": "https://bridge.example.net/f/d2.mp3",
      "RecordingDuration": "12", "Empty": "", "k": ["b", "a"]}),
    ("POST", "https://app.example.net/rec",
     {"CallUUID": CALL, "From": "15550100001", "transcription": "hi it's sam"}),
    ("POST", "https://app.example.net/rec?z=9&a=%2B", {}),
    ("POST", "https://app.example.net/rec", {}),
    ("POST", "https://app.example.net/rec?&", {"a": "1"}),
]


def go_str(s):
    out = '"'
    for ch in s:
        if ch in '"\\':
            out += "\\" + ch
        elif 0x20 <= ord(ch) < 0x7F:
            out += ch
        else:
            out += "\\u%04x" % ord(ch)
    return out + '"'


def go_values(params):
    parts = []
    for k, v in params.items():
        vs = v if isinstance(v, list) else [v]
        parts.append("%s: {%s}" % (go_str(k), ", ".join(go_str(x) for x in vs)))
    return "url.Values{" + ", ".join(parts) + "}"


print("// Plivo V3: token %s, nonce %s" % (go_str(TOKEN), go_str(NONCE)))
for method, uri, params in PLIVO:
    s, sig = plivo_v3(method, uri, params)
    print("{%s, %s, %s,\n\t%s,\n\t%s}," % (go_str(method), go_str(uri), go_values(params), go_str(s), go_str(sig)))

# pbxbridge's own scheme (callbacks.md §4): hex HMAC-SHA256(secret, t.METHOD.URL.body).
SECRET = "whsec-test-7f0e4b5a"
for t, method, uri, body in [
    (1795284977, "POST", "https://app.example.net/flexml/after-record?x=1", '{"a":"b"}'),
    (1795284977, "GET", "https://app.example.net/flexml/after-record?x=1&CallSid=9b2e", ""),
]:
    s = "%d.%s.%s.%s" % (t, method, uri, body)
    print("{%d, %s, %s, %s, %s}," % (t, go_str(method), go_str(uri), go_str(body),
                                      go_str(hmac.new(SECRET.encode(), s.encode(), hashlib.sha256).hexdigest())))

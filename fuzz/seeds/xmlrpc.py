#!/usr/bin/env python3
"""Seed corpus for the xmlrpc_parse fuzz target.

Writes fuzz/seeds/xmlrpc_parse/ (or argv[1]): documents made by CPython's own xmlrpc.client.dumps
over values from a fixed-seed generator, plus hand-written tricky and hostile documents.
Run:  fuzz/seeds/generate.sh  (all targets), then fuzz/run.sh
"""
import hashlib
import os
import random
import sys

# This file is itself named xmlrpc.py: keep its folder from shadowing the stdlib package.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
import xmlrpc.client as X  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "xmlrpc_parse")

rng = random.Random(0x5EED)
CHARS = "ab Z09\t\n&<>'\";]=/\\éß\u00a0Ω中😀\ufffd"


def text():
    return "".join(rng.choice(CHARS) for _ in range(rng.choice([0, 1, 3, 8])))


def value(depth=0):
    k = rng.randrange(9 if depth < 3 else 7)
    if k == 0:
        return rng.choice([0, 1, -1, 2**31 - 1, -2**31, rng.randrange(-2**31, 2**31)])
    if k == 1:
        return rng.random() < 0.5
    if k == 2:
        return text()
    if k == 3:
        return rng.choice([0.0, -0.0, 0.1, 1e16, 1e-5, 5e-324, float("inf"), float("nan"),
                           rng.uniform(-1e9, 1e9)])
    if k == 4:
        return X.DateTime("%04d%02d%02dT%02d:%02d:%02d" % (rng.randrange(10000), rng.randrange(1, 13),
                          rng.randrange(1, 29), rng.randrange(24), rng.randrange(60), rng.randrange(60)))
    if k == 5:
        return X.Binary(bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 2, 3, 57, 60]))))
    if k == 6:
        return None
    if k == 7:
        return [value(depth + 1) for _ in range(rng.randrange(4))]
    return {text(): value(depth + 1) for _ in range(rng.randrange(4))}


def response(inner):
    return ("<?xml version='1.0'?><methodResponse><params><param>%s</param></params>"
            "</methodResponse>" % inner)


docs = []
for _ in range(150):
    params = tuple(value() for _ in range(rng.randrange(4)))
    docs.append(X.dumps(params, rng.choice(["get", "set", "keys", "system.multicall"]), allow_none=True))
    docs.append(X.dumps((value(),), methodresponse=True, allow_none=True))
docs.append(X.dumps(X.Fault(1, "<class 'KeyError'>:'spam'"), methodresponse=True))
docs.append(X.dumps(([{"methodName": "get", "params": ["a"]},
                      {"methodName": "set", "params": ["a", 1]}],), "system.multicall"))
for inner in [
    "<value>bare</value>", "<value/>", "<value><string/></value>", "<value><i8>-9223372036854775808</i8></value>",
    "<value><int> +1_0 </int></value>", "<value><double>-Infinity</double></value>",
    "<value><double>nan</double></value>", "<value><boolean>1</boolean></value>",
    "<value><ex:nil/></value>", "<value><base64>Y Q\n=\n=</base64></value>",
    "<value><base64>YQ==trailing</base64></value>", "<value><array><value>x</value></array></value>",
    "<value><struct><member><name>a</name><value>1</value></member>"
    "<member><name>a</name><value>2</value></member></struct></value>",
    "<value>&#13;&#x1F600;&amp;&lt;&gt;&quot;&apos;</value>", "<value>a\r\nb</value>",
    "<value><![CDATA[<x>&]]></value>", "<value><dateTime.iso8601> 20240229T13:05:09 </dateTime.iso8601></value>",
    "<value a='1' xmlns:ex='u'>x</value>", "<!-- c --><value>x<?pi x?></value>",
]:
    docs.append(response(inner))
docs += [
    "<!DOCTYPE x [<!ENTITY a 'b'>]><methodCall><methodName>&a;</methodName></methodCall>",
    "<methodCall><methodName>x</methodName><params><param><value>&xxe;</value></param></params></methodCall>",
    "<?xml version='1.0' encoding='iso-8859-1'?><methodCall><methodName>f\xe9</methodName></methodCall>",
    "\ufeff<methodCall><methodName>bom</methodName></methodCall>",
    "<methodCall><methodName>x</methodName>" + "<value><array><data>" * 40,
]

os.makedirs(OUT, exist_ok=True)
for d in docs:
    data = d.encode("latin-1") if "iso-8859-1" in d else d.encode("utf-8")
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(docs), os.path.normpath(OUT)))

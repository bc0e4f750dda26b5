# Everything a client can observe, printed one line per call; run against the recipe's
# server (with introspection and multicall) and against netkit, the outputs must match.
import datetime, sys, xmlrpc.client
from xmlrpc.client import ServerProxy, MultiCall, Fault, Binary, DateTime

s = ServerProxy(sys.argv[1], allow_none=True)


def show(v):
    if isinstance(v, DateTime):
        return "DateTime(%r)" % v.value
    if isinstance(v, Binary):
        return "Binary(%r)" % v.data
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%r: %s" % (k, show(x)) for k, x in v.items()) + "}"
    return repr(v)


def call(label, f, *args):
    try:
        print(label, show(f(*args)))
    except Fault as e:
        print(label, "Fault", e.faultCode, e.faultString)


values = [0, -1, 2**31 - 1, -2**31, True, False, "", "plain", "ünïcødé ☃ 𝄞", "<&>'\"",
          "  spaces  ", 1.5, -0.0, 1e300, 1.0 / 3, None, [], {}, [1, [2, [3, []]]],
          {"a": 1, "b": [None, {"c": "d"}]}, DateTime("20240229T13:05:09"),
          Binary(b"\x00\x01\xff" * 50), "x" * 3000]
for i, v in enumerate(values):
    call("set%d" % i, s.set, "k%d" % i, v)
    call("get%d" % i, s.get, "k%d" % i)
call("keys", s.keys)
# Python dict semantics: 1, 1.0 and True are one key; re-set keeps the place.
call("set-int", s.set, 1, "one")
call("set-true", s.set, True, "true")
call("get-float", s.get, 1.0)
call("set-none", s.set, None, "none")
call("set-float", s.set, 2.5, "f")
call("reset", s.set, "k0", "again")
call("del", s.delete, "k1")
call("readd", s.set, "k1", "back")
call("keys2", s.keys)
call("exists", s.exists, "k1")
call("exists-no", s.exists, "nope")
call("exists-float", s.exists, 2.5)
# Faults, with Python's own texts.
call("get-missing", s.get, "spam")
call("get-missing-int", s.get, 42)
call("get-missing-quote", s.get, "it's")
call("del-missing", s.delete, "spam")
call("unhashable", s.get, [1])
call("unhashable-dict", s.set, {"a": 1}, 1)
call("unhashable-exists", s.exists, [])
call("unhashable-binary", s.get, Binary(b"x"))
call("unknown", s.nope)
call("unknown-dotted", getattr(s, "system.nope"))
call("no-args", s.get)
call("too-many", s.get, 1, 2)
call("set-one", s.set, "a")
call("set-none-args", s.set)
call("keys-arg", s.keys, 1)
call("exists-no-args", s.exists)
call("delete-no-args", s.delete)
call("list", s.system.listMethods)
for m in ["system.listMethods", "system.methodHelp", "system.methodSignature",
          "system.multicall", "get", "nope"]:
    call("help " + m, s.system.methodHelp, m)
call("sig", s.system.methodSignature, "get")
call("sig-no-args", s.system.methodSignature)
call("list-arg", s.system.listMethods, 1)
# multicall
m = MultiCall(s)
m.set("mc", [1, 2])
m.get("mc")
m.get("missing")
m.nope()
m.keys(1)
m.exists("mc")
r = m()
print("multicall", show(r.results))
call("multicall-raw", s.system.multicall, [{"methodName": "get", "params": ["mc"]},
                                            {"methodName": "get"}])
call("multicall-bad", s.system.multicall, [{"methodName": 5, "params": []}, "x"])
call("multicall-nested", s.system.multicall,
     [{"methodName": "system.multicall", "params": [[{"methodName": "get", "params": ["mc"]}]]}])
call("multicall-empty", s.system.multicall, [])
call("multicall-none", s.system.multicall)
call("keys3", s.keys)
# A big answer comes back gzipped when accepted, and a big request can be gzipped.
t = xmlrpc.client.Transport()
t.encode_threshold = 0
g = ServerProxy(sys.argv[1], allow_none=True, transport=t)
call("gz-set", g.set, "gz", "y" * 100000)
call("gz-get", lambda: len(g.get("gz")))

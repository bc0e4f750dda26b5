"""Drives netkit's httpbin with Python's stdlib clients (urllib.request, http.client) and
checks exact statuses, headers and JSON shapes. Usage: check_httpbin.py BASE_URL"""
import base64
import gzip
import http.client
import io
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib

BASE = sys.argv[1].rstrip("/")
HOST = urllib.parse.urlsplit(BASE).netloc
UA = "Python-urllib/%d.%d" % sys.version_info[:2]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


plain = urllib.request.build_opener(NoRedirect)


def fetch(path, data=None, headers=None, method=None, follow=True):
    req = urllib.request.Request(BASE + path, data=data, headers=headers or {}, method=method)
    opener = urllib.request.build_opener() if follow else plain
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def check(label, got, want):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (label, got, want))


def base_headers(extra=None):
    h = {"Accept-Encoding": "identity", "Host": HOST, "User-Agent": UA, "Connection": "close"}
    h.update(extra or {})
    return h


# /get: args (once a string, repeated a list), headers, origin, url -- in that order.
status, headers, body = fetch("/get?a=1&b=2&b=3&e=%C3%A9")
check("get status", status, 200)
check("get content-type", headers["Content-Type"], "application/json")
check("cors", headers["Access-Control-Allow-Origin"], "*")
check("cors credentials", headers["Access-Control-Allow-Credentials"], "true")
doc = json.loads(body)
check("get keys", list(doc), ["args", "headers", "origin", "url"])
check("get args", doc["args"], {"a": "1", "b": ["2", "3"], "e": "\u00e9"})
check("get headers", doc["headers"], base_headers())
check("get origin", doc["origin"], "127.0.0.1")
check("get url", doc["url"], BASE + "/get?a=1&b=2&b=3&e=%C3%A9")
check("pretty", body.startswith(b'{\n  "args": {\n'), True)

# /post with JSON, a urlencoded form, multipart with a file, raw bytes.
status, _, body = fetch("/post", data=b'{"k": [1, 2]}', headers={"Content-Type": "application/json"})
doc = json.loads(body)
check("post status", status, 200)
check("post keys", list(doc), ["args", "data", "files", "form", "headers", "json", "origin", "url"])
check("post json", doc["json"], {"k": [1, 2]})
check("post data", doc["data"], '{"k": [1, 2]}')
check("post form", doc["form"], {})
check("post files", doc["files"], {})

status, _, body = fetch("/post?q=1", data=urllib.parse.urlencode([("a", "1"), ("a", "2"), ("b", "x y")]).encode())
doc = json.loads(body)
check("form", doc["form"], {"a": ["1", "2"], "b": "x y"})
check("form data", doc["data"], "")
check("form json", doc["json"], None)
check("form args", doc["args"], {"q": "1"})

boundary = "XyZ"
multipart = (
    "--XyZ\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.txt\"\r\n"
    "Content-Type: text/plain\r\n\r\nfile text\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"bin\"; filename=\"b.bin\"\r\n"
    "Content-Type: application/x-thing\r\n\r\n"
).encode() + b"\xff\x00" + b"\r\n--XyZ--\r\n"
status, _, body = fetch("/post", data=multipart, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
doc = json.loads(body)
check("multipart form", doc["form"], {"field": "value"})
check("multipart files", doc["files"], {"up": "file text", "bin": "data:application/x-thing;base64,/wA="})

status, _, body = fetch("/post", data=b"\xff\xfe", headers={"Content-Type": "application/octet-stream"})
check("binary data", json.loads(body)["data"], "data:application/octet-stream;base64,//4=")

for method in ["PUT", "PATCH", "DELETE"]:
    status, _, body = fetch("/" + method.lower(), data=b"x", method=method, headers={"Content-Type": "text/plain"})
    check(method, (status, json.loads(body)["data"]), (200, "x"))
status, headers, _ = fetch("/get", data=b"x", method="POST")
check("405", status, 405)
check("405 allow", headers["Allow"], "GET")

status, _, body = fetch("/anything/a/b?x=1", data=b"hi", method="PUT", headers={"Content-Type": "text/plain"})
doc = json.loads(body)
check("anything keys", list(doc), ["args", "data", "files", "form", "headers", "json", "method", "origin", "url"])
check("anything method", doc["method"], "PUT")
check("anything url", doc["url"], BASE + "/anything/a/b?x=1")

# Inspection
check("headers", json.loads(fetch("/headers", headers={"X-Thing": "1"})[2]), {"headers": base_headers({"X-Thing": "1"})})
check("ip", json.loads(fetch("/ip")[2]), {"origin": "127.0.0.1"})
check("forwarded ip", json.loads(fetch("/ip", headers={"X-Forwarded-For": "10.0.0.1"})[2]), {"origin": "10.0.0.1"})
check("user-agent", json.loads(fetch("/user-agent")[2]), {"user-agent": UA})
u = json.loads(fetch("/uuid")[2])["uuid"]
check("uuid", (len(u), u.count("-"), u[14]), (36, 4, "4"))

# Status codes
check("status 204", fetch("/status/204")[0], 204)
check("status list", fetch("/status/500:0,201:1")[0], 201)
status, headers, body = fetch("/status/418")
check("teapot", (status, headers["x-more-info"], b"teapot" in body), (418, "http://tools.ietf.org/html/rfc2324", True))
status, headers, _ = fetch("/status/401")
check("401", (status, headers["WWW-Authenticate"]), (401, 'Basic realm="Fake Realm"'))
check("bad status", fetch("/status/abc")[0], 400)
check("unstable 0", fetch("/unstable?failure_rate=0")[0], 200)
check("unstable 1", fetch("/unstable?failure_rate=1")[0], 500)

# Redirects: followed by urllib, and one hop at a time.
status, _, body = fetch("/redirect/3")
check("redirect followed", (status, json.loads(body)["url"]), (200, BASE + "/get"))
check("redirect hop", fetch("/redirect/2", follow=False)[1]["Location"], "/relative-redirect/1")
check("absolute hop", fetch("/redirect/2?absolute=true", follow=False)[1]["Location"], BASE + "/absolute-redirect/1")
check("absolute last", fetch("/absolute-redirect/1", follow=False)[1]["Location"], BASE + "/get")
status, headers, _ = fetch("/redirect-to?url=/get&status_code=307", follow=False)
check("redirect-to", (status, headers["Location"]), (307, "/get"))
check("no open redirect", fetch("/redirect-to?url=http://example.com/", follow=False)[0], 403)

# Cookies: set (302 to /cookies), read back, delete.
status, headers, _ = fetch("/cookies/set?k1=v1&k2=v2", follow=False)
check("cookies set", (status, headers["Location"], headers.get_all("Set-Cookie")), (302, "/cookies", ["k1=v1; Path=/", "k2=v2; Path=/"]))
status, headers, _ = fetch("/cookies/set/name/va%20l", follow=False)
check("cookie bad value", status, 400)
check("cookies", json.loads(fetch("/cookies", headers={"Cookie": "a=1; b=2"})[2]), {"cookies": {"a": "1", "b": "2"}})
status, headers, _ = fetch("/cookies/delete?a", follow=False)
check("cookie delete", headers["Set-Cookie"], "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
check("cookie injection", fetch("/cookies/set?a=1;%20Domain=evil", follow=False)[0], 400)

# Auth
cred = "Basic " + base64.b64encode(b"user:pw").decode()
status, _, body = fetch("/basic-auth/user/pw", headers={"Authorization": cred})
check("basic ok", (status, json.loads(body)), (200, {"authenticated": True, "user": "user"}))
status, headers, _ = fetch("/basic-auth/user/other", headers={"Authorization": cred})
check("basic wrong", (status, headers["WWW-Authenticate"]), (401, 'Basic realm="Fake Realm"'))
check("hidden", fetch("/hidden-basic-auth/user/other")[0], 404)
status, _, body = fetch("/bearer", headers={"Authorization": "Bearer tok"})
check("bearer", (status, json.loads(body)), (200, {"authenticated": True, "token": "tok"}))
check("bearer missing", fetch("/bearer")[0], 401)

# Formats
status, headers, body = fetch("/gzip", headers={"Accept-Encoding": "gzip"})
doc = json.loads(gzip.decompress(body))
check("gzip", (headers["Content-Encoding"], list(doc), doc["gzipped"], doc["method"]), ("gzip", ["gzipped", "headers", "method", "origin"], True, "GET"))
status, headers, body = fetch("/deflate")
doc = json.loads(zlib.decompress(body))
check("deflate", (headers["Content-Encoding"], doc["deflated"]), ("deflate", True))
check("json", json.loads(fetch("/json")[2])["slideshow"]["title"], "Sample Slide Show")
check("xml", fetch("/xml")[1]["Content-Type"], "application/xml")
check("html", fetch("/html")[2].startswith(b"<!DOCTYPE html>"), True)
check("robots", fetch("/robots.txt")[2], b"User-agent: *\nDisallow: /deny\n")
check("deny", b"YOU SHOULDN'T BE HERE" in fetch("/deny")[2], True)
check("base64", fetch("/base64/SFRUUEJJTiBpcyBhd2Vzb21l")[2], b"HTTPBIN is awesome")
check("base64 bad", fetch("/base64/!!!")[2], b"Incorrect Base64 data try: SFRUUEJJTiBpcyBhd2Vzb21l")

# Dynamic data
status, headers, body = fetch("/bytes/1024?seed=7")
check("bytes", (status, headers["Content-Type"], len(body)), (200, "application/octet-stream", 1024))
check("bytes seeded", fetch("/bytes/1024?seed=7")[2], body)
check("bytes capped", len(fetch("/bytes/999999999")[2]), 100 * 1024)
check("stream-bytes", len(fetch("/stream-bytes/5000?chunk_size=1000&seed=1")[2]), 5000)
lines = fetch("/stream/3")[2].decode().splitlines()
check("stream ids", [json.loads(l)["id"] for l in lines], [0, 1, 2])
check("stream keys", list(json.loads(lines[0])), ["url", "args", "headers", "origin", "id"])
status, headers, body = fetch("/range/26", headers={"Range": "bytes=2-4"})
check("range", (status, headers["Content-Range"], body), (206, "bytes 2-4/26", b"cde"))
check("range full", fetch("/range/26")[2], b"abcdefghijklmnopqrstuvwxyz")
check("range 416", fetch("/range/26", headers={"Range": "bytes=30-"})[0], 416)
status, headers, body = fetch("/drip?duration=0&numbytes=5&code=201")
check("drip", (status, body), (201, b"*****"))
check("drip too long", fetch("/drip?duration=1000")[0], 400)
status, _, body = fetch("/delay/0")
check("delay", (status, list(json.loads(body))), (200, ["args", "data", "files", "form", "headers", "origin", "url"]))
check("links", fetch("/links/3/1")[2], b"<html><head><title>Links</title></head><body><a href='/links/3/0'>0</a> 1 <a href='/links/3/2'>2</a> </body></html>")

# Caching
status, headers, _ = fetch("/cache")
check("cache", (status, "Last-Modified" in headers, "ETag" in headers), (200, True, True))
check("cache 304", fetch("/cache", headers={"If-None-Match": "x"})[0], 304)
check("cache/n", fetch("/cache/60")[1]["Cache-Control"], "public, max-age=60")
status, headers, _ = fetch("/etag/abc")
check("etag", (status, headers["ETag"]), (200, '"abc"'))
check("etag 304", fetch("/etag/abc", headers={"If-None-Match": '"abc"'})[0], 304)
check("etag 412", fetch("/etag/abc", headers={"If-Match": '"zzz"'})[0], 412)
status, headers, body = fetch("/response-headers?X-A=1&X-A=2&freeform=hi")
doc = json.loads(body)
check("response-headers", (headers.get_all("X-A"), headers["freeform"]), (["1", "2"], "hi"))
check("response-headers body", doc, {"Content-Length": str(len(body)), "Content-Type": "application/json", "X-A": ["1", "2"], "freeform": "hi"})

# CORS preflight and HEAD, over http.client.
conn = http.client.HTTPConnection(HOST, timeout=30)
conn.request("OPTIONS", "/get", headers={"Origin": "https://a.example", "Access-Control-Request-Headers": "X-Custom"})
resp = conn.getresponse()
resp.read()
check("preflight", (resp.status, resp.getheader("Access-Control-Allow-Origin"), resp.getheader("Access-Control-Allow-Headers"), resp.getheader("Access-Control-Max-Age")), (200, "https://a.example", "X-Custom", "3600"))
conn.request("HEAD", "/bytes/100")
resp = conn.getresponse()
check("head", (resp.status, resp.getheader("Content-Length"), resp.read()), (200, "100", b""))
# Keep-alive: several requests on the one connection.
for _ in range(3):
    conn.request("GET", "/get")
    resp = conn.getresponse()
    check("keep-alive", resp.status, 200)
    resp.read()
conn.close()

# Digest auth: urllib's own handler (MD5, qop=auth), then SHA-256 with qop=auth-int by hand.
mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
mgr.add_password(None, BASE, "user", "pw")
opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(mgr))
with opener.open(BASE + "/digest-auth/auth/user/pw", timeout=30) as resp:
    check("digest md5", (resp.status, json.loads(resp.read())), (200, {"authenticated": True, "user": "user"}))
status, headers, _ = fetch("/digest-auth/auth-int/user/pw/SHA-256")
challenge = headers["WWW-Authenticate"]
check("digest challenge", (status, challenge.startswith('Digest realm="me@kennethreitz.com", nonce="'), "algorithm=SHA-256" in challenge, 'qop="auth-int"' in challenge), (401, True, True, True))
import hashlib, re
nonce = re.search(r'nonce="([^"]+)"', challenge).group(1)
h = lambda t: hashlib.sha256(t).hexdigest()
uri, body_bytes = "/digest-auth/auth-int/user/pw/SHA-256", b"payload"
ha1 = h(b"user:me@kennethreitz.com:pw")
ha2 = h(("POST:%s:%s" % (uri, h(body_bytes))).encode())
resp_hash = h(("%s:%s:00000001:abc:auth-int:%s" % (ha1, nonce, ha2)).encode())
auth = 'Digest username="user", realm="me@kennethreitz.com", nonce="%s", uri="%s", qop=auth-int, nc=00000001, cnonce="abc", response="%s", algorithm=SHA-256' % (nonce, uri, resp_hash)
status, _, body = fetch(uri, data=body_bytes, headers={"Authorization": auth, "Content-Type": "text/plain"})
check("digest sha-256 auth-int", (status, json.loads(body)["authenticated"]), (200, True))
status, _, _ = fetch(uri, data=b"tampered", headers={"Authorization": auth, "Content-Type": "text/plain"})
check("digest auth-int tampered body", status, 401)

# Server-sent events, trailers, SVG.
status, headers, body = fetch("/sse?count=3&duration=0")
check("sse type", headers["Content-Type"], "text/event-stream; charset=utf-8")
events = [e for e in body.decode().split("\n\n") if e]
check("sse ids", [e.splitlines()[:2] for e in events], [["event: ping", "id: %d" % i] for i in range(3)])
check("sse data", json.loads(events[2].splitlines()[2][len("data: "):])["id"], 2)
check("sse too long", fetch("/sse?duration=1000")[0], 400)
status, headers, body = fetch("/trailers?X-Sum=abc")
check("trailers", (status, headers["Trailer"], json.loads(body)["args"]), (200, "x-sum", {"X-Sum": "abc"}))
status, headers, body = fetch("/image/svg")
check("svg", (status, headers["Content-Type"], body.startswith(b"<?xml")), (200, "image/svg+xml", True))

# Unknown paths: the recipe's 404.
status, headers, body = fetch("/no/such/path")
check("404", (status, headers["Content-Type"], body), (404, "text/plain", b"Not Found"))
print("ok")

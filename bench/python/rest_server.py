"""Recipe 11.5 of the Python Cookbook, verbatim but for the launch: a WSGI PathDispatcher
serving GET /hello and GET /localtime on wsgiref. Used by bench/http.sh and the interop
tests as the reference for netkit's /hello and /localtime.

Usage: python3 rest_server.py [PORT]   (prints the bound port on the first line)
"""
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # cgi is deprecated in 3.11

import cgi
import time

def notfound_404(environ, start_response):
    start_response('404 Not Found', [ ('Content-type', 'text/plain') ])
    return [b'Not Found']

class PathDispatcher:
    def __init__(self):
        self.pathmap = { }

    def __call__(self, environ, start_response):
        path = environ['PATH_INFO']
        params = cgi.FieldStorage(environ['wsgi.input'], environ=environ)
        method = environ['REQUEST_METHOD'].lower()
        environ['params'] = { key: params.getvalue(key) for key in params }
        handler = self.pathmap.get((method,path), notfound_404)
        return handler(environ, start_response)

    def register(self, method, path, function):
        self.pathmap[method.lower(), path] = function
        return function

_hello_resp = '''\
                <html>
                <head>
                <title>Hello {name}</title>
                </head>
                <body>
                <h1>Hello {name}!</h1>
                </body>
                </html>'''

def hello_world(environ, start_response):
    start_response('200 OK', [ ('Content-type','text/html')])
    params = environ['params']
    resp = _hello_resp.format(name=params.get('name'))
    yield resp.encode('utf-8')

_localtime_resp = '''\
                    <html>
                    <time>
                    <year>{t.tm_year}</year>
                    <month>{t.tm_mon}</month>
                    <day>{t.tm_mday}</day>
                    <hour>{t.tm_hour}</hour>
                    <minute>{t.tm_min}</minute>
                    <second>{t.tm_sec}</second>
                    </time>
                    </html>'''

def localtime(environ, start_response):
    start_response('200 OK', [ ('Content-type', 'application/html') ])
    resp = _localtime_resp.format(t=time.localtime())
    yield resp.encode('utf-8')

if __name__ == '__main__':
    from wsgiref.simple_server import make_server, WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    dispatcher = PathDispatcher()
    dispatcher.register('GET', '/hello', hello_world)
    dispatcher.register('GET', '/localtime', localtime)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    httpd = make_server('127.0.0.1', port, dispatcher, handler_class=QuietHandler)
    print(httpd.server_port, flush=True)
    httpd.serve_forever()

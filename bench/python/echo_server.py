"""Recipe 2's echo server made concurrent the way the recipe suggests
(socketserver.ThreadingTCPServer), bound to a free port that it prints first."""
import sys
from socketserver import BaseRequestHandler, ThreadingTCPServer


class EchoHandler(BaseRequestHandler):
    def handle(self):
        while True:
            msg = self.request.recv(8192)
            if not msg:
                break
            self.request.sendall(msg)


if __name__ == '__main__':
    host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
    ThreadingTCPServer.daemon_threads = True
    ThreadingTCPServer.allow_reuse_address = True
    serv = ThreadingTCPServer((host, 0), EchoHandler)
    print(serv.server_address[1], flush=True)
    serv.serve_forever()

# Recipe 11.11's server, unchanged but for the arguments and for printing its port
# once it listens (port 0 picks a free one).
from multiprocessing.connection import Listener
from multiprocessing.reduction import send_handle
import sys
from socket import socket, AF_INET, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR

def server(work_address, port, authkey):
    # Wait for the worker to connect
    work_serv = Listener(work_address, authkey=authkey)
    worker = work_serv.accept()
    worker_pid = worker.recv()

    # Now run a TCP/IP server and send clients to worker
    s = socket(AF_INET, SOCK_STREAM)
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, True)
    s.bind(('127.0.0.1', port))
    s.listen(128)
    print(s.getsockname()[1], flush=True)
    while True:
        client, addr = s.accept()
        send_handle(worker, client.fileno(), worker_pid)
        client.close()

if __name__ == '__main__':
    server(sys.argv[1], int(sys.argv[2]), sys.argv[3].encode())

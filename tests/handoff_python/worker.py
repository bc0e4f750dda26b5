# Recipe 11.11's worker, unchanged but for taking the socket path and authkey from argv.
from multiprocessing.connection import Client
from multiprocessing.reduction import recv_handle
import os
import sys
from socket import socket, AF_INET, SOCK_STREAM

def worker(server_address, authkey):
    serv = Client(server_address, authkey=authkey)
    serv.send(os.getpid())
    while True:
        fd = recv_handle(serv)
        print('WORKER: GOT FD', fd, flush=True)
        with socket(AF_INET, SOCK_STREAM, fileno=fd) as client:
            while True:
                msg = client.recv(1024)
                if not msg:
                    break
                print('WORKER: RECV {!r}'.format(msg), flush=True)
                client.send(msg)

if __name__ == '__main__':
    worker(sys.argv[1], sys.argv[2].encode())

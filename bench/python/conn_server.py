"""Recipe 7's echo server as printed (one client at a time), on a free port it prints."""
from multiprocessing.connection import Listener


def echo_client(conn):
    try:
        while True:
            msg = conn.recv()
            conn.send(msg)
    except EOFError:
        pass


if __name__ == '__main__':
    serv = Listener(('127.0.0.1', 0), authkey=b'peekaboo')
    print(serv.address[1], flush=True)
    while True:
        echo_client(serv.accept())

"""Recipe 8's RPC server as printed (a thread per client), on a free port it prints."""
import pickle
from multiprocessing.connection import Listener
from threading import Thread


class RPCHandler:
    def __init__(self):
        self._functions = {}

    def register_function(self, func):
        self._functions[func.__name__] = func

    def handle_connection(self, connection):
        try:
            while True:
                func_name, args, kwargs = pickle.loads(connection.recv())
                try:
                    r = self._functions[func_name](*args, **kwargs)
                    connection.send(pickle.dumps(r))
                except Exception as e:
                    connection.send(pickle.dumps(e))
        except EOFError:
            pass


def add(x, y):
    return x + y


def sub(x, y):
    return x - y


if __name__ == '__main__':
    handler = RPCHandler()
    handler.register_function(add)
    handler.register_function(sub)
    sock = Listener(('127.0.0.1', 0), authkey=b'peekaboo')
    print(sock.address[1], flush=True)
    while True:
        client = sock.accept()
        t = Thread(target=handler.handle_connection, args=(client,), daemon=True)
        t.start()

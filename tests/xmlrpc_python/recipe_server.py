# Recipe 6's KeyValueServer, verbatim but for the port (argv[1], 0 = free; printed first)
# and, with argv[2] == "full", Python's own introspection and multicall registered.
import sys
from xmlrpc.server import SimpleXMLRPCServer


class KeyValueServer:
    _rpc_methods_ = ["get", "set", "delete", "exists", "keys"]

    def __init__(self, address):
        self._data = {}
        self._serv = SimpleXMLRPCServer(address, allow_none=True, logRequests=False)
        for name in self._rpc_methods_:
            self._serv.register_function(getattr(self, name))

    def get(self, name):
        return self._data[name]

    def set(self, name, value):
        self._data[name] = value

    def delete(self, name):
        del self._data[name]

    def exists(self, name):
        return name in self._data

    def keys(self):
        return list(self._data)

    def serve_forever(self):
        self._serv.serve_forever()


if __name__ == "__main__":
    kvserv = KeyValueServer(("127.0.0.1", int(sys.argv[1])))
    if sys.argv[2:] == ["full"]:
        kvserv._serv.register_introspection_functions()
        kvserv._serv.register_multicall_functions()
    print(kvserv._serv.server_address[1], flush=True)
    kvserv.serve_forever()

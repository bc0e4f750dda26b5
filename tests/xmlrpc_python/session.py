# The recipe's interactive session, printed as the REPL shows it.
import sys
from xmlrpc.client import ServerProxy
s = ServerProxy(sys.argv[1], allow_none=True)
for expr in ["s.set('foo', 'bar')", "s.set('spam', [1, 2, 3])", "s.keys()", "s.get('foo')",
             "s.get('spam')", "s.delete('spam')", "s.exists('spam')"]:
    print(">>> " + expr)
    result = eval(expr)
    if result is not None:
        print(repr(result))

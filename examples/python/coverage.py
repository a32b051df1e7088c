"""coverage: a tracker breakpoint on every function of the program; prints how often each ran.

    python coverage.py PROGRAM [ARGS...]
"""
import os
import sys

import oxtrace

trace = oxtrace.Trace.spawn(sys.argv[1:])
program = next(lib.name for lib in trace.libraries() if lib.path == os.path.realpath(sys.argv[1]))
functions = {}
for module, name, addr, size, kind in trace.symbol_table(program):
    if kind == "function" and addr not in functions:
        functions[addr] = name
        trace.add_breakpoint(addr, kind="tracker")  # counts its hits, never stops
trace.set_mode("RunForever", True)
trace.run()
hits = {bp.addr: bp.hits for bp in trace.breakpoints()}
for addr, name in sorted(functions.items(), key=lambda f: (-hits[f[0]], f[1])):
    print(f"{hits[addr]:>10}  {name}")

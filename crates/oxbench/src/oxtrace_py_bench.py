"""oxtrace's Python module: breakpoint hits through a Python callback. Prints '<events> <seconds>'."""
import sys
import time

import oxtrace

addr, program, n = int(sys.argv[1], 0), sys.argv[2], sys.argv[3]
trace = oxtrace.Trace.spawn([program, n])
hits = [0]


def on_hit(t, event):
    hits[0] += 1
    t.run_again()


trace.add_breakpoint(addr, on_hit)
start = time.perf_counter()
trace.run()
print(hits[0], time.perf_counter() - start)

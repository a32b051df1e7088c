"""vtrace's API (vivisect's own vtrace, or oxtrace's layer, whichever `import vtrace` finds):
breakpoint hits through a Breakpoint subclass's notify, in RunForever mode. Prints '<events> <seconds>'."""
import sys
import time

import vtrace

addr, program, n = int(sys.argv[1], 0), sys.argv[2], sys.argv[3]


class Counter(vtrace.Breakpoint):
    hits = 0

    def notify(self, event, trace):
        Counter.hits += 1


trace = vtrace.getTrace()
trace.execute("%s %s" % (program, n))
trace.addBreakpoint(Counter(addr))
trace.setMode("RunForever", True)
start = time.perf_counter()
trace.run()
print(Counter.hits, time.perf_counter() - start)
trace.release()

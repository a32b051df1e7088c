"""libdebug: breakpoint hits through a callback, or single steps. Prints '<events> <seconds>'."""
import sys
import time

from libdebug import debugger

mode, addr, program, n = sys.argv[1], int(sys.argv[2], 0), sys.argv[3], sys.argv[4]
steps = int(sys.argv[5]) if len(sys.argv) > 5 else 0
d = debugger([program, n])
d.run()
if mode == "break":
    hits = [0]

    def on_hit(thread, bp):
        hits[0] += 1

    d.breakpoint(addr, callback=on_hit, file="absolute")
    start = time.perf_counter()
    d.cont()
    d.wait()
    print(hits[0], time.perf_counter() - start)
    d.kill()
else:
    bp = d.breakpoint(addr, file="absolute")
    d.cont()
    d.wait()
    bp.disable()
    start = time.perf_counter()
    for _ in range(steps):
        d.step()
    print(steps, time.perf_counter() - start)
    d.kill()

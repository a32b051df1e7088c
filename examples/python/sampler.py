"""sampler: interrupts the program HZ times a second and counts where its threads are.

    python sampler.py HZ PROGRAM [ARGS...]
"""
import collections
import sys

import oxtrace

hz, argv = float(sys.argv[1]), sys.argv[2:]
trace = oxtrace.Trace.spawn(argv)
stopper, where = trace.interrupter(), collections.Counter()
trace.start()
while True:
    event = trace.wait(1 / hz)
    if event is None:  # still running: stop it and take a sample
        stopper.interrupt()
        event = trace.wait()
    if event.kind == "exited":
        break
    for tid in trace.threads():
        pc = trace.thread_regs(tid).rip
        where[(trace.sym_by_addr(pc, exact=False) or hex(pc)).split("+")[0]] += 1
    trace.start()
total = sum(where.values()) or 1
for name, count in where.most_common(10):
    print(f"{100 * count / total:>6.1f}%  {count:>6}  {name}")

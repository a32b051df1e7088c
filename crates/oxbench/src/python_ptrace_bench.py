"""python-ptrace: breakpoint hits (hit, restore, step, re-arm) or single steps. Prints '<events> <seconds>'."""
import signal
import sys
import time

from ptrace.debugger import PtraceDebugger, ProcessExit
from ptrace.debugger.child import createChild

mode, addr, program, n = sys.argv[1], int(sys.argv[2], 0), sys.argv[3], sys.argv[4]
steps = int(sys.argv[5]) if len(sys.argv) > 5 else 0
debugger = PtraceDebugger()
process = debugger.addProcess(createChild([program, n], no_stdout=False, env=None), is_attached=True)


def hit_and_step_over():
    ip = process.getInstrPointer()
    process.findBreakpoint(ip - 1).desinstall(set_ip=True)
    process.singleStep()
    process.waitSignals(signal.SIGTRAP)
    process.createBreakpoint(addr)


process.createBreakpoint(addr)
if mode == "break":
    hits = 0
    start = time.perf_counter()
    while True:
        process.cont()
        try:
            event = debugger.waitProcessEvent()
        except ProcessExit:
            break
        if isinstance(event, ProcessExit):
            break
        hits += 1
        hit_and_step_over()
    print(hits, time.perf_counter() - start)
else:
    process.cont()
    debugger.waitProcessEvent()
    hit_and_step_over()
    process.findBreakpoint(addr).desinstall()
    start = time.perf_counter()
    for _ in range(steps):
        process.singleStep()
        process.waitSignals(signal.SIGTRAP)
    print(steps, time.perf_counter() - start)
    process.terminate()

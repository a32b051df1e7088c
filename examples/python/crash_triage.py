"""crash_triage: runs a program to a fatal signal: signal, fault address, registers, the
faulting instruction and the call stack; saves the crash as a snapshot (crash.core).

    python crash_triage.py PROGRAM [ARGS...]
"""
import signal
import sys

import oxtrace

FATAL = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
trace = oxtrace.Trace.spawn(sys.argv[1:])
event = trace.run()
while event.kind == "signal" and event.signo not in FATAL:
    event = trace.run()
if event.kind != "signal":
    sys.exit(f"no crash: the program {event.kind} ({event.exit_code})")
print(f"signal {signal.Signals(event.signo).name} at {event.fault_addr or 0:#x} in thread {event.tid}")
regs = trace.regs.to_dict()
print("  ".join(f"{name}={value:#x}" for name, value in regs.items()))
print(f"faulting instruction: {trace.disassemble()[0]}")
for frame in trace.backtrace():
    print(frame)
print(f"snapshot: crash.core ({trace.save_snapshot('crash.core')} bytes)")
trace.kill()

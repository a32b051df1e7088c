"""strace: every system call of a program and its threads, one line each: [tid] name(args) = result.

    python strace.py PROGRAM [ARGS...]
"""
import sys

import oxtrace

trace = oxtrace.Trace.spawn(sys.argv[1:])
trace.set_mode("Syscall", True)
entered = {}  # tid -> the call as it entered, printed when it returns
while True:
    event = trace.run()
    if event.kind == "syscall" and event.entry:
        args = ", ".join(hex(a) for a in event.args)
        entered[event.tid] = f"{event.name or 'syscall_%d' % event.number}({args})"
    elif event.kind == "syscall":
        print(f"[{event.tid}] {entered.pop(event.tid, '?')} = {event.ret}")
    elif event.kind == "exited":
        for tid, call in entered.items():  # calls that never return (exit_group)
            print(f"[{tid}] {call} = ?")
        print(f"+++ exited with {event.exit_code if event.signal is None else 'signal %d' % event.signal} +++")
        break

"""malloc_trace: hooks malloc, calloc, realloc and free; at the end, the leaks with the stack that allocated them.

    python malloc_trace.py PROGRAM [ARGS...]
"""
import sys

import oxtrace

trace = oxtrace.Trace.spawn(sys.argv[1:])
live = {}  # address -> (size, the stack that allocated it)


def allocated(size_of):  # a post hook: at the return, with the result
    return lambda t, call, ret: ret and live.update({ret: (size_of(call.args), t.backtrace())})


def freed(t, call):
    live.pop(call.args[0], None)


trace.add_hook("libc.malloc", post=allocated(lambda a: a[0]), argc=1)
trace.add_hook("libc.calloc", post=allocated(lambda a: a[0] * a[1]), argc=2)
trace.add_hook("libc.realloc", pre=freed, post=allocated(lambda a: a[1]), argc=2)
trace.add_hook("libc.free", pre=freed, argc=1)
trace.set_mode("RunForever", True)
trace.run()
for addr, (size, stack) in sorted(live.items()):
    print(f"leak: {size} bytes at {addr:#x}, allocated at", *stack, sep="\n    ")

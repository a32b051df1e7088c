"""oxtrace: a programmatic debugger framework.

Start or attach to a process, stop it at breakpoints, step it, read and change
its memory and registers, follow its threads and signals, and get every change
as an event::

    import oxtrace
    trace = oxtrace.Trace.spawn(["/bin/ls", "-l"])
    trace.add_breakpoint("libc.write", lambda t, e: print(hex(t.regs.rdi)) or t.run_again())
    trace.set_mode("RunForever", True)
    print(trace.run())          # Event(kind='exited', ...)

See ``help(oxtrace.Trace)`` for the whole API. Library errors are subclasses
of ``oxtrace.Error``.
"""

from ._oxtrace import (  # noqa: F401
    EVENT_KINDS,
    ArgumentError,
    Breakpoint,
    BreakpointError,
    CallError,
    Error,
    Event,
    ExpressionError,
    FileError,
    Frame,
    HookCall,
    Instruction,
    Interrupter,
    Library,
    MemoryAccessError,
    MemoryMap,
    OsError,
    ProcessError,
    ProcessExitedError,
    Registers,
    RegisterError,
    RemoteError,
    SpawnError,
    StateError,
    SymbolError,
    Trace,
    UnsupportedError,
    Watchpoint,
    syscall_name,
)

__all__ = [name for name in dir() if not name.startswith("_")]

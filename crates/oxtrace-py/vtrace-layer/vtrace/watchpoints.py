"""vtrace's watchpoints: hardware ones (the debug registers) and page ones
(page protection), added with trace.addBreakpoint like breakpoints."""

from vtrace.breakpoints import Breakpoint


class Watchpoint(Breakpoint):
    """A hardware watchpoint on size bytes (1, 2, 4, 8); perms "w", "rw" or "x".
    Unlike vtrace's, 8-byte watches work on x86_64 and threads created later get it too."""

    def __init__(self, addr, expression=None, size=4, perms="rw"):
        Breakpoint.__init__(self, addr, expression=expression)
        self.wpsize = size
        self.wpperms = perms

    def getName(self):
        return "%s (%s %d bytes)" % (Breakpoint.getName(self), self.wpperms, self.wpsize)


class PageWatchpoint(Watchpoint):
    """Watches any range by page protection: writes, or with watchread reads too.
    Each hit appends (pc, address, perm) to the metadata "pagewatch"."""

    def __init__(self, addr, expression=None, size=4, watchread=False):
        Watchpoint.__init__(self, addr, expression=expression, size=size, perms="rw" if watchread else "w")

    def notify(self, event, trace):
        hits = trace.getMeta("pagewatch", None)
        if hits is None:
            hits = []
            trace.setMeta("pagewatch", hits)
        last = trace._last
        hits.append((last.pc, last.addr, last.access))
        self.fastbreak = bool(trace.getMeta("pagerun", False))
        Watchpoint.notify(self, event, trace)

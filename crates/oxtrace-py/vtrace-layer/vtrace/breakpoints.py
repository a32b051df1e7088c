"""vtrace's breakpoint classes. A Breakpoint is added to a trace with
trace.addBreakpoint(bp); its notify(event, trace) runs at each hit, before the
trace's NOTIFY_BREAK notifiers. The break instruction itself is oxtrace's."""

import logging
import time

from vtrace.const import NOTIFY_BREAK

logger = logging.getLogger(__name__)


class Breakpoint:
    """A breakpoint at an address, or at an expression resolved when it can be
    (e.g. once its library is loaded).

    fastbreak: go on at once after notify (no NOTIFY_BREAK notifiers, no stop).
    stealthbreak: no notifiers and no stop unless notify asks for one.
    bpcode: Python run at each hit in a namespace with trace, bp, event and the registers.
    """

    bpcodeobj = {}

    def __init__(self, address, expression=None):
        self.address = address
        self.vte = expression
        self.id = -1
        self.enabled = True
        self.active = False
        self.silent = False
        self.fastbreak = False
        self.stealthbreak = False
        self.resonce = False
        self.bpcode = None
        self.trace = None

    def getId(self):
        return self.id

    def getAddress(self):
        """The address, or None while an expression breakpoint is unresolved."""
        if self.address is None and self.trace is not None and self.id >= 0:
            info = self.trace._t.breakpoint(self.id)
            if info is not None and info.resolved:
                self.address = info.addr
        return self.address

    def getName(self):
        if self.vte:
            return str(self.vte)
        return "0x%.8x" % (self.getAddress() or 0)

    def inittrace(self, trace):
        """Called once when added to a trace."""

    def resolveAddress(self, trace):
        """The address (resolving the expression if there is one), or None."""
        if self.address is None and self.vte:
            try:
                self.address = trace.parseExpression(self.vte)
                self.resolvedaddr(trace, self.address)
            except Exception:
                return None
        return self.address

    def resolvedaddr(self, trace, addr):
        """Called once the address is known."""

    def activate(self, trace):
        """oxtrace keeps the break instruction in place while enabled: nothing to do."""
        self.active = True

    def deactivate(self, trace):
        self.active = False

    def isEnabled(self):
        return self.enabled

    def setEnabled(self, enabled=True):
        self.enabled = enabled

    def setBreakpointCode(self, pystr):
        self.bpcode = pystr
        Breakpoint.bpcodeobj.pop(self.id, None)

    def getBreakpointCode(self):
        return self.bpcode

    def notify(self, event, trace):
        """Called at each hit: runs the breakpoint code, if any."""
        if not self.bpcode:
            return
        code = Breakpoint.bpcodeobj.get(self.id)
        if code is None:
            code = compile(self.bpcode, "BreakpointCode %d" % self.id, "exec")
            Breakpoint.bpcodeobj[self.id] = code
        namespace = trace.getExpressionLocals()
        namespace.update({"bp": self, "event": event, "trace": trace, "vprint": trace.vprint})
        exec(code, namespace, namespace)

    def __repr__(self):
        addr = self.getAddress()
        where = "unresolved" if addr is None else "0x%.8x" % addr
        return "[%d] %s %s: %s" % (self.id, where, self.__class__.__name__, self.getName())


class TrackerBreak(Breakpoint):
    """Counts hits by address in the metadata "TrackerBreak" and goes on."""

    def notify(self, event, trace):
        counts = trace.getMeta("TrackerBreak", None)
        if counts is None:
            counts = {}
            trace.setMeta("TrackerBreak", counts)
        counts[self.address] = counts.get(self.address, 0) + 1
        Breakpoint.notify(self, event, trace)
        trace.runAgain()


class OneTimeBreak(Breakpoint):
    """Removes itself when hit (coverage marks)."""

    def __init__(self, address, expression=None):
        Breakpoint.__init__(self, address, expression)
        self.onehitwonder = True

    def notify(self, event, trace):
        trace.removeBreakpoint(self.id)
        Breakpoint.notify(self, event, trace)


class StopRunForeverBreak(Breakpoint):
    """Turns RunForever off when hit."""

    def notify(self, event, trace):
        trace.setMode("RunForever", False)
        Breakpoint.notify(self, event, trace)


class StopAndRemoveBreak(Breakpoint):
    """Turns RunForever off and removes itself (run(until=...))."""

    def notify(self, event, trace):
        trace.setMode("RunForever", False)
        trace.removeBreakpoint(self.id)
        Breakpoint.notify(self, event, trace)


class CallBreak(Breakpoint):
    """Records the registers when hit (endregs), removes itself and restores saved registers."""

    def __init__(self, address, saved_regs):
        Breakpoint.__init__(self, address)
        self.endregs = None
        self.saved_regs = saved_regs
        self.fastbreak = False

    def notify(self, event, trace):
        self.endregs = dict(trace.getRegisters())
        trace.removeBreakpoint(self.id)
        trace.setRegisters(self.saved_regs)
        trace.setCurrentSignal(None)


class SnapshotBreak(Breakpoint):
    """Saves a snapshot (an ELF core file) at each hit, named <exe>-<time>.core."""

    def notify(self, event, trace):
        name = "%s-%d.core" % (trace.getExe().split("/")[-1], time.time_ns())
        trace.saveSnapshot(name)
        Breakpoint.notify(self, event, trace)


class NiceBreakpoint(Breakpoint):
    """An int is an address, anything else an expression."""

    def __init__(self, expr):
        if isinstance(expr, int):
            Breakpoint.__init__(self, expr)
        else:
            Breakpoint.__init__(self, None, expression=expr)


class HookBreakpoint(NiceBreakpoint):
    """A function hook: at entry, every pre callback gets (event, trace, ret_addr,
    args, callconv); a PostHookBreakpoint at the return address calls the post
    callbacks with the return value. Calls pair up by thread."""

    def __init__(self, expr, callingconv=None, argc=None):
        NiceBreakpoint.__init__(self, expr)
        self.fastbreak = True
        self.cc = callingconv or "sysvamd64call"
        self.argc = 6 if argc is None else argc
        self.callinfo = {}
        self.precbs = []
        self.postcbs = []
        self.postbps = {}

    def addPreHook(self, cb):
        self.precbs.append(cb)

    def addPostHook(self, cb):
        self.postcbs.append(cb)

    def notify(self, event, trace):
        sp = trace.getStackCounter()
        ret_addr = trace.readMemoryPtr(sp)
        regs = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
        args = [trace.getRegisterByName(r) for r in regs[: min(self.argc, 6)]]
        args += [trace.readMemoryPtr(sp + 8 * (i + 1)) for i in range(max(0, self.argc - 6))]
        for cb in self.precbs:
            try:
                cb(event, trace, ret_addr, args, self.cc)
            except Exception:
                logger.exception("pre hook %r failed", cb)
        if not self.postcbs:
            return
        tid = trace.getCurrentThread()
        self.callinfo.setdefault(tid, []).append((ret_addr, args))
        if ret_addr not in self.postbps and trace.getBreakpointByAddr(ret_addr) is None:
            post = PostHookBreakpoint(ret_addr, self)
            trace.addBreakpoint(post)
            self.postbps[ret_addr] = post


class PostHookBreakpoint(Breakpoint):
    """The return half of a HookBreakpoint."""

    def __init__(self, expr, hookbp):
        if isinstance(expr, str):
            Breakpoint.__init__(self, None, expression=expr)
        else:
            Breakpoint.__init__(self, expr)
        self.hookbp = hookbp
        self.fastbreak = True

    def notify(self, event, trace):
        tid = trace.getCurrentThread()
        calls = self.hookbp.callinfo.get(tid)
        if not calls:
            return  # another thread's return (or no call of ours): nothing to pair
        ret_addr, args = calls.pop()
        retval = trace.getRegisterByName("rax")
        for cb in self.hookbp.postcbs:
            try:
                cb(event, trace, ret_addr, retval, args, self.hookbp.cc)
            except Exception:
                logger.exception("post hook %r failed", cb)


def addHook(trace, expr, pre_cb, post_cb=None, cc=None, argc=None):
    """Hooks a function: pre_cb(event, trace, ret_addr, args, callconv) at entry,
    post_cb(event, trace, ret_addr, retval, args, callconv) at return."""
    bp = HookBreakpoint(expr, cc, argc)
    bp.addPreHook(pre_cb)
    if post_cb is not None:
        bp.addPostHook(post_cb)
    trace.addBreakpoint(bp)
    return bp


__all__ = [
    "Breakpoint", "TrackerBreak", "OneTimeBreak", "StopRunForeverBreak", "StopAndRemoveBreak", "CallBreak",
    "SnapshotBreak", "NiceBreakpoint", "HookBreakpoint", "PostHookBreakpoint", "addHook", "NOTIFY_BREAK",
]

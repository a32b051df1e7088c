"""vtrace's API on top of oxtrace: scripts written for vivisect's vtrace run unchanged.

    import vtrace
    trace = vtrace.getTrace()
    trace.execute("/bin/ls -l")
    trace.addBreakByExpr("libc.write")
    trace.setMode("RunForever", True)
    trace.run()

Where this layer deliberately differs from vtrace, docs/python.md says so.
"""

import logging
import os
import re
import shlex
import struct
import threading

import oxtrace
from vtrace.breakpoints import (  # noqa: F401
    Breakpoint,
    CallBreak,
    HookBreakpoint,
    NiceBreakpoint,
    OneTimeBreak,
    PostHookBreakpoint,
    SnapshotBreak,
    StopAndRemoveBreak,
    StopRunForeverBreak,
    TrackerBreak,
    addHook,
)
from vtrace.const import *  # noqa: F401,F403
from vtrace.const import KIND_TO_NOTIFY, permsFromText, permsToText
from vtrace.expression import ExpressionFail, VtraceExpressionLocals
from vtrace.notifiers import DistributedNotifier, Notifier, VerboseNotifier  # noqa: F401
from vtrace.symbols import SymbolIndex
from vtrace.watchpoints import PageWatchpoint, Watchpoint

logger = logging.getLogger(__name__)


class PlatformException(Exception):
    """A failure of the platform layer (the message is oxtrace's, naming the thing)."""


class AccessViolation(Exception):
    """A bad memory access at va."""

    def __init__(self, va, perm=0):
        Exception.__init__(self, "AccessViolation at 0x%.8x (%d)" % (va, perm))
        self.va = va
        self.perm = perm


# The oxtrace event kinds the layer handles (breakpoints come through their own callbacks).
_EVENT_KINDS = ("signal", "exited", "thread_created", "thread_exited", "library_loaded", "library_unloaded",
                "syscall", "exec", "watchpoint", "page_watch", "interrupted", "step")

# vtrace event → the oxtrace kinds that auto-continue stands for.
_AUTOCONT_KINDS = {
    NOTIFY_SIGNAL: ("signal",),  # noqa: F405
    NOTIFY_STEP: ("step",),  # noqa: F405
    NOTIFY_SYSCALL: ("syscall",),  # noqa: F405
    NOTIFY_LOAD_LIBRARY: ("library_loaded",),  # noqa: F405
    NOTIFY_UNLOAD_LIBRARY: ("library_unloaded",),  # noqa: F405
    NOTIFY_CREATE_THREAD: ("thread_created",),  # noqa: F405
    NOTIFY_EXIT_THREAD: ("thread_exited",),  # noqa: F405
    NOTIFY_ATTACH: ("exec",),  # noqa: F405
}

_FD_KINDS = {"file": FD_FILE, "socket": FD_SOCKET, "pipe": FD_PIPE}  # noqa: F405


def _platform_error(e):
    return PlatformException(str(e))


class RegisterContext:
    """The registers of one thread, with vtrace's register-context methods."""

    def __init__(self, regs, names):
        self._regs = regs
        self._names = names

    def getRegisterByName(self, name):
        return self._regs[name]

    def setRegisterByName(self, name, value):
        self._regs[name] = value

    def getRegisters(self):
        return self._regs.to_dict()

    def setRegisters(self, regs):
        for name, value in regs.items():
            self._regs[name] = value

    def getRegisterNames(self):
        return list(self._names)

    def getRegisterNameIndexes(self):
        return [(n, i) for i, n in enumerate(self._names)]

    def getRegisterIndex(self, name):
        return self._names.index(name)

    def getRegister(self, index):
        return self._regs[self._names[index]]

    def setRegister(self, index, value):
        self._regs[self._names[index]] = value

    def getProgramCounter(self):
        return self._regs.rip

    def setProgramCounter(self, value):
        self._regs.rip = value

    def getStackCounter(self):
        return self._regs.rsp

    def setStackCounter(self, value):
        self._regs.rsp = value

    def getStatusRegister(self):
        return self._regs.rflags

    def setStatusRegister(self, value):
        self._regs.rflags = value

    def getRegisterSnap(self):
        return self.getRegisters()

    def setRegisterSnap(self, snap):
        self.setRegisters(snap)


class Trace:
    """A tracer with vtrace's API, driving an oxtrace.Trace.

    Like vtrace's, a trace is made by getTrace() and then execute()s or attach()es.
    It belongs to the thread that attached it (ptrace's rule); sendBreak() may be called from any thread.
    """

    def __init__(self, archname=None):
        self._t = None
        self._stopper = None
        self._remote = None
        self._last = None
        self._symindex = None
        self._exprlocals = None
        self._continue_notifier = None
        self._owner = None
        self.pid = 0
        self.attached = False
        self.running = False
        self.exited = False
        self.runagain = False
        self.curbp = None
        self.modes = {}
        self.modedocs = {}
        self.metadata = {}
        self.localvars = {}
        self.notifiers = {}
        self.breakpoints = {}
        self.bpbyaddr = {}
        self.deferred = []
        self.autocont = set()
        self.initMode("RunForever", False, "Run until the process exits or a stop breakpoint")
        self.initMode("NonBlocking", False, "run() returns at once; wait() or sendBreak() stop")
        self.initMode("ThreadProxy", True, "Calls go to the tracer's thread (always so here)")
        self.initMode("SingleStep", False, "run() steps")
        self.initMode("FastStep", False, "stepi() fires no NOTIFY_STEP")
        self.initMode("Syscall", False, "Stop at system calls (NOTIFY_SYSCALL)")
        self.setMeta("Architecture", archname or "amd64")
        self.setMeta("Platform", "linux")
        self.setMeta("Format", "elf")
        self.setMeta("IgnoredSignals", [])
        self.setMeta("BadMaps", ["[vvar]", "[vsyscall]", "[vvar_vclock]"])
        for event in (NOTIFY_LOAD_LIBRARY, NOTIFY_CREATE_THREAD, NOTIFY_UNLOAD_LIBRARY,  # noqa: F405
                      NOTIFY_EXIT_THREAD, NOTIFY_DEBUG_PRINT):  # noqa: F405
            self.enableAutoContinue(event)

    # ----- lifecycle -----

    def buildNewTrace(self, **kwargs):
        """A fresh tracer like this one."""
        return Trace()

    def execute(self, cmdline):
        """Starts cmdline (split as a shell would, without a shell) stopped at its first instruction."""
        if self.isAttached():
            raise Exception("ERROR - there is already a process attached")
        argv = shlex.split(cmdline) if isinstance(cmdline, str) else list(cmdline)
        try:
            t = oxtrace.Trace.spawn(argv)
        except oxtrace.Error as e:
            raise _platform_error(e) from e
        self._justAttached(t)
        self.setMeta("ExecCommand", cmdline)
        self._fireAttach()

    def attach(self, pid):
        """Attaches to a running process (every thread) and stops it."""
        if self.isAttached():
            self.detach()
        try:
            if self._remote:
                t = oxtrace.Trace.connect(self._remote)
            else:
                t = oxtrace.Trace.attach(pid)
        except oxtrace.Error as e:
            raise _platform_error(e) from e
        self._justAttached(t)
        self._fireAttach()

    def _justAttached(self, t):
        self._t = t
        self._owner = threading.get_ident()
        self._stopper = t.interrupter()
        self.pid = t.pid
        self.attached = True
        self.running = False
        self.exited = False
        self.curbp = None
        self.breakpoints.clear()
        self.bpbyaddr.clear()
        self._symindex = None
        self._continue_notifier = None
        for kind in oxtrace.EVENT_KINDS:
            t.disable_auto_continue(kind)
        for event in self.autocont:
            for kind in _AUTOCONT_KINDS.get(event, ()):
                t.enable_auto_continue(kind)
        for kind in _EVENT_KINDS:
            t.register_notifier(kind, self._on_event)
        self._syncContinueNotifier()
        for mode in ("RunForever", "FastStep", "Syscall"):
            t.set_mode(mode, self.modes[mode])
        self.setMeta("PendingSignal", None)
        self.setMeta("ExitCode", None)
        self.setMeta("ThreadId", t.current_thread)
        self.setMeta("ExeName", t.exe or "Unknown")
        for sig in self.getMeta("IgnoredSignals", []):
            t.ignore_signal(sig)

    def _fireAttach(self):
        self.fireNotifiers(NOTIFY_ATTACH)  # noqa: F405
        self.fireNotifiers(NOTIFY_BREAK)  # noqa: F405

    def detach(self):
        """Lets the process run on, breakpoints removed."""
        self.requireAttached()
        self.requireNotRunning()
        self.fireNotifiers(NOTIFY_DETACH)  # noqa: F405
        self._t.detach()
        self.attached = False
        self.pid = 0

    def kill(self):
        """Kills the process."""
        self.requireAttached()
        self.requireNotExited()
        code = self._t.kill()
        self.setMeta("ExitCode", code)
        self.attached = False
        self.exited = True

    def release(self):
        """Detaches if attached, then frees the tracer (safe to call twice)."""
        if self._t is None:
            return
        if self.isAttached() and not self.exited:
            try:
                if self.isRunning():
                    self.sendBreak()
                self.detach()
            except Exception:
                logger.exception("detaching on release")
        self._t.release()
        self._t = None
        self.attached = False

    def getPid(self):
        return self.pid

    def isAttached(self):
        return self.attached and self._t is not None and self._t.is_attached()

    def isRunning(self):
        if self.running and self._t is not None and threading.get_ident() == self._owner:
            ev = self._t.wait(0)
            if ev is not None:
                self._stopped()
        return self.running

    def hasExited(self):
        return self.exited

    def isRemote(self):
        return False

    def requireAttached(self):
        if not self.isAttached():
            raise Exception("ERROR - must be attached to a process")

    def requireNotRunning(self):
        self.requireAttached()
        if self.isRunning():
            raise Exception("ERROR - trace is running; use sendBreak()")

    def requireNotExited(self):
        if self.exited:
            raise Exception("ERROR - trace is exited")

    def getExe(self):
        return self.getMeta("ExeName", "Unknown")

    def ps(self):
        """Every process as (pid, name)."""
        procs = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as f:
                        name = f.read().split(b"\0")[0].decode(errors="replace")
                except OSError:
                    continue
                procs.append((int(entry), name))
        return procs

    def __repr__(self):
        state = "exited" if self.exited else "running" if self.running else "stopped"
        return "[%d]\t- %s <%s>" % (self.pid, self.getExe(), state)

    # ----- run control -----

    def run(self, until=None):
        """Runs (blocking unless NonBlocking) until an event stops the trace."""
        self.requireNotRunning()
        self.requireNotExited()
        if until is not None:
            self.setMode("RunForever", True)
            self.addBreakpoint(StopAndRemoveBreak(until))
        if self.getMode("SingleStep"):
            return self.steploop()
        self.runagain = False
        if self.getMode("NonBlocking"):
            self._t.start()
            self.running = True
            return
        try:
            self._last = self._t.run()
        except oxtrace.ProcessExitedError:
            self._exited(self._t.exit_code)
        self._stopped()

    def _stopped(self):
        self.running = False
        if self._t is not None and self._t.has_exited() and not self.exited:
            self._exited(self._t.exit_code)

    def _exited(self, code):
        self.exited = True
        self.attached = False
        self.modes["RunForever"] = False
        self.setMeta("ExitCode", code)

    def runAgain(self, val=True):
        """From a notifier or breakpoint: continue once event processing is done."""
        self.runagain = val
        if val and self._t is not None:
            self._t.run_again()

    def shouldRunAgain(self):
        if not self.attached or self.exited:
            return False
        return self.modes["RunForever"] or self.runagain

    def stepi(self):
        """Executes one instruction; fires NOTIFY_STEP unless FastStep."""
        self.requireNotRunning()
        self.curbp = None
        self._last = self._t.stepi()
        self._stopped()

    def steploop(self):
        while True:
            self.stepi()
            if not self.shouldRunAgain():
                break

    def sendBreak(self):
        """Stops the running process (from any thread); RunForever goes off."""
        self.setMode("RunForever", False)
        self.setMeta("ShouldBreak", True)
        self._stopper.interrupt()
        if self.running and threading.get_ident() == self._owner:
            self.wait()

    def wait(self):
        """After a NonBlocking run(): blocks until the trace stops."""
        if not self.running:
            return
        self._last = self._t.wait()
        self._stopped()

    def joinThread(self, tid):
        """Runs until thread tid exits."""
        self._last = self._t.join_thread(tid)
        self._stopped()

    def getMode(self, name, default=False):
        return self.modes.get(name, default)

    def setMode(self, name, value):
        if name not in self.modes:
            raise Exception("Mode %s not supported on this platform" % name)
        self.modes[name] = bool(value)
        if self._t is not None and name in ("RunForever", "FastStep", "Syscall") and self._t.state != "released":
            self._t.set_mode(name, bool(value))

    def initMode(self, name, value, doc):
        self.modes[name] = value
        self.modedocs[name] = doc

    def enableAutoContinue(self, event):
        self.autocont.add(event)
        if self._t is not None:
            for kind in _AUTOCONT_KINDS.get(event, ()):
                self._t.enable_auto_continue(kind)

    def disableAutoContinue(self, event):
        self.autocont.discard(event)
        if self._t is not None:
            for kind in _AUTOCONT_KINDS.get(event, ()):
                self._t.disable_auto_continue(kind)

    def getAutoContinueList(self):
        return sorted(self.autocont)

    # ----- events -----

    def _on_event(self, t, ev):
        """oxtrace's notifier for every event but breakpoints: vtrace's bookkeeping and notifiers."""
        self._last = ev
        kind = ev.kind
        if ev.tid:
            self.metadata["ThreadId"] = ev.tid
        if kind in ("watchpoint", "page_watch"):
            bp = self.breakpoints.get(ev.id)
            if bp is not None:
                self._fireBreakpoint(bp)
            return
        if kind == "interrupted":
            self.metadata["ShouldBreak"] = False
        elif kind == "signal":
            self.metadata["PendingSignal"] = ev.signo
            self.metadata["SignalInfo"] = ev.fields()
        elif kind == "exited":
            self._exited(ev.exit_code if ev.exit_code is not None else ev.signal)
        elif kind == "thread_exited":
            self.metadata["ExitThread"] = ev.tid
            self.metadata["ExitCode"] = ev.exit_code
        elif kind in ("library_loaded", "library_unloaded", "exec"):
            self._symindex = None
            if kind == "library_loaded":
                for bp in self.breakpoints.values():
                    if bp.address is None and bp.getAddress() is not None:
                        self.bpbyaddr[bp.address] = bp
                        bp.resolvedaddr(self, bp.address)
                self.metadata["LatestLibrary"] = ev.path
                self.metadata["LatestLibraryNorm"] = ev.name
                self.getMeta("LibraryBases", {})[ev.name] = ev.base
                self.getMeta("LibraryPaths", {})[ev.base] = ev.path
                if self.getMeta("BreakOnLibraryLoad"):
                    self.setMode("RunForever", False)
                    self.fireNotifiers(NOTIFY_LOAD_LIBRARY)  # noqa: F405
                    return
        elif kind == "step" and self.modes["FastStep"]:
            return
        self.fireNotifiers(KIND_TO_NOTIFY[kind])
        if self.runagain:
            self.runagain = False
            t.run_again()

    def _on_break(self, t, ev):
        """oxtrace's callback of every breakpoint the layer set."""
        self._last = ev
        bp = self.breakpoints.get(ev.id)
        if bp is not None:
            if bp.address is None:
                bp.address = ev.addr
                self.bpbyaddr[ev.addr] = bp
            self.metadata["ThreadId"] = ev.tid
            self._fireBreakpoint(bp)

    def _fireBreakpoint(self, bp):
        self.curbp = bp
        try:
            bp.notify(NOTIFY_BREAK, self)  # noqa: F405
        except Exception:
            logger.exception("breakpoint %r failed", bp)
        if bp.stealthbreak:
            pass
        elif bp.fastbreak:
            self.runagain = True
        else:
            self.fireNotifiers(NOTIFY_BREAK)  # noqa: F405
        if self.runagain:
            self.runagain = False
            self._t.run_again()

    def registerNotifier(self, event, notifier):
        """notifier.notify(event, trace) is called at each event (NOTIFY_ALL: every event)."""
        self.notifiers.setdefault(event, []).append(notifier)
        self._syncContinueNotifier()

    def deregisterNotifier(self, event, notifier):
        if notifier in self.notifiers.get(event, []):
            self.notifiers[event].remove(notifier)
        self._syncContinueNotifier()

    def getNotifiers(self, event):
        return list(self.notifiers.get(event, []))

    def _syncContinueNotifier(self):
        """NOTIFY_CONTINUE costs a Python call at every resume: only while someone listens."""
        if self._t is None or not self._t.is_attached():
            return
        wanted = bool(self.notifiers.get(NOTIFY_ALL) or self.notifiers.get(NOTIFY_CONTINUE))  # noqa: F405
        if wanted and self._continue_notifier is None:
            self._continue_notifier = self._t.register_notifier("continued", self._on_continue)
        elif not wanted and self._continue_notifier is not None:
            self._t.deregister_notifier(self._continue_notifier)
            self._continue_notifier = None

    def _on_continue(self, t, ev):
        if self.curbp is None or not self.curbp.fastbreak:
            self.fireNotifiers(NOTIFY_CONTINUE)  # noqa: F405
        self.runagain = False

    def fireNotifiers(self, event):
        """Calls the notifiers of NOTIFY_ALL, then those of event; their errors are logged."""
        if event == NOTIFY_SIGNAL and self.getCurrentSignal() in self.getMeta("IgnoredSignals", []):  # noqa: F405
            self.runAgain()
            return
        for notifier in self.notifiers.get(NOTIFY_ALL, []) + self.notifiers.get(event, []):  # noqa: F405
            try:
                notifier.handleEvent(event, self) if hasattr(notifier, "handleEvent") else notifier(event, self)
            except Exception:
                logger.exception("notifier %r failed", notifier)

    # ----- breakpoints -----

    def nextBpId(self):
        return max(self.breakpoints, default=0) + 1

    def addBreakpoint(self, bp):
        """Adds a Breakpoint (or Watchpoint) object; returns its id."""
        self.requireAttached()
        bp.inittrace(self)
        if isinstance(bp.address, str):
            bp.vte, bp.address = bp.address, None
        addr = bp.address
        if addr is not None and addr in self.bpbyaddr:
            raise Exception("ERROR: Duplicate break for address 0x%.8x" % addr)
        target = addr if addr is not None else bp.vte
        try:
            if isinstance(bp, PageWatchpoint):
                addr = bp.resolveAddress(self)
                oid = self._t.add_page_watch(addr, bp.wpsize, bp.wpperms)
            elif isinstance(bp, Watchpoint):
                addr = bp.resolveAddress(self)
                oid = self._t.add_watchpoint(addr, bp.wpsize, bp.wpperms)
            else:
                oid = self._t.add_breakpoint(target, self._on_break)
        except oxtrace.Error as e:
            raise _platform_error(e) from e
        bp.id = oid
        bp.trace = self
        bp.active = True
        self.breakpoints[oid] = bp
        if bp.getAddress() is not None:
            self.bpbyaddr[bp.address] = bp
            bp.resolvedaddr(self, bp.address)
        if not bp.enabled:
            self.setBreakpointEnabled(oid, False)
        return oid

    def addBreakByAddr(self, va, fastbreak=False):
        bp = Breakpoint(va)
        bp.fastbreak = fastbreak
        return self.addBreakpoint(bp)

    def addBreakByExpr(self, symname, fastbreak=False):
        bp = Breakpoint(None, expression=symname)
        bp.fastbreak = fastbreak
        return self.addBreakpoint(bp)

    def removeBreakpoint(self, id):
        bp = self.breakpoints.pop(id, None)
        if bp is None:
            return
        if self.bpbyaddr.get(bp.address) is bp:
            del self.bpbyaddr[bp.address]
        bp.active = False
        if self._t is None or not self._t.is_attached():
            return
        if isinstance(bp, PageWatchpoint):
            self._t.remove_page_watch(id)
        elif isinstance(bp, Watchpoint):
            self._t.remove_watchpoint(id)
        else:
            self._t.remove_breakpoint(id)

    def getBreakpoint(self, id):
        return self.breakpoints.get(id)

    def getBreakpointByAddr(self, va):
        bp = self.bpbyaddr.get(va)
        if bp is None:
            for b in self.breakpoints.values():
                if b.getAddress() == va:
                    self.bpbyaddr[va] = b
                    return b
        return bp

    def getBreakpoints(self):
        return [bp for bp in self.breakpoints.values() if not bp.stealthbreak]

    def getCurrentBreakpoint(self):
        return self.curbp

    def getBreakpointEnabled(self, id):
        return self.breakpoints[id].isEnabled()

    def setBreakpointEnabled(self, id, enabled=True):
        bp = self.breakpoints[id]
        if bp.stealthbreak:
            raise Exception("ERROR - a stealth breakpoint cannot be disabled")
        bp.setEnabled(enabled)
        if not isinstance(bp, Watchpoint):
            self._t.set_breakpoint_enabled(id, enabled)

    def setBreakpointCode(self, id, pystr):
        self.breakpoints[id].setBreakpointCode(pystr)

    def getBreakpointCode(self, id):
        return self.breakpoints[id].getBreakpointCode()

    def setBreakOnLibraryLoad(self, value):
        self.setMeta("BreakOnLibraryLoad", bool(value))

    def setBreakOnLibraryInit(self, value):
        self.setMeta("BreakOnLibraryInit", bool(value))

    # ----- memory -----

    def readMemory(self, va, size):
        try:
            return self._t.read_memory(va, size)
        except oxtrace.MemoryAccessError as e:
            raise PlatformException(str(e)) from e

    def writeMemory(self, va, data):
        try:
            self._t.write_memory(va, bytes(data))
        except oxtrace.MemoryAccessError as e:
            raise PlatformException(str(e)) from e

    @staticmethod
    def _fmt(fmt):
        fmt = fmt.replace("P", "Q")
        return fmt if fmt[:1] in "<>!=@" else "<" + fmt

    def readMemoryFormat(self, va, fmt):
        fmt = self._fmt(fmt)
        return struct.unpack(fmt, self.readMemory(va, struct.calcsize(fmt)))

    def writeMemoryFormat(self, va, fmt, *args):
        fmt = self._fmt(fmt)
        self.writeMemory(va, struct.pack(fmt, *args))

    def readMemValue(self, addr, size):
        return int.from_bytes(self.readMemory(addr, size), "little")

    def writeMemValue(self, addr, val, size):
        self.writeMemory(addr, (val & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def readMemoryPtr(self, va):
        return self.readMemValue(va, 8)

    def writeMemoryPtr(self, va, val):
        self.writeMemValue(va, val, 8)

    def getPointerSize(self):
        return 8

    def getEndian(self):
        return 0

    def probeMemory(self, va, size, perm):
        m = self.getMemoryMap(va)
        if m is None:
            return False
        base, msize, mperm, _ = m
        return (mperm & perm) == perm and va + size <= base + msize

    def isValidPointer(self, va):
        return self.probeMemory(va, 1, MM_READ)  # noqa: F405

    def isReadable(self, va):
        return self.probeMemory(va, 1, MM_READ)  # noqa: F405

    def isWriteable(self, va):
        return self.probeMemory(va, 1, MM_WRITE)  # noqa: F405

    def isExecutable(self, va):
        return self.probeMemory(va, 1, MM_EXEC)  # noqa: F405

    def isShared(self, va):
        return self.probeMemory(va, 1, MM_SHARED)  # noqa: F405

    def getMemoryMaps(self):
        """(base, size, perms, filename) of every map."""
        return [(m.start, m.size, permsFromText(m.perms), m.path or "") for m in self._t.memory_maps()]

    def getMemoryMap(self, va):
        m = self._t.memory_map(va)
        return None if m is None else (m.start, m.size, permsFromText(m.perms), m.path or "")

    def getMemoryFault(self):
        """(address, perm) of the last memory fault, or (None, None); perm is not known on Linux."""
        ev = self._last
        if ev is not None and ev.kind == "signal" and ev.fault_addr is not None and ev.signo in (7, 11):
            return ev.fault_addr, None
        return None, None

    def allocateMemory(self, size, perms=MM_RWX, suggestaddr=0):  # noqa: F405
        return self._t.allocate_memory(size, permsToText(perms), suggestaddr or None)

    def protectMemory(self, va, size, perms):
        self._t.protect_memory(va, size, permsToText(perms))

    def searchMemory(self, needle, regex=False):
        found = self._t.search_memory(needle, regex=regex)
        self.setMeta("search", found)
        return found

    def searchMemoryRange(self, needle, address, size, regex=False):
        found = self._t.search_memory(needle, regex=regex, start=address, end=address + size)
        self.setMeta("search", found)
        return found

    def getStruct(self, sname, va=None):
        """The value of a C type at va from DWARF, as dicts and lists (vtrace gives a vstruct)."""
        return self._t.read_typed(sname, va)

    def getStructNames(self, namespace=None):
        return []

    def hex(self, value):
        return "0x%.16x" % value

    # ----- registers and threads -----

    def getRegisterContext(self, tid=None):
        regs = self._t.regs if tid is None else self._t.thread_regs(tid)
        return RegisterContext(regs, self._regnames())

    def _regnames(self):
        names = getattr(self, "_names", None)
        if names is None:
            names = self._names = list(self._t.regs.to_dict())
        return names

    def getRegisters(self):
        return self._t.regs.to_dict()

    def setRegisters(self, regs):
        r = self._t.regs
        for name, value in regs.items():
            r[name] = value

    def getRegisterByName(self, name):
        return self._t.regs[name]

    def setRegisterByName(self, name, value):
        self._t.regs[name] = value

    def getRegisterNames(self):
        return list(self._regnames())

    def getRegisterNameIndexes(self):
        return [(n, i) for i, n in enumerate(self._regnames())]

    def getRegisterIndex(self, name):
        return self._regnames().index(name)

    def getRegister(self, index):
        return self._t.regs[self._regnames()[index]]

    def setRegister(self, index, value):
        self._t.regs[self._regnames()[index]] = value

    def getProgramCounter(self):
        return self._t.pc

    def setProgramCounter(self, value):
        self._t.pc = value

    def getStackCounter(self):
        return self._t.sp

    def setStackCounter(self, value):
        self._t.sp = value

    def getStatusRegister(self):
        return self._t.regs.rflags

    def setStatusRegister(self, value):
        self._t.regs.rflags = value

    def getThreads(self):
        """{tid: tid} of the live threads."""
        return {tid: tid for tid in self._t.threads()}

    def getCurrentThread(self):
        return self._t.current_thread

    def selectThread(self, tid):
        self.requireNotRunning()
        self._t.select_thread(tid)
        self.setMeta("ThreadId", tid)

    def isThreadSuspended(self, tid):
        return False

    def suspendThread(self, tid):
        raise PlatformException("oxtrace runs every thread together (all-stop): threads cannot be suspended")

    def injectThread(self, pc):
        """Not offered: oxtrace starts no thread in the debuggee (vtrace's was an empty stub)."""
        raise PlatformException("injectThread is not supported: call() runs code in an existing thread")

    def setSymCachePath(self, path):
        """Kept for scripts that call it: oxtrace parses symbols on demand and caches none."""
        self.setMeta("SymbolCachePath", path)

    def resumeThread(self, tid):
        raise PlatformException("oxtrace runs every thread together (all-stop): threads cannot be suspended")

    def getStackTrace(self):
        """(pc, frame address) pairs of the current thread, innermost first."""
        return [(f.pc, f.cfa or 0) for f in self._t.backtrace() if not f.inlined]

    # ----- signals -----

    def getCurrentSignal(self):
        return self._t.pending_signal if self._t is not None and self.attached else None

    def setCurrentSignal(self, sig=None):
        self._t.pending_signal = sig
        self.setMeta("PendingSignal", sig)

    def addIgnoreSignal(self, code, address=0):
        ignored = self.getMeta("IgnoredSignals", [])
        if code not in ignored:
            ignored.append(code)
        if self._t is not None and self.attached:
            self._t.ignore_signal(code)

    def delIgnoreSignal(self, code):
        ignored = self.getMeta("IgnoredSignals", [])
        if code in ignored:
            ignored.remove(code)
        if self._t is not None and self.attached:
            self._t.unignore_signal(code)

    # ----- symbols and expressions -----

    def _symbols(self):
        if self._symindex is None:
            self._symindex = SymbolIndex(self._t)
        return self._symindex

    def getSymByName(self, name):
        """A Symbol ("lib.sym" or a bare name), a library (its base), or None."""
        index = self._symbols()
        return index.byname.get(name) or index.libs.get(name) or index.bare.get(name)

    def getSymByAddr(self, addr, exact=True):
        return self._symbols().by_addr(addr, exact)

    def getSymList(self):
        return list(self._symbols().sorted)

    def getSymsForFile(self, libname):
        return [s for s in self._symbols().sorted if s.fname == libname]

    def searchSymbols(self, regex, libname=None):
        rx = re.compile(regex)
        syms = self.getSymsForFile(libname) if libname else self._symbols().sorted
        return [s for s in syms if rx.match(str(s))]

    def getNames(self):
        return [(int(s), str(s)) for s in self._symbols().sorted]

    def getNormalizedLibNames(self):
        return list(self._symbols().libs)

    def getExpressionLocals(self):
        if self._exprlocals is None:
            self._exprlocals = VtraceExpressionLocals(self)
        return self._exprlocals

    def parseExpression(self, expr):
        """An expression's value: oxtrace's expression language first, else Python
        with registers, symbols, libraries and vtrace's helpers (poi, mem, frame...) in scope."""
        if isinstance(expr, int):
            return expr
        try:
            return self._t.parse_expression(expr)
        except oxtrace.Error:
            pass
        try:
            return int(eval(expr, {"__builtins__": {}}, self.getExpressionLocals()))
        except Exception as e:
            raise ExpressionFail(expr, e) from None

    def setVariable(self, name, value):
        self.localvars[name] = value
        if self._t is not None and isinstance(value, int) and value >= 0:
            self._t.set_variable(name, value)

    def getVariable(self, name):
        return self.localvars.get(name)

    def getVariables(self):
        return dict(self.localvars)

    def getMeta(self, name, default=None):
        if name in self.metadata:
            return self.metadata[name]
        if self._t is not None and self._t.state != "released" and self._t.has_meta(name):
            return self._t.get_meta(name)
        if default is not None:
            self.metadata[name] = default
        return default

    def setMeta(self, name, value):
        self.metadata[name] = value

    def hasMeta(self, name):
        return name in self.metadata or (self._t is not None and self._t.state != "released" and self._t.has_meta(name))

    def vprint(self, msg):
        print(msg)

    # ----- changing the process -----

    def call(self, address, args, convention=None):
        """Calls a function in the current thread; returns {"rax": its result} (vtrace: all registers)."""
        return {"rax": self._t.call(address, list(args))}

    def injectso(self, filename):
        return self._t.inject_so(filename)

    def getFds(self):
        return [(fd, _FD_KINDS.get(kind, FD_UNKNOWN), name) for fd, kind, name in self._t.file_descriptors()]  # noqa: F405

    def saveSnapshot(self, path):
        """Saves the stopped process as an ELF core file (gdb opens it)."""
        return self._t.save_snapshot(path)


def getTrace(target=None, **kwargs):
    """A tracer for this machine; target="gdbserver" with host= and port= makes
    attach() connect to that stub instead (vtrace built none)."""
    trace = Trace()
    if target == "gdbserver":
        trace._remote = "%s:%s" % (kwargs.get("host", "127.0.0.1"), kwargs["port"])
    elif target is not None:
        raise Exception("unknown target %r" % target)
    return trace

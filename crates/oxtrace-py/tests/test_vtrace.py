"""The vtrace-compatible layer, tested for what vivisect's vtrace/tests check
(attach and exec of a Python program, registers, a breakpoint with code,
the program's name and maps, threads, writing memory while running,
expressions, symbols, hook breakpoints) and for the rest of its API."""

import binascii
import os
import signal
import subprocess
import sys

import pytest

vtrace = pytest.importorskip("vtrace")
import vtrace.breakpoints  # noqa: E402

CHILD = os.path.join(os.path.dirname(__file__), "vtrace_child.py")


class Attached:
    """A Python program started, then attached to once it announced itself (vtrace's VtraceProcessTest)."""

    def __init__(self, mode="wait"):
        self.proc = subprocess.Popen([sys.executable, CHILD, mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     universal_newlines=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.trace = vtrace.getTrace()
        self.trace.attach(self.proc.pid)

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def run_until_exit(self):
        self.trace.setMode("RunForever", True)
        self.trace.setMode("NonBlocking", False)
        self.go()
        self.trace.run()
        assert self.trace.getMeta("ExitCode") == 33
        # The tracer reaped the exit (it is this process's child): wait() cannot see the code.
        self.proc.wait(timeout=30)

    def close(self):
        if self.trace.isAttached():
            self.trace.release()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.trace.release()


@pytest.fixture
def attached():
    a = Attached()
    yield a
    a.close()


@pytest.fixture
def executed():
    trace = vtrace.getTrace()
    trace.execute("%s %s exec" % (sys.executable, CHILD))
    trace.requireAttached()
    yield trace
    trace.release()


def run_exec_until_exit(trace):
    trace.setMode("RunForever", True)
    trace.run()
    assert trace.getMeta("ExitCode") == 33


# ---- vivisect's testbasic: attached, and exec'd ----

@pytest.mark.parametrize("how", ["attach", "exec"])
def test_get_registers(how, attached, executed):
    trace = attached.trace if how == "attach" else executed
    assert trace.getProgramCounter() and trace.getStackCounter()
    regs = trace.getRegisters()
    assert regs["rip"] == trace.getProgramCounter() and regs["rsp"] == trace.getStackCounter()
    if how == "attach":
        attached.run_until_exit()
    else:
        run_exec_until_exit(executed)


@pytest.mark.parametrize("how", ["attach", "exec"])
def test_set_registers(how, attached, executed):
    trace = attached.trace if how == "attach" else executed
    pc, sp, regs = trace.getProgramCounter(), trace.getStackCounter(), trace.getRegisters()
    trace.setStackCounter(sp)
    trace.setProgramCounter(pc)
    trace.setRegisters(regs)
    assert trace.getRegisters() == regs
    if how == "attach":
        attached.run_until_exit()
    else:
        run_exec_until_exit(executed)


@pytest.mark.parametrize("how,symname", [("attach", "libc.exit"), ("exec", "libc.malloc")])
def test_breakpoint_with_code(how, symname, attached, executed):
    trace = attached.trace if how == "attach" else executed
    bpid = trace.addBreakByExpr(symname)
    trace.setBreakpointCode(bpid, 'trace.setMeta("testbphit", rip)')
    assert trace.getBreakpointCode(bpid) == 'trace.setMeta("testbphit", rip)'
    if how == "attach":
        attached.run_until_exit()
    else:
        run_exec_until_exit(executed)
    bp = trace.getBreakpoint(bpid)
    assert bp.address is not None
    assert trace.getMeta("testbphit") == bp.address


@pytest.mark.parametrize("how", ["attach", "exec"])
def test_exe_name_and_maps(how, attached, executed):
    trace = attached.trace if how == "attach" else executed
    exe = trace.getExe()
    assert os.path.isfile(exe) and "python" in exe.lower()
    maps = trace.getMemoryMaps()
    assert any("python" in fname.lower() for _, _, _, fname in maps)
    va, size, perms, fname = maps[0]
    assert trace.getMemoryMap(va) == maps[0] and perms & vtrace.MM_READ


# ---- vivisect's testthread ----

class ThreadNotifier(vtrace.Notifier):
    def __init__(self):
        vtrace.Notifier.__init__(self)
        self.created = self.exited = False
        self.events = []

    def notify(self, event, trace):
        self.events.append(event)
        if event == vtrace.NOTIFY_CREATE_THREAD:
            self.created = True
        elif event == vtrace.NOTIFY_EXIT_THREAD:
            self.exited = True


def test_thread_events():
    a = Attached("threads")
    try:
        n = ThreadNotifier()
        a.trace.registerNotifier(vtrace.NOTIFY_ALL, n)
        a.run_until_exit()
        assert n.created and n.exited
        assert vtrace.NOTIFY_CONTINUE in n.events and n.events[-1] == vtrace.NOTIFY_EXIT
    finally:
        a.close()


# ---- vivisect's testwritemem ----

def test_write_memory_of_a_running_process():
    a = Attached("writemem")
    try:
        trace = a.trace
        trace.setMode("RunForever", True)
        trace.setMode("NonBlocking", True)
        a.go()
        trace.run()
        assert trace.isRunning()
        addr = int(a.proc.stdout.readline(), 16)
        text = binascii.hexlify(os.urandom(10))
        trace.sendBreak()
        assert not trace.isRunning() and not trace.getMode("RunForever")
        trace.writeMemory(addr, text)
        a.run_until_exit()
        assert a.proc.stdout.readline().strip() == text.decode()
    finally:
        a.close()


# ---- vivisect's test_expressions ----

def test_expressions(attached):
    trace = attached.trace
    entry = trace.parseExpression("libc.exit")
    assert entry + 5 == trace.parseExpression("libc.exit + 5")
    base = trace.parseExpression("libc")
    assert base + 5 == trace.parseExpression("libc + 5")
    assert base <= entry
    # Python's own operators and vtrace's helpers work too.
    assert trace.parseExpression("poi(rsp)") == trace.readMemoryPtr(trace.getStackCounter())
    assert trace.parseExpression("libc.exit if ispoi(rsp) else 0") == entry
    with pytest.raises(vtrace.ExpressionFail):
        trace.parseExpression("no_such_name_here + 1")


# ---- vivisect's test_symcache ----

def test_symbols(attached):
    trace = attached.trace
    symlist = trace.getSymList()
    assert len(symlist) > 1000
    sym = trace.getSymByName("PyReversed_Type")
    assert sym is not None
    assert sym.fname in ("python", "python3", "python2", "libpython3")
    assert sym.name == "PyReversed_Type"
    assert abs(sym.size - 0x1A0) <= 20
    assert trace.getSymByAddr(sym.value) == sym
    libc_exit = trace.getSymByName("libc.exit")
    assert str(libc_exit) == "libc.exit" and int(libc_exit) == trace.parseExpression("libc.exit")
    assert "libc" in trace.getNormalizedLibNames()
    found = trace.searchSymbols(r"libc\.exit$")
    assert found == [libc_exit]
    assert trace.getSymByAddr(int(libc_exit) + 1, exact=False) == libc_exit


# ---- vivisect's tests_breakpoints ----

class NoCallInfoTrace:
    def getCurrentThread(self):
        return 0


def test_post_hook_without_call_info():
    hook = vtrace.breakpoints.HookBreakpoint("0xdeadbeef")
    post = vtrace.breakpoints.PostHookBreakpoint("0xcafebabe", hook)
    post.notify(None, NoCallInfoTrace())  # a return seen by a thread that made no call: nothing happens


# ---- the rest of the API, on a C fixture ----

def exec_fixture(fixtures, name, *args):
    trace = vtrace.getTrace()
    path = fixtures.build(name, "-O0", libs=("-lpthread",) if name in ("threads", "watch") else ())
    trace.execute(" ".join([path, *args]))
    return trace


class Counting(vtrace.Breakpoint):
    def __init__(self, expr):
        vtrace.Breakpoint.__init__(self, None, expression=expr)
        self.args = []

    def notify(self, event, trace):
        assert event == vtrace.NOTIFY_BREAK
        self.args.append(trace.getRegisterByName("rdi"))
        trace.runAgain()


def test_breakpoint_subclass_notify_and_run_again(fixtures):
    trace = exec_fixture(fixtures, "calls")
    bp = Counting("calls.tick")
    bpid = trace.addBreakpoint(bp)
    assert trace.getBreakpoint(bpid) is bp and bp.id == bpid
    assert trace.getBreakpointByAddr(trace.parseExpression("calls.tick")) is bp
    trace.run()
    assert trace.hasExited() and bp.args == [0, 1, 2, 3, 4]
    trace.release()


def test_breakpoint_kinds(fixtures):
    trace = exec_fixture(fixtures, "calls")
    tick = trace.parseExpression("tick")
    tracker = vtrace.TrackerBreak(None, expression="tick")
    trace.addBreakpoint(tracker)
    once = trace.addBreakpoint(vtrace.OneTimeBreak(None, expression="d"))
    stop = trace.addBreakpoint(vtrace.StopRunForeverBreak(None, expression="codefn"))
    hits = []

    class Breaks(vtrace.Notifier):
        def notify(self, event, trace):
            hits.append(trace.getCurrentBreakpoint().id)

    trace.registerNotifier(vtrace.NOTIFY_BREAK, Breaks())
    trace.setMode("RunForever", True)
    trace.run()
    assert hits == [once, stop] and trace.getBreakpoint(once) is None
    assert not trace.getMode("RunForever") and trace.getCurrentBreakpoint().id == stop
    trace.removeBreakpoint(stop)
    trace.setMode("RunForever", True)
    trace.run()
    assert trace.getMeta("TrackerBreak") == {tick: 5}
    assert trace.getMeta("ExitCode") == 0
    trace.release()


def test_fastbreak_code_and_run_until(fixtures):
    trace = exec_fixture(fixtures, "calls")
    bpid = trace.addBreakByExpr("tick", fastbreak=True)
    trace.setBreakpointCode(bpid, "trace.setMeta('ticks', trace.getMeta('ticks', []) + [rdi])")
    trace.run(until="codefn")
    assert trace.getProgramCounter() == trace.parseExpression("codefn") and trace.getMeta("ticks") is None
    assert not trace.getMode("RunForever")
    trace.setMode("RunForever", True)
    trace.run()
    assert trace.getMeta("ticks") == [0, 1, 2, 3, 4] and trace.hasExited()
    trace.release()


def test_hooks(fixtures):
    trace = exec_fixture(fixtures, "leaky")
    calls = []
    vtrace.addHook(trace, "libc.malloc", lambda ev, tr, ret, args, cc: calls.append(("pre", args[0])),
                   lambda ev, tr, ret, retval, args, cc: calls.append(("post", args[0], retval != 0)), argc=1)
    trace.setMode("RunForever", True)
    trace.run()
    assert ("pre", 100) in calls and ("post", 100, True) in calls
    trace.release()


def test_signals(fixtures):
    trace = exec_fixture(fixtures, "signals")

    class Sig(vtrace.Notifier):
        def notify(self, event, trace):
            assert trace.getCurrentSignal() == signal.SIGUSR1
            trace.setCurrentSignal(None)
            trace.runAgain()

    trace.registerNotifier(vtrace.NOTIFY_SIGNAL, Sig())
    trace.run()
    assert trace.getMeta("ExitCode") == 0  # both signals suppressed
    trace.release()
    trace = exec_fixture(fixtures, "signals")
    trace.addIgnoreSignal(signal.SIGUSR1)
    trace.setMode("RunForever", True)
    trace.run()
    assert trace.getMeta("ExitCode") == 2 and trace.getMeta("IgnoredSignals") == [signal.SIGUSR1]
    trace.release()


def test_memory_threads_stack_and_meta(fixtures):
    trace = exec_fixture(fixtures, "calls")
    trace.addBreakByExpr("d")
    trace.run()
    marker = trace.parseExpression("marker")
    assert trace.readMemory(marker, 7) == b"OXTRACE"
    trace.writeMemoryFormat(marker, "<I", 0x44434241)
    assert trace.readMemoryFormat(marker, "<I") == (0x44434241,) and trace.readMemValue(marker, 2) == 0x4241
    assert marker in trace.searchMemory(b"ABCDACE_") and trace.getMeta("search")
    assert trace.getThreads() == {trace.getPid(): trace.getPid()}
    trace.selectThread(trace.getPid())
    stack = trace.getStackTrace()
    assert stack[0][0] == trace.getProgramCounter()
    assert [str(trace.getSymByAddr(pc, exact=False)).split("+")[0] for pc, _ in stack[:3]] == \
        ["calls.d", "calls.c", "calls.b"]
    assert trace.getMeta("nothing", 5) == 5 and trace.getMeta("nothing") == 5
    with pytest.raises(vtrace.PlatformException):
        trace.readMemory(0x10, 4)
    ctx = trace.getRegisterContext()
    assert ctx.getRegisterByName("rdi") == 4 and ctx.getProgramCounter() == trace.getProgramCounter()
    assert trace.getRegister(trace.getRegisterIndex("rdi")) == 4
    trace.stepi()
    assert trace.getProgramCounter() != stack[0][0]
    assert "calls" in repr(trace)
    trace.kill()
    assert not trace.isAttached()
    trace.release()


def test_step_notifier_and_faststep(fixtures):
    trace = exec_fixture(fixtures, "calls")
    steps = []
    trace.registerNotifier(vtrace.NOTIFY_STEP, lambda event, trace: steps.append(event))
    trace.stepi()
    trace.setMode("FastStep", True)
    trace.stepi()
    assert steps == [vtrace.NOTIFY_STEP]
    trace.release()


def test_watchpoint(fixtures):
    trace = exec_fixture(fixtures, "calls")
    trace.addBreakByExpr("main")
    trace.run()
    counter = trace.parseExpression("counter")
    wp = vtrace.Watchpoint(counter, size=8, perms="w")
    wid = trace.addBreakpoint(wp)
    trace.run()
    assert trace.getCurrentBreakpoint() is wp and trace.readMemValue(counter, 8) == 4
    trace.removeBreakpoint(wid)
    trace.setMode("RunForever", True)
    trace.run()
    assert trace.getMeta("ExitCode") == 0
    trace.release()


def test_attach_errors_are_platform_exceptions():
    trace = vtrace.getTrace()
    with pytest.raises(vtrace.PlatformException, match="999999999"):
        trace.attach(999999999)
    with pytest.raises(Exception, match="must be attached"):
        trace.run()


def test_snapshot_save_and_load(fixtures, tmp_path):
    import vtrace.snapshot

    trace = exec_fixture(fixtures, "calls")
    trace.addBreakByExpr("d")
    trace.run()
    pc = trace.getProgramCounter()
    path = vtrace.snapshot.takeSnapshot(trace, str(tmp_path / "d.core"))
    trace.kill()
    trace.release()
    snap = vtrace.snapshot.loadSnapshot(path, fixtures.build("calls"))
    assert snap.getProgramCounter() == pc
    assert snap.readMemory(snap.parseExpression("marker"), 7) == b"OXTRACE"
    assert str(snap.getSymByAddr(snap.getStackTrace()[1][0], exact=False)).startswith("calls.c")
    with pytest.raises(Exception):
        snap.run()


def test_unsupported_calls_say_so(fixtures):
    trace = exec_fixture(fixtures, "calls")
    with pytest.raises(vtrace.PlatformException, match="all-stop|together"):
        trace.suspendThread(trace.getPid())
    with pytest.raises(vtrace.PlatformException, match="injectThread"):
        trace.injectThread(0)
    trace.release()

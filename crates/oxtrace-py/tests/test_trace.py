"""The core Trace API against real processes: lifecycle, events, memory,
registers, threads, signals, symbols, stacks, and errors as exceptions."""

import os
import signal
import subprocess
import time

import pytest

import oxtrace

ROOT_PY = __import__("pathlib").Path(oxtrace.__file__).parent


def spawn(path, *args, **kw):
    kw.setdefault("stdout", "null")
    return oxtrace.Trace.spawn([path, *args], **kw)


def test_spawn_stops_before_the_first_instruction(fixtures):
    t = spawn(fixtures.build("calls"))
    assert t.state == "stopped" and t.is_attached() and not t.has_exited()
    assert t.pid > 0 and t.threads() == [t.pid]
    assert t.last_event().kind == "attached"
    assert t.exe.endswith("calls-O0")
    # The dynamic linker's entry point, not the program's main.
    assert "ld-linux" in t.memory_map(t.regs.rip).path and t.sym_by_addr(t.regs.rip) == "_start"
    ev = t.run()
    assert (ev.kind, ev.exit_code, ev.signal) == ("exited", 0, None)
    assert t.exit_code == 0 and t.has_exited() and t.state == "exited"


def test_argv_env_cwd_and_stdout(fixtures, tmp_path):
    out = tmp_path / "out.txt"
    t = oxtrace.Trace.spawn(["/usr/bin/env"], env={"OXTRACE_PY": "yes"}, cwd=str(tmp_path), stdout=out)
    assert t.run().exit_code == 0
    assert out.read_text().strip() == "OXTRACE_PY=yes"
    t = oxtrace.Trace.spawn(["/bin/sh", "-c", "pwd; exit 3"], cwd=str(tmp_path), stdout=out)
    assert t.run().exit_code == 3
    assert out.read_text().strip() == str(tmp_path)


def test_breakpoint_event_fields_and_backtrace(fixtures):
    t = spawn(fixtures.build("calls"))
    d = t.sym_by_name("d")
    bp = t.add_breakpoint("d")
    ev = t.run()
    assert (ev.kind, ev.id, ev.addr, ev.pid, ev.tid) == ("breakpoint", bp, d, t.pid, t.pid)
    assert ev.fields() == {"id": bp, "addr": d}
    assert "breakpoint" in repr(ev) and str(ev).endswith(f"breakpoint {bp} at {d:#x}")
    assert t.pc == d == t.regs.rip
    frames = t.backtrace()
    assert [f.function for f in frames[:5]] == ["d", "c", "b", "a", "main"]
    assert frames[0].line == 9 and frames[0].file.endswith("calls.c") and frames[0].module == "calls"
    assert str(frames[1]).startswith("#1 0x") and " in c+0x" in str(frames[1])
    with pytest.raises(AttributeError, match="no field .signo."):
        ev.signo
    info = t.breakpoint(bp)
    assert (info.addr, info.kind, info.hits, info.enabled) == (d, "normal", 1, True)
    t.kill()


def test_backtrace_matches_gdb(fixtures, gdb):
    path = fixtures.build("calls")
    out = subprocess.run([gdb, "-nx", "--batch", "-ex", "break d", "-ex", "run", "-ex", "bt", path],
                         capture_output=True, text=True).stdout
    gdb_funcs = [line.split(" in ")[1].split(" ")[0] if " in " in line else line.split()[1]
                 for line in out.splitlines() if line.startswith("#")]
    t = spawn(path)
    t.run_until("d")
    ours = [f.function for f in t.backtrace()]
    assert ours[: len(gdb_funcs)] == gdb_funcs
    t.kill()


def test_memory(fixtures):
    t = spawn(fixtures.build("calls"))
    t.run_until("main")
    marker = t.sym_by_name("marker")
    assert t.read_memory(marker, 7) == b"OXTRACE"
    assert t.read_c_string(marker) == b"OXTRACE_MARKER_1234567"
    assert t.read_u8(marker) == ord("O") and t.read_u16(marker) == 0x584F
    assert t.read_u64(marker) == int.from_bytes(b"OXTRACE_", "little")
    t.write_memory(marker, b"oxtrace")
    assert t.read_memory(marker, 8) == b"oxtrace_"
    t.write_u32(marker, 0x41424344)
    assert t.read_u32(marker) == 0x41424344 and t.read_i32(marker) == 0x41424344
    t.write_i64(marker + 8, -2)
    assert t.read_i64(marker + 8) == -2 and t.read_u64(marker + 8) == 2**64 - 2
    assert marker in t.search_memory(b"DCBAace_")
    assert t.sym_by_name("rodata_marker") in t.search_memory(rb"RODATA_MA.KER", regex=True)
    m = t.memory_map(marker)
    assert marker in m and m.perms.startswith("rw") and m.name == os.path.basename(t.exe)
    assert any(x.start == m.start for x in t.memory_maps())
    t.kill()


def test_registers(fixtures, tmp_path):
    out = tmp_path / "out"
    t = oxtrace.Trace.spawn([fixtures.build("calls")], stdout=out)
    t.run_until("d")
    regs = t.regs
    assert regs.rdi == 4 and regs["rdi"] == 4 and regs.edi == 4 and regs.dil == 4
    assert "xmm0" in regs and "nosuch" not in regs
    regs.rdi = 10  # d(10) = 30: a(1) = 33
    regs["xmm1"] = 1 << 100
    assert regs["xmm1"] == 1 << 100
    regs.rax = -1
    assert regs.rax == 2**64 - 1 and regs.eax == 2**32 - 1
    with pytest.raises(oxtrace.RegisterError, match="does not fit in register eax"):
        regs.eax = 1 << 40
    with pytest.raises(AttributeError, match="nosuch"):
        regs.nosuch
    with pytest.raises(KeyError):
        regs["nosuch"]
    with pytest.raises(oxtrace.RegisterError, match="nosuch"):
        t.regs.nosuch = 1
    assert regs.to_dict()["rip"] == t.pc and "rax" in regs.names()
    assert t.thread_regs(t.pid).rdi == 10
    t.run()
    assert out.read_text().splitlines()[0] == "result 33"


def test_stepping(fixtures):
    t = spawn(fixtures.build("calls"))
    t.run_until("c")
    caller = t.backtrace()[1].pc
    assert t.stepi().kind == "step"
    ev = t.step_out()
    assert t.pc == caller and ev.kind in ("step", "breakpoint")
    t.kill()
    t = spawn(fixtures.build("calls"))
    t.run_until("a")
    # step_over runs calls to their return: stepping over every instruction of a() never enters b().
    b_addr = t.sym_by_name("b")
    seen = set()
    for _ in range(12):
        t.step_over()
        seen.add(t.pc)
    assert b_addr not in seen
    t.kill()


def test_threads(fixtures):
    t = spawn(fixtures.build("threads", "-O0", libs=("-lpthread",)), "4", "10")
    created = []
    t.register_notifier("thread_created", lambda tr, e: created.append(e.new_tid) or tr.run_again())
    tids = set()
    t.add_breakpoint("work", lambda tr, e: (tids.add(e.tid), tr.run_again()))
    assert t.run().exit_code == 0
    assert len(created) == 4 and tids == set(created)


def test_select_thread_and_per_thread_registers(fixtures):
    t = spawn(fixtures.build("threads", "-O0", libs=("-lpthread",)), "2", "1000")
    t.add_breakpoint("work")
    t.run()
    assert len(t.threads()) >= 2
    for tid in t.threads():
        t.select_thread(tid)
        assert t.current_thread == tid
        assert t.regs.rip == t.thread_regs(tid).rip
    with pytest.raises(oxtrace.ProcessError, match="no thread 1 in process"):
        t.thread_regs(1)
    t.kill()


def test_signals(fixtures):
    path = fixtures.build("signals")
    t = spawn(path)
    ev = t.run()
    assert (ev.kind, ev.signo) == ("signal", signal.SIGUSR1)
    assert t.pending_signal == signal.SIGUSR1
    t.pending_signal = None  # the first one never reaches the program
    ev = t.run()
    assert ev.kind == "signal"
    assert t.run().exit_code == 1
    t = spawn(path)
    t.ignore_signal(signal.SIGUSR1)
    assert t.ignored_signals() == [signal.SIGUSR1]
    assert t.run().exit_code == 2


def test_segfault(fixtures):
    t = spawn(fixtures.build("segfault"))
    ev = t.run()
    assert (ev.kind, ev.signo, ev.fault_addr) == ("signal", signal.SIGSEGV, 0x10)
    assert t.backtrace()[0].function == "crash"
    assert t.disassemble()[0].text.startswith("mov")
    ev = t.run()
    assert (ev.kind, ev.exit_code, ev.signal) == ("exited", None, signal.SIGSEGV)


def test_symbols(fixtures):
    t = spawn(fixtures.build("calls"))
    t.run_until("main")
    d = t.sym_by_name("d")
    assert t.sym_by_name("calls.d") == d
    assert t.sym_by_addr(d) == "d"
    assert t.sym_by_addr(d + 2, exact=False) == "d+0x2"
    assert t.sym_by_addr(d + 2) is None
    names = {name for _, name, _ in t.search_symbols("^tic", "calls")}
    assert names == {"tick"}
    libs = {lib.name: lib for lib in t.libraries()}
    assert "libc" in libs and libs["libc"].base <= t.sym_by_name("libc.malloc") < libs["libc"].end
    assert t.parse_expression("d + 8") == d + 8
    assert t.parse_expression("rsp") == t.sp
    assert t.line_for_addr(d)[1] == 9
    with pytest.raises(oxtrace.SymbolError, match="no_such_function"):
        t.sym_by_name("no_such_function")
    with pytest.raises(oxtrace.ExpressionError):
        t.parse_expression("1 +")
    t.kill()


def test_errors_are_one_hierarchy(fixtures):
    for cls in (oxtrace.MemoryAccessError, oxtrace.RegisterError, oxtrace.SymbolError, oxtrace.ProcessExitedError,
                oxtrace.SpawnError, oxtrace.BreakpointError, oxtrace.StateError, oxtrace.ExpressionError):
        assert issubclass(cls, oxtrace.Error)
    with pytest.raises(oxtrace.SpawnError, match="no-such-program"):
        oxtrace.Trace.spawn(["/no-such-program"])
    with pytest.raises(oxtrace.ProcessError, match="pid 999999999"):
        oxtrace.Trace.attach(999999999)
    t = spawn(fixtures.build("calls"))
    with pytest.raises(oxtrace.MemoryAccessError, match="0x10 in process"):
        t.read_memory(0x10, 4)
    with pytest.raises(oxtrace.BreakpointError, match="no breakpoint with id 77"):
        t.remove_breakpoint(77)
    d = t.sym_by_name("d")
    t.add_breakpoint(d)
    with pytest.raises(oxtrace.BreakpointError, match="already set"):
        t.add_breakpoint(d)
    t.run()
    t.start()
    with pytest.raises(oxtrace.StateError, match="running"):
        t.read_memory(d, 1)
    assert t.wait().kind == "exited"
    with pytest.raises(oxtrace.ProcessExitedError, match="has exited"):
        t.run()
    t.release()
    t.release()
    with pytest.raises(oxtrace.ProcessError, match="released"):
        t.pid


def test_call_allocate_and_inject(fixtures):
    t = spawn(fixtures.build("callee"))
    t.run_until("main")
    assert t.call("scaled_length", ["hello", 2]) == 10
    assert t.call(t.sym_by_name("scaled_length"), [b"abc\0", 3]) == 9
    addr = t.allocate_memory(4096, "rw")
    t.write_memory(addr, b"fresh")
    assert t.read_memory(addr, 5) == b"fresh" and t.memory_map(addr).perms.startswith("rw-")
    t.protect_memory(addr, 4096, "r")
    assert t.memory_map(addr).perms.startswith("r--")
    t.free_memory(addr, 4096)
    assert t.memory_map(addr) is None
    so = fixtures.build("injected", shared=True)
    assert t.inject_so(so) != 0
    assert t.call("injected_answer", [1]) == 42
    t.kill()


def test_read_typed(fixtures):
    t = spawn(fixtures.build("callee"))
    t.run_until("main")
    shape = t.read_typed("struct shape", t.sym_by_name("the_shape"))
    assert shape["corners"] == [{"x": 1, "y": 2}, {"x": 3, "y": 4}]
    assert shape["scale"] == 2.5 and shape["area"]["i"] == 12
    addr, value = t.read_global("the_shape")
    assert addr == t.sym_by_name("the_shape") and value == shape
    assert t.format_typed("struct shape", addr).startswith('{name = "square')
    t.kill()


def test_watchpoints(fixtures):
    t = spawn(fixtures.build("calls"))
    t.run_until("main")
    counter = t.sym_by_name("counter")
    wp = t.add_watchpoint(counter, 8, "w")
    ev = t.run()
    assert (ev.kind, ev.id, ev.addr, ev.old, ev.new) == ("watchpoint", wp, counter, 0, 4)
    assert t.watchpoints()[0].hits == 1
    t.remove_watchpoint(wp)
    pw = t.add_page_watch(counter, 8, "w")
    ev = t.run()
    assert (ev.kind, ev.id, ev.addr, ev.access) == ("page_watch", pw, counter, "write")
    t.remove_page_watch(pw)
    assert t.run().exit_code == 0


def test_snapshot_roundtrip(fixtures, tmp_path):
    path = fixtures.build("calls")
    t = spawn(path)
    t.run_until("d")
    core = tmp_path / "d.core"
    assert t.save_snapshot(core) > 0
    rip = t.pc
    t.kill()
    c = oxtrace.Trace.open_core(core, path)
    assert c.pc == rip and c.read_c_string(c.sym_by_name("marker")) == b"OXTRACE_MARKER_1234567"
    assert [f.function for f in c.backtrace()[:2]] == ["d", "c"]
    with pytest.raises(oxtrace.Error):
        c.run()


def test_attach_and_detach(fixtures):
    proc = subprocess.Popen([fixtures.build("spin"), "20"])
    try:
        time.sleep(0.2)
        t = oxtrace.Trace.attach(proc.pid)
        assert t.pid == proc.pid and t.state == "stopped"
        t.add_breakpoint("spin_once")
        assert t.run().kind == "breakpoint"
        t.detach()
        assert t.state == "detached"
        time.sleep(0.1)
        assert proc.poll() is None  # runs on, no breakpoint left behind
    finally:
        proc.kill()
        proc.wait()


def test_metadata_and_variables(fixtures):
    t = spawn(fixtures.build("calls"))
    assert t.get_meta("Architecture") == "x86_64"
    t.set_meta("Mine", [1, "two", b"3", True])
    assert t.get_meta("Mine") == [1, "two", b"3", True] and t.has_meta("Mine")
    assert t.get_meta("Missing", 5) == 5
    t.set_variable("base", 0x1000)
    assert t.variable("base") == 0x1000 and t.parse_expression("base + 1") == 0x1001
    with pytest.raises(TypeError):
        t.set_meta("Bad", 1.5)
    t.kill()


def test_context_manager_kills_a_spawned_process(fixtures):
    with spawn(fixtures.build("spin"), "20") as t:
        pid = t.pid
    assert t.state == "released"
    time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_connect_to_a_gdbserver(fixtures):
    import shutil
    import socket

    if shutil.which("gdbserver") is None:
        pytest.skip("gdbserver is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = fixtures.build("calls")
    server = subprocess.Popen(["gdbserver", f"127.0.0.1:{port}", path], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                t = oxtrace.Trace.connect(f"127.0.0.1:{port}")
                break
            except oxtrace.RemoteError:
                time.sleep(0.05)
        ev = t.run_until("d")
        assert ev.kind == "breakpoint" and t.regs.rdi == 4
        assert [f.function for f in t.backtrace()[:3]] == ["d", "c", "b"]
        t.kill()
    finally:
        server.kill()
        server.wait()


def test_help_shows_the_api():
    for name in ("run", "add_breakpoint", "add_hook", "read_memory", "backtrace", "spawn", "register_notifier"):
        doc = getattr(oxtrace.Trace, name).__doc__
        assert doc and len(doc) > 30, name
    assert "thread" in oxtrace.Trace.__doc__ and "GIL" in oxtrace.Trace.__doc__
    assert oxtrace.Event.__doc__ and oxtrace.Registers.__doc__ and oxtrace.Error.__doc__
    assert (ROOT_PY / "_oxtrace.pyi").exists() and (ROOT_PY / "py.typed").exists()


def test_source_lines_threads_and_descriptors(fixtures, tmp_path):
    t = spawn(fixtures.build("calls"))
    t.run_until("main")
    line = t.line_for_addr(t.pc)[1]
    t.next_line()
    assert t.line_for_addr(t.pc)[1] > line  # over the call of a(), to the next line
    t.kill()
    t = spawn(fixtures.build("calls"))
    t.run_until("c")
    for _ in range(5):
        t.step_line()
        if t.backtrace()[0].function != "c":
            break
    assert t.backtrace()[0].function == "d" and t.line_for_addr(t.pc)[1] == 9  # into the call
    addrs = t.addrs_for_line("calls.c", 9)
    assert addrs and all(t.line_for_addr(a)[1] == 9 for a in addrs)
    fds = t.file_descriptors()
    assert {fd for fd, _, _ in fds} >= {0, 1, 2} and all(kind in ("file", "socket", "pipe", "other") for _, kind, _ in fds)
    t.kill()
    t = spawn(fixtures.build("threads", "-O0", libs=("-lpthread",)), "2", "100")
    t.disable_auto_continue("thread_created")
    ev = t.run()
    assert ev.kind == "thread_created"
    t.enable_auto_continue("thread_created")
    last = t.join_thread(ev.new_tid)
    assert last.kind == "thread_exited" and last.tid == ev.new_tid and ev.new_tid not in t.threads()
    assert t.run().exit_code == 0

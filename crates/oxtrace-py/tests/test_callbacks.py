"""Python callables in the run loop: notifiers, breakpoint callbacks and
conditions, hooks, exceptions from callbacks, the GIL released while the
process runs, Ctrl-C, and traces driven from two Python threads."""

import os
import signal
import threading
import time
import traceback

import pytest

import oxtrace


def spawn(path, *args, **kw):
    kw.setdefault("stdout", "null")
    return oxtrace.Trace.spawn([path, *args], **kw)


def test_callback_with_run_again_sees_every_hit(fixtures):
    t = spawn(fixtures.build("calls"))
    seen = []

    def on_tick(trace, event):
        assert event.kind == "breakpoint" and trace.pc == event.addr
        seen.append(trace.regs.rdi)
        trace.run_again()

    bp = t.add_breakpoint("tick", on_tick)
    assert t.run().kind == "exited"
    assert seen == [0, 1, 2, 3, 4] and t.breakpoint(bp).hits == 5


def test_callback_without_run_again_stops(fixtures):
    t = spawn(fixtures.build("calls"))
    calls = []
    bp = t.add_breakpoint("tick", lambda tr, e: calls.append(tr.regs.rdi))
    ev = t.run()
    assert (ev.kind, ev.id, calls) == ("breakpoint", bp, [0])
    ev = t.run()
    assert calls == [0, 1] and t.breakpoint(bp).hits == 2
    t.kill()


def test_run_forever_mode_and_stop_breakpoints(fixtures):
    t = spawn(fixtures.build("calls"))
    t.set_mode("RunForever", True)
    assert t.mode("RunForever")
    hits = []
    t.add_breakpoint("tick", lambda tr, e: hits.append(tr.regs.rdi))
    stop = t.add_breakpoint("libc.printf", kind="stop_run_forever")
    ev = t.run()
    assert (ev.kind, ev.id) == ("breakpoint", stop) and not t.mode("RunForever")
    t.remove_breakpoint(stop)
    t.set_mode("RunForever", True)
    assert t.run().kind == "exited" and hits == [0, 1, 2, 3, 4]


def test_conditions_callable_and_expression(fixtures):
    t = spawn(fixtures.build("calls"))
    seen = []
    t.add_breakpoint("tick", lambda tr, e: seen.append(tr.regs.rdi), condition=lambda tr: tr.regs.rdi % 2 == 1)
    ev = t.run()
    assert ev.kind == "breakpoint" and seen == [1]
    assert t.run().kind == "breakpoint" and seen == [1, 3]
    assert t.breakpoints()[0].hits == 2
    t.kill()
    t = spawn(fixtures.build("calls"))
    bp = t.add_breakpoint("tick", condition="rdi == 3")
    t.run()
    assert t.regs.rdi == 3 and t.breakpoint(bp).hits == 1
    with pytest.raises(oxtrace.ExpressionError):
        t.add_breakpoint("d", condition="rdi ==")
    t.kill()


def test_breakpoint_kinds(fixtures):
    t = spawn(fixtures.build("calls"))
    fast_calls = []
    t.add_breakpoint("codefn", lambda tr, e: fast_calls.append(tr.regs.rdi), kind="fast")
    once = t.add_breakpoint("d", kind="one_time")
    ev = t.run()
    assert ev.id == once and t.breakpoint(once) is None
    assert t.run().kind == "exited"
    assert fast_calls == [2]
    # Kinds of breakpoints deferred until their library loads.
    t = spawn(fixtures.build("calls"))
    t.set_mode("RunForever", True)
    stop = t.add_breakpoint("libc.printf", kind="stop_and_remove")
    ev = t.run()
    assert (ev.kind, ev.id) == ("breakpoint", stop) and t.breakpoint(stop) is None
    assert not t.mode("RunForever")
    t.run_until("tick")
    assert t.regs.rdi == 0 and t.breakpoints() == []
    with pytest.raises(ValueError, match="unknown breakpoint kind"):
        t.add_breakpoint("d", kind="sometimes")
    t.kill()


def test_tracker_counts_without_stopping(fixtures):
    t = spawn(fixtures.build("calls"))
    bp = t.add_breakpoint("tick", kind="tracker")
    t.add_breakpoint("libc.printf", condition=lambda tr: tr.read_c_string(tr.regs.rdi).startswith(b"rodata"))
    assert t.run().kind == "breakpoint"
    assert t.breakpoint(bp).hits == 5 and t.breakpoint(bp).kind == "tracker"
    t.kill()


def test_notifiers(fixtures):
    t = spawn(fixtures.build("signals"))
    events = []
    nid = t.register_notifier("all", lambda tr, e: events.append(e.kind))
    sig = []
    t.register_notifier("signal", lambda tr, e: (sig.append(e.signo), tr.run_again()))
    assert t.run().exit_code == 2
    assert sig == [signal.SIGUSR1, signal.SIGUSR1]
    assert events.count("signal") == 2 and events[-1] == "exited" and "continued" in events
    assert "library_loaded" in events  # auto-continued events still reach notifiers
    assert t.deregister_notifier(nid) and not t.deregister_notifier(nid)
    with pytest.raises(ValueError, match="unknown event kind"):
        t.register_notifier("nonsense", print)


def test_auto_continue_list(fixtures):
    t = spawn(fixtures.build("threads", "-O0", libs=("-lpthread",)), "2", "5")
    assert "thread_created" in t.auto_continue_list()
    t.disable_auto_continue("thread_created")
    ev = t.run()
    assert ev.kind == "thread_created" and ev.new_tid in t.threads()
    t.enable_auto_continue("thread_created")
    assert t.run().kind == "exited"


def test_hooks_with_arguments_and_return_values(fixtures):
    t = spawn(fixtures.build("leaky"))
    calls = []
    t.add_hook("libc.malloc", pre=lambda tr, c: calls.append(("malloc", c.args[0])),
               post=lambda tr, c, ret: calls.append(("ret", c.args[0], ret != 0)), argc=1)
    frees = []
    t.add_hook("libc.free", pre=lambda tr, c: frees.append(c.args[0]), argc=1)
    assert t.run().exit_code == 0
    sizes = [c[1] for c in calls if c[0] == "malloc"]
    assert 10 in sizes and 100 in sizes
    assert ("ret", 100, True) in calls and ("ret", 10, True) in calls
    assert len(frees) >= 2


def test_hook_sees_recursion_paired(fixtures):
    t = spawn(fixtures.build("watch", "-O0", libs=("-lpthread",)))
    pairs = []
    t.add_hook("recurse", post=lambda tr, c, ret: pairs.append((c.args[0], ret)), argc=1)
    t.run()
    # recurse(d) = d + 2 * recurse(d - 1): inner calls return first.
    depths = [d for d, _ in pairs]
    assert depths == sorted(depths) and depths[0] == 0
    values = dict(pairs)
    for d in depths[1:]:
        assert values[d] == d + 2 * values[d - 1]


def test_exception_in_callback_propagates_and_leaves_trace_stopped(fixtures, tmp_path):
    out = tmp_path / "out"
    t = oxtrace.Trace.spawn([fixtures.build("calls")], stdout=out)

    def broken(trace, event):
        if trace.regs.rdi == 2:
            raise ValueError("tick 2 is bad")
        trace.run_again()

    t.add_breakpoint("tick", broken)
    with pytest.raises(ValueError, match="tick 2 is bad") as info:
        t.run()
    assert "broken" in "".join(traceback.format_tb(info.value.__traceback__))
    # Stopped at that hit, consistent: the breakpoint byte hidden, registers readable.
    assert t.state == "stopped" and t.regs.rdi == 2 and t.pc == t.sym_by_name("tick")
    assert t.read_memory(t.pc, 1) != b"\xcc"
    t.remove_breakpoint(t.breakpoints()[0].id)
    assert t.run().exit_code == 0
    assert out.read_text().splitlines()[-1] == "marker=OXTRACE_MARKER_1234567"


def test_exception_in_notifier_and_hook_propagate(fixtures):
    t = spawn(fixtures.build("signals"))
    t.register_notifier("signal", lambda tr, e: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        t.run()
    assert t.state == "stopped" and t.pending_signal == signal.SIGUSR1
    t.kill()
    t = spawn(fixtures.build("leaky"))
    t.add_hook("libc.free", pre=lambda tr, c: (_ for _ in ()).throw(KeyError("free")))
    with pytest.raises(KeyError):
        t.run()
    assert t.state == "stopped"
    t.kill()


def test_gil_released_while_the_process_runs(fixtures):
    t = spawn(fixtures.build("spin"), "1")
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.01)

    th = threading.Thread(target=count)
    th.start()
    try:
        assert t.run().kind == "exited"  # about one second of running
    finally:
        stop.set()
        th.join()
    assert len(ticks) >= 5  # with the GIL held while it runs, the thread would get none in


def test_ctrl_c_interrupts_run_and_leaves_the_trace_usable(fixtures):
    t = spawn(fixtures.build("spin"), "30")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        t.run()
    assert time.monotonic() - started < 10
    assert t.state == "stopped" and t.last_event().kind == "interrupted"
    assert t.regs.rip and t.backtrace()
    t.add_breakpoint("spin_once")
    assert t.run().kind == "breakpoint"
    t.kill()


def test_ctrl_c_interrupts_wait(fixtures):
    t = spawn(fixtures.build("spin"), "30")
    t.start()
    threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        t.wait()
    assert t.state == "stopped"
    t.kill()


def test_wait_timeout_and_interrupter_from_another_thread(fixtures):
    t = spawn(fixtures.build("spin"), "30")
    t.start()
    assert t.wait(0.1) is None and t.is_running()
    stopper = t.interrupter()
    threading.Timer(0.2, stopper.interrupt).start()
    ev = t.wait()
    assert ev.kind == "interrupted" and t.state == "stopped"
    t.kill()


def test_two_traces_in_two_threads(fixtures):
    path = fixtures.build("calls")
    results = {}

    def work(name):
        t = spawn(path)
        seen = []
        t.add_breakpoint("tick", lambda tr, e: (seen.append(tr.regs.rdi), tr.run_again()))
        ev = t.run()
        results[name] = (ev.exit_code, seen, t.pid)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results["a"][:2] == results["b"][:2] == (0, [0, 1, 2, 3, 4])
    assert results["a"][2] != results["b"][2]


def test_a_trace_is_pinned_to_its_thread(fixtures):
    t = spawn(fixtures.build("calls"))
    errors = []

    def other():
        try:
            t.regs.rip
        except BaseException as e:  # pyo3 refuses an unsendable object on another thread
            errors.append(e)

    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert errors and t.regs.rip  # still fine on its own thread
    t.kill()


def test_a_trace_in_a_reference_cycle_is_collected(fixtures):
    import gc

    t = spawn(fixtures.build("spin"), "20")
    pid = t.pid
    t.add_breakpoint("spin_once", lambda tr, e: t.run_again())  # the callback refers to its trace
    t.register_notifier("all", lambda tr, e: t)
    del t
    gc.collect()
    time.sleep(0.1)
    with pytest.raises(ProcessLookupError):  # collected: a spawned process dies with its trace
        os.kill(pid, 0)

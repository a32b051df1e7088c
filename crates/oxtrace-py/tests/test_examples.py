"""The Python examples of examples/python, each run on a fixture as a user would run it."""

import subprocess
import sys

import pytest

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "python"


def run(example, *args, cwd=None):
    out = subprocess.run([sys.executable, str(EXAMPLES / example), *args], capture_output=True, text=True,
                         timeout=120, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_strace(fixtures):
    lines = run("strace.py", fixtures.build("calls")).splitlines()
    writes = [line for line in lines if "] write(0x1, " in line]
    assert writes and writes[0].endswith("= 10")  # "result 15\n"
    assert any("exit_group(0x0" in line and line.endswith("= ?") for line in lines)
    assert lines[-1] == "+++ exited with 0 +++"


def test_coverage(fixtures):
    counts = {line.split()[1]: int(line.split()[0]) for line in run("coverage.py", fixtures.build("calls")).splitlines()
              if line.startswith(" ")}
    assert (counts["tick"], counts["main"], counts["a"], counts["d"], counts["codefn"]) == (5, 1, 1, 1, 1)


def test_malloc_trace(fixtures):
    out = run("malloc_trace.py", fixtures.build("leaky"))
    leaks = [line for line in out.splitlines() if line.startswith("leak:")]
    assert len(leaks) == 1 and leaks[0].startswith("leak: 100 bytes at 0x")
    assert " in make_leak+" in out and "(leaky.c:6)" in out


def test_crash_triage(fixtures, tmp_path):
    out = run("crash_triage.py", fixtures.build("segfault"), cwd=tmp_path)
    assert out.startswith("signal SIGSEGV at 0x10 in thread ")
    assert "faulting instruction: 0x" in out and "mov dword ptr [r" in out
    assert " in crash+" in out and "(segfault.c:4)" in out
    assert (tmp_path / "crash.core").stat().st_size > 0


@pytest.mark.parametrize("threads", [False, True])
def test_sampler(fixtures, threads):
    if threads:
        out = run("sampler.py", "200", fixtures.build("threads", "-O0", libs=("-lpthread",)), "2", "20000000")
        top = "work"
    else:
        out = run("sampler.py", "200", fixtures.build("spin"), "1")
        top = "spin_once"
    lines = [line for line in out.splitlines() if "%" in line]
    assert lines and any(line.split()[-1] == top for line in lines[:3])
    assert abs(sum(float(line.split()[0].rstrip("%")) for line in lines) - 100) < 1.5 or len(lines) == 10

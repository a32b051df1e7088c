"""Test support: the C fixtures of tests/fixtures, compiled once per session."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"


class Fixtures:
    """Compiles tests/fixtures/NAME.c on first use."""

    def __init__(self, out: Path):
        self.out = out
        self.cc = os.environ.get("CC", "cc")

    def build(self, name, *flags, shared=False, libs=()):
        tag = "-".join(f.strip("-").replace("=", "") for f in flags) or "O0"
        binary = self.out / (f"lib{name}-{tag}.so" if shared else f"{name}-{tag}")
        if not binary.exists():
            cmd = [self.cc, "-g", *(flags or ("-O0",))]
            if shared:
                cmd += ["-shared", "-fPIC"]
            cmd += ["-o", str(binary), str(FIXTURES / f"{name}.c"), *libs]
            subprocess.run(cmd, check=True)
        return str(binary)


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory):
    return Fixtures(tmp_path_factory.mktemp("fixtures"))


@pytest.fixture
def gdb():
    """The path of gdb, or skip."""
    path = shutil.which("gdb")
    if path is None:
        pytest.skip("gdb is not installed")
    return path

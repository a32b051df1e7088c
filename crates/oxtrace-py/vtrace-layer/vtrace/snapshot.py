"""Snapshots: a stopped process saved as an ELF core file (gdb opens it, unlike
vtrace's pickled .vsnap files), and opened again as a read-only trace."""

import oxtrace


def takeSnapshot(trace, path=None):
    """Saves the stopped process to path (default: <exe>-<pid>.core); returns the path."""
    if path is None:
        path = "%s-%d.core" % (trace.getExe().split("/")[-1], trace.getPid())
    trace.saveSnapshot(path)
    return path


def loadSnapshot(path, program=None):
    """A trace over a saved snapshot (or any Linux x86_64 core file): memory, maps,
    registers, threads, symbols and stack traces as on the live process; running it is an error."""
    import vtrace

    trace = vtrace.Trace()
    try:
        t = oxtrace.Trace.open_core(path, program)
    except oxtrace.Error as e:
        raise vtrace.PlatformException(str(e)) from e
    trace._justAttached(t)
    return trace

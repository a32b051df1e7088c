"""The namespace of vtrace expressions and breakpoint code: registers,
variables, libraries and symbols by name, and helper functions; evaluated as
Python, as vtrace does."""

import builtins


class ExpressionFail(Exception):
    """An expression that could not be evaluated."""

    def __init__(self, pycode, exception):
        Exception.__init__(self, "%r: %s" % (pycode, exception))
        self.pycode = pycode
        self.exception = exception


class VtraceExpressionLocals(dict):
    """Looks names up in order: registers, trace variables, "lib.sym" names,
    library names (a FileSymbol) and bare symbol names, then the helpers."""

    def __init__(self, trace):
        dict.__init__(self)
        self.trace = trace
        import vtrace

        self.update({
            "trace": trace,
            "vtrace": vtrace,
            "frame": self.frame,
            "bp": self.bp,
            "meta": trace.getMeta,
            "go": trace.runAgain,
            "mapbase": self.mapbase,
            "maplen": self.maplen,
            "ispoi": trace.isValidPointer,
            "mem": trace.readMemory,
            "poi": trace.readMemoryPtr,
            "sym": trace.parseExpression,
        })

    def __getitem__(self, name):
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        trace = self.trace
        if trace.isAttached() and not trace.isRunning():
            regs = trace._t.regs
            if name in regs:
                return regs[name]
        if name in trace.localvars:
            return trace.localvars[name]
        index = trace._symbols()
        if name in index.libs:
            return index.libs[name]
        sym = index.byname.get(name) or index.bare.get(name)
        if sym is not None:
            return sym
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise KeyError(name)

    def __contains__(self, name):
        try:
            self[name]
            return True
        except KeyError:
            return False

    def frame(self, index):
        """The canonical frame address of stack frame index."""
        stack = self.trace.getStackTrace()
        return stack[index][1]

    def bp(self, bpid):
        """The resolved address of breakpoint bpid."""
        return self.trace.getBreakpoint(bpid).getAddress()

    def mapbase(self, addr):
        m = self.trace.getMemoryMap(addr)
        if m is None:
            raise Exception("ERROR - un-mapped address in mapbase()")
        return m[0]

    def maplen(self, addr):
        m = self.trace.getMemoryMap(addr)
        if m is None:
            raise Exception("ERROR - un-mapped address in maplen()")
        return m[1]

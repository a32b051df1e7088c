"""Symbol objects as vtrace gives them: ints (the address) with a name, a size
and the normalized name of their file, and a per-trace index of them."""

import bisect


class Symbol(int):
    """A symbol: behaves as its address in arithmetic; str() is "lib.name"."""

    def __new__(cls, name, value, size=0, fname=None):
        obj = int.__new__(cls, value)
        obj.name = name
        obj.value = value
        obj.size = size
        obj.fname = fname
        return obj

    def __str__(self):
        return "%s.%s" % (self.fname, self.name) if self.fname else self.name

    def __repr__(self):
        return str(self)

    __hash__ = int.__hash__

    def __eq__(self, other):
        if isinstance(other, Symbol):
            return int(self) == int(other) and self.name == other.name
        return int(self) == other


class FunctionSymbol(Symbol):
    """A symbol naming code; repr "lib.name()"."""

    def __repr__(self):
        return "%s()" % str(self)


class FileSymbol(Symbol):
    """A library: its base address, with its symbols as attributes or items (libc.malloc, libc["malloc"])."""

    def __new__(cls, fname, base, size, index):
        obj = Symbol.__new__(cls, fname, base, size, None)
        obj._index = index
        return obj

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        sym = self._index.byname.get("%s.%s" % (self.name, name))
        if sym is None:
            raise AttributeError("no symbol %s.%s" % (self.name, name))
        return sym

    def __getitem__(self, name):
        sym = self._index.byname.get("%s.%s" % (self.name, name))
        if sym is None:
            raise KeyError("%s.%s" % (self.name, name))
        return sym


class SymbolIndex:
    """Every symbol of a trace, by "lib.name", by bare name, and by address."""

    def __init__(self, trace):
        self.byname = {}
        self.bare = {}
        self.libs = {}
        entries = []
        program = None
        for lib in trace.libraries():
            self.libs[lib.name] = FileSymbol(lib.name, lib.base, lib.end - lib.base, self)
            if trace.exe and lib.path == trace.exe:
                program = lib.name
        for module, name, addr, size, kind in trace.symbol_table():
            cls = FunctionSymbol if kind in ("function", "ifunc") else Symbol
            sym = cls(name, addr, size, module)
            self.byname.setdefault("%s.%s" % (module, name), sym)
            if module == program or name not in self.bare:
                self.bare[name] = sym
            entries.append(sym)
        entries.sort(key=int)
        self.sorted = entries
        self.addrs = [int(s) for s in entries]

    def by_addr(self, addr, exact=True):
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i < 0:
            return None
        # The named one at the highest address not above addr (functions before others at one address).
        sym = self.sorted[i]
        j = i
        while j > 0 and self.addrs[j - 1] == self.addrs[i]:
            j -= 1
            if isinstance(self.sorted[j], FunctionSymbol):
                sym = self.sorted[j]
        if exact and int(sym) != addr:
            return None
        if not exact and sym.size and addr >= int(sym) + sym.size and addr != int(sym):
            lib = next((l for l in self.libs.values() if int(l) <= addr < int(l) + l.size), None)
            if lib is None:
                return None
        return sym

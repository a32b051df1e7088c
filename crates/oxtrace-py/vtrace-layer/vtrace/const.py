"""vtrace's constants: event codes, memory permissions, file descriptor kinds."""

NOTIFY_ALL = 0
NOTIFY_SIGNAL = 1
NOTIFY_BREAK = 2
NOTIFY_STEP = 3
NOTIFY_SYSCALL = 4
NOTIFY_CONTINUE = 5
NOTIFY_EXIT = 6
NOTIFY_ATTACH = 7
NOTIFY_DETACH = 8
NOTIFY_LOAD_LIBRARY = 9
NOTIFY_UNLOAD_LIBRARY = 10
NOTIFY_CREATE_THREAD = 11
NOTIFY_EXIT_THREAD = 12
NOTIFY_DEBUG_PRINT = 13
NOTIFY_MAX = 20

MM_NONE = 0
MM_EXEC = 1
MM_WRITE = 2
MM_READ = 4
MM_SHARED = 8
MM_UNINIT = 0x10
MM_RWX = MM_READ | MM_WRITE | MM_EXEC

FD_UNKNOWN = 0
FD_FILE = 1
FD_SOCKET = 2
FD_PIPE = 3
FD_LOCK = 4
FD_EVENT = 5
FD_THREAD = 6
FD_REGKEY = 7

SYM_MISC = -1
SYM_GLOBAL = 0
SYM_LOCAL = 1
SYM_FUNCTION = 2
SYM_SECTION = 3
SYM_META = 4

# Which oxtrace event kind each vtrace event comes from.
KIND_TO_NOTIFY = {
    "signal": NOTIFY_SIGNAL,
    "breakpoint": NOTIFY_BREAK,
    "watchpoint": NOTIFY_BREAK,
    "page_watch": NOTIFY_BREAK,
    "interrupted": NOTIFY_BREAK,
    "step": NOTIFY_STEP,
    "syscall": NOTIFY_SYSCALL,
    "continued": NOTIFY_CONTINUE,
    "exited": NOTIFY_EXIT,
    "attached": NOTIFY_ATTACH,
    "exec": NOTIFY_ATTACH,
    "detached": NOTIFY_DETACH,
    "library_loaded": NOTIFY_LOAD_LIBRARY,
    "library_unloaded": NOTIFY_UNLOAD_LIBRARY,
    "thread_created": NOTIFY_CREATE_THREAD,
    "thread_exited": NOTIFY_EXIT_THREAD,
}


def reprPerms(perms):
    """Permissions as four characters "srwx", '-' where unset."""
    return "".join(c if perms & bit else "-" for c, bit in (("s", MM_SHARED), ("r", MM_READ), ("w", MM_WRITE), ("x", MM_EXEC)))


def parsePerms(text):
    """The reverse of reprPerms."""
    bits = {"s": MM_SHARED, "r": MM_READ, "w": MM_WRITE, "x": MM_EXEC}
    return sum(bits.get(c, 0) for c in text)


def permsToText(perms):
    """vtrace permission bits as oxtrace's "rwx" text."""
    return "".join(c for c, bit in (("r", MM_READ), ("w", MM_WRITE), ("x", MM_EXEC)) if perms & bit)


def permsFromText(text):
    """oxtrace's "rwxp" text as vtrace permission bits."""
    bits = 0
    if "r" in text:
        bits |= MM_READ
    if "w" in text:
        bits |= MM_WRITE
    if "x" in text:
        bits |= MM_EXEC
    if text.endswith("s"):
        bits |= MM_SHARED
    return bits

"""A Python program for the vtrace-layer tests to trace: announces itself,
waits for a "go" line on stdin, does the work its argument names, exits 33."""

import ctypes
import sys
import threading
import time


def announce_and_wait():
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "go":
            return


def main(mode):
    if mode == "exec":
        return 33
    announce_and_wait()
    if mode == "threads":
        worker = threading.Thread(target=time.sleep, args=(0.05,))
        worker.start()
        worker.join()
    elif mode == "writemem":
        buf = ctypes.create_string_buffer(32)
        print("0x%x" % ctypes.addressof(buf), flush=True)
        sys.stdin.readline()
        print(buf.value.decode(), flush=True)
    return 33


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "wait"))

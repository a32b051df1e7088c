/* The debuggee of the backtrace benchmark: recurses argv[1] deep, then stops in bottom(). */
#include <stdlib.h>

volatile long sink;

__attribute__((noinline)) void bottom(long depth) { sink += depth; }

__attribute__((noinline)) long recurse(long n) {
    volatile long here = n;
    if (n == 0) {
        bottom(here);
        return here;
    }
    long r = recurse(n - 1);
    return r + here;
}

int main(int argc, char **argv) {
    long depth = argc > 1 ? atol(argv[1]) : 1000;
    sink = recurse(depth);
    return 0;
}

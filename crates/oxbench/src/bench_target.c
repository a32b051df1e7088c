/* The debuggee of every benchmark: calls target() N times (argv[1]). */
#include <stdlib.h>

volatile long counter;

__attribute__((noinline)) void target(long i) { counter += i; }

/* Called once at the end (the in-process rows read their counters there). */
__attribute__((noinline)) void done(void) { counter += 0; }

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000;
    for (long i = 0; i < n; i++)
        target(i);
    done();
    return 0;
}

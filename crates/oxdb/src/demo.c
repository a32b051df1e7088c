/* The program `oxdb demo` debugs: main calls a(), a() calls b(), b() c(), c() d(). */
#include <stdio.h>

__attribute__((noinline)) long d(long x) { return x * 2 + 1; }
__attribute__((noinline)) long c(long x) { return d(x + 1) + 1; }
__attribute__((noinline)) long b(long x) { return c(x + 1) + 1; }
__attribute__((noinline)) long a(long x) { return b(x + 1) + 1; }

int main(void) {
    printf("demo: a(1) = %ld\n", a(1));
    return 0;
}

/* bench_snapshot: mallocs argv[1] MiB, touches every page, then stops itself (SIGSTOP). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    size_t size = (size_t)(argc > 1 ? atol(argv[1]) : 1024) << 20;
    unsigned char *heap = malloc(size);
    if (!heap)
        return 2;
    for (size_t i = 0; i < size; i += 4096)
        heap[i] = (unsigned char)((i >> 12) | 1);
    raise(SIGSTOP);
    printf("%d\n", heap[size / 2]);
    return 0;
}

/* The raw ptrace limit: what a minimal C tracer achieves on this machine.
 *   raw_ptrace break ADDR PROGRAM ARGS...  breakpoint at ADDR: hit, restore, single-step, re-arm; until exit
 *   raw_ptrace step ADDR COUNT PROGRAM ARGS...  run to ADDR, then COUNT single steps
 * Prints "<events> <seconds>" for the measured loop.
 * With RAW_PTRACE_POLL=1 in the environment, every wait polls (waitpid with
 * WNOHANG) for up to 200 us before it blocks, as oxtrace's waits do: only
 * where the tracer may run on more than one CPU. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int poll_first;

/* waitpid, polling first when asked. */
static void wait_for(pid_t pid, int *status) {
    if (poll_first) {
        double until = now() + 200e-6;
        while (now() < until)
            if (waitpid(pid, status, WNOHANG) == pid)
                return;
    }
    waitpid(pid, status, 0);
}

static pid_t start(char **argv) {
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return pid;
}

/* Arms the breakpoint; returns the original word. */
static long arm(pid_t pid, unsigned long addr) {
    long word = ptrace(PTRACE_PEEKDATA, pid, addr, 0);
    ptrace(PTRACE_POKEDATA, pid, addr, (word & ~0xffL) | 0xcc);
    return word;
}

/* Back from a hit: restore, rewind, single-step, re-arm. */
static void step_over(pid_t pid, unsigned long addr, long word) {
    struct user_regs_struct regs;
    int status;
    ptrace(PTRACE_GETREGS, pid, 0, &regs);
    regs.rip = addr;
    ptrace(PTRACE_SETREGS, pid, 0, &regs);
    ptrace(PTRACE_POKEDATA, pid, addr, word);
    ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
    wait_for(pid, &status);
    ptrace(PTRACE_POKEDATA, pid, addr, (word & ~0xffL) | 0xcc);
}

int main(int argc, char **argv) {
    if (argc < 4)
        return 2;
    cpu_set_t cpus;
    poll_first = getenv("RAW_PTRACE_POLL") != NULL && sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
                 CPU_COUNT(&cpus) > 1;
    unsigned long addr = strtoul(argv[2], NULL, 0);
    int status;
    if (strcmp(argv[1], "break") == 0) {
        pid_t pid = start(argv + 3);
        long word = arm(pid, addr);
        long hits = 0;
        double t0 = now();
        for (;;) {
            ptrace(PTRACE_CONT, pid, 0, 0);
            wait_for(pid, &status);
            if (WIFEXITED(status) || WIFSIGNALED(status))
                break;
            hits++;
            step_over(pid, addr, word);
        }
        printf("%ld %.6f\n", hits, now() - t0);
        return 0;
    }
    if (strcmp(argv[1], "step") == 0 && argc >= 5) {
        long count = atol(argv[3]);
        pid_t pid = start(argv + 4);
        long word = arm(pid, addr);
        ptrace(PTRACE_CONT, pid, 0, 0);
        waitpid(pid, &status, 0);
        step_over(pid, addr, word);
        ptrace(PTRACE_POKEDATA, pid, addr, word);
        double t0 = now();
        for (long i = 0; i < count; i++) {
            ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
            wait_for(pid, &status);
        }
        printf("%ld %.6f\n", count, now() - t0);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return 0;
    }
    return 2;
}

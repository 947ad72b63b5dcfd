/*
 * fpu_native.c — the native (32-bit Linux) driver of the x87 guest test: its
 * stdout is the expected serial output of the guest.  The guest-only system
 * checks (fpu_guest.c) cannot run in user mode; their line is printed as the
 * guest prints it on success.
 *
 *     fpu-native [verbose]     per-form hashes, to find a mismatching form
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "fpu_test.h"

static void report(const char *name, u32 id, u32 n, u32 hash)
{
    printf("%s %x n=%u h=%08x\n", name, id, n, hash);
}

int main(int argc, char **argv)
{
    u8 *code = mmap(NULL, FPU_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    printf("x87 differential test\n");
    fpu_run(code, argc > 1 && !strcmp(argv[1], "verbose"), report);
    printf("system: #NM lazy switch ok, WAIT ok, #MF ok\n");
    printf("PASS fpu\n");
    return 0;
}

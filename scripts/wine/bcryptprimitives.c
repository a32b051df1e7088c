/* wine 8.0 ships no bcryptprimitives.dll, whose ProcessPrng the Rust standard
 * library (1.78 and later) imports on Windows: without it every Rust program
 * exits at once with STATUS_DLL_NOT_FOUND. This stand-in fills the buffer from
 * RtlGenRandom (advapi32's SystemFunction036), which wine has. It is built
 * with mingw into target/wine/dlls and found through WINEPATH; it is only for
 * running the Windows tests under wine. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

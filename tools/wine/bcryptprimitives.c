/*
 * Stand-in for Windows' bcryptprimitives.dll under Wine 8.
 *
 * Rust's standard library (1.78 and later) imports ProcessPrng from
 * bcryptprimitives.dll, which Wine 8.0 does not provide, so every Rust exe fails to
 * start there. This DLL exports ProcessPrng on top of RtlGenRandom (SystemFunction036),
 * which Wine does implement. It is only ever installed into the test Wine prefix.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

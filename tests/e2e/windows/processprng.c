/* bcryptprimitives.dll for wine 8.0, which lacks it: Rust's std (>= 1.78) on
 * x86_64-pc-windows-gnu imports ProcessPrng from it to seed HashMap keys and fill random
 * buffers, so without this DLL every Rust .exe exits at load with STATUS_DLL_NOT_FOUND
 * (c0000135). ProcessPrng has the documented contract "fill the buffer, always return TRUE";
 * RtlGenRandom (advapi32 SystemFunction036) is what wine implements for exactly that.
 * Test infrastructure only: real Windows 10+ ships the DLL. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

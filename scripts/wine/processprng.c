/*
 * A stand-in bcryptprimitives.dll for wine 8.0, whose own lacks ProcessPrng: Go's
 * runtime (1.22 and later) loads it at start-up on Windows and stops with "fatal error:
 * bcryptprimitives.dll not found" without it. ProcessPrng fills the buffer from
 * RtlGenRandom (advapi32's SystemFunction036), which wine implements from the host's
 * random source. Built by scripts/wine/prefix.sh with mingw-w64 into the test prefix's
 * system32 only; it never ships.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

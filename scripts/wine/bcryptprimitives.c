/*
 * bcryptprimitives.dll for Wine 8, which lacks it: Go 1.22 and later get
 * their random numbers from ProcessPrng, exported by this DLL on Windows 8
 * and later, and a Go program does not start without it. This one fills the
 * buffer from BCryptGenRandom, which Wine has. scripts/test-windows.sh builds
 * it and copies it into the Wine prefix; nothing else uses it.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

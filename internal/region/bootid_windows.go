package region

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/windows"
)

// readBootID reads the boot time that NtQuerySystemInformation gives
// (SystemTimeOfDayInformation), exact and the same until the next boot;
// the time computed from GetTickCount64 would jitter.
func readBootID() (id [16]byte) {
	var info struct {
		BootTime, CurrentTime, TimeZoneBias int64
		TimeZoneID, Reserved                uint32
		BootTimeBias, SleepTimeBias         uint64
	}
	var n uint32
	if windows.NtQuerySystemInformation(windows.SystemTimeOfDayInformation, unsafe.Pointer(&info), uint32(unsafe.Sizeof(info)), &n) != nil || info.BootTime == 0 {
		return id
	}
	binary.LittleEndian.PutUint64(id[0:], uint64(info.BootTime))
	id[15] = 0x80 // never all zero
	return id
}

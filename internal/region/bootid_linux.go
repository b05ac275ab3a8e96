package region

import (
	"encoding/hex"
	"os"
	"strings"
)

// readBootID reads the kernel's random boot identifier, a UUID made anew at
// every boot.
func readBootID() (id [16]byte) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return id
	}
	s := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if d, err := hex.DecodeString(s); err == nil && len(d) == len(id) {
		copy(id[:], d)
	}
	return id
}

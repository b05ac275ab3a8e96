//go:build unix && !linux

package region

// mapNoReserve is 0: MAP_NORESERVE is Linux's (FreeBSD and macOS do not
// charge reserved PROT_NONE pages anyway).
const mapNoReserve = 0

// populate does nothing: only Linux faults in pages in bulk; elsewhere they
// fault in as written.
func populate(b []byte) {}

// PopulateInBulk is false: populate does nothing here (see MemVec.prefaulter).
const PopulateInBulk = false

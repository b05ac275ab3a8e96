//go:build unix && !linux

package region

// adviseHugePages does nothing: only Linux's page cache maps a file's pages
// in 2 MiB pages on advice (see the Linux version).
func adviseHugePages(b []byte, on bool) {}

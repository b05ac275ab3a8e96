//go:build !unix

package region

// adviseRegion does nothing: Windows has no advice on how a mapped view
// will be read (FILE_FLAG_SEQUENTIAL_SCAN and FILE_FLAG_RANDOM_ACCESS apply
// to reads through a handle), and Plan 9 and WebAssembly have no mappings.
func adviseRegion(b []byte, a Advice) {}

// hintPages gives the hint h on b: only Populate does anything, by reading
// each page. Windows' PrefetchVirtualMemory, the equivalent of
// MADV_WILLNEED, is not in golang.org/x/sys/windows; its OfferVirtualMemory
// and DiscardVirtualMemory may throw the contents away, which DontNeed must
// never do.
func hintPages(h Hint, b []byte, file bool) error {
	if h == HintPopulate {
		TouchPages(b)
	}
	return nil
}

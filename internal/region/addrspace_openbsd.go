package region

import "math"

// addressSpaceLimit returns math.MaxUint64: OpenBSD has no RLIMIT_AS (its
// RLIMIT_DATA is another measure), so the quarantine keeps its fixed
// bounds there; a mapping that fails with ENOMEM still drains it and tries
// again (see withAddressSpace).
func addressSpaceLimit() uint64 { return math.MaxUint64 }

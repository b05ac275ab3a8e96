package memvec

import "math"

// addressSpaceLimit returns math.MaxInt: OpenBSD has no RLIMIT_AS (its
// RLIMIT_DATA is another measure), so the quarantine keeps its fixed
// bounds there; a mapping that fails with ENOMEM still drains it and tries
// again (see withAddressSpace).
func addressSpaceLimit() int { return math.MaxInt }

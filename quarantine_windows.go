package memvec

// retire releases the n bytes of address space at p at once: on Windows a
// range cannot be taken over in place (a view must be unmapped before the
// range can be reserved again, and another thread may map it in between),
// so a view used after Close may reach what is mapped there next.
func retire(p *byte, n int) error { return releaseAddressSpace(p, n) }

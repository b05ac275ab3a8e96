package region

// Anon is a region of anonymous memory, off the Go heap: the first Mapped
// bytes from Base are usable, inside a reservation of Reserved bytes of
// address space that it grows into without moving (see Remap). The zero
// value with Reserve and Advice set is an empty region.
type Anon struct {
	// Reserve is what the first reservation asks for (the Reserve option).
	Reserve int
	// Advice is given again to every new mapping of the region.
	Advice Advice

	base     *byte // start of the reservation
	mapped   int   // bytes accessible from base, a page multiple
	reserved int   // bytes of address space held from base
	remapped bool  // the pages were last moved by mremap: they may be two mappings (see moveAnonPages)
}

// Base returns the start of the region, nil before its first Remap.
func (a *Anon) Base() *byte { return a.base }

// Mapped returns the bytes accessible from Base, a page multiple.
func (a *Anon) Mapped() int { return a.mapped }

// Reserved returns the bytes of address space held from Base.
func (a *Anon) Reserved() int { return a.reserved }

// Remap makes the first m bytes (a page multiple) of the region usable and
// the rest of its reservation not (see remap).
func (a *Anon) Remap(m int) error { return a.remap(m) }

// Free hands the region's memory and address space back (to the
// quarantine, where the system shares it: see Retire) and leaves the
// region empty.
func (a *Anon) Free() error {
	err := a.free()
	a.base, a.mapped, a.reserved = nil, 0, 0
	return err
}

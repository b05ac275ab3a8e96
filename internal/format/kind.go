package format

import "fmt"

// Kind says what a region's body holds, so that a reader can tell the
// containers' files apart from the header alone, before it reads the body.
// The header stores it at OffKind; a region of a kind the reader does not
// know is corrupt to it.
type Kind uint32

const (
	// KindVector is a MemVec: elements of ElemSize bytes from the data
	// offset, as many as the length counts.
	KindVector Kind = 1
	// KindBytes is reserved for Bytes, records of any length.
	KindBytes Kind = 2
	// KindMap is reserved for Map, a hash map.
	KindMap Kind = 3
)

// String names the kind as a user knows the container: "vector", "bytes",
// "map".
func (k Kind) String() string {
	switch k {
	case KindVector:
		return "vector"
	case KindBytes:
		return "bytes"
	case KindMap:
		return "map"
	}
	return fmt.Sprintf("kind %d", uint32(k))
}

// known reports whether k is a kind this format defines.
func (k Kind) known() bool { return k >= KindVector && k <= KindMap }

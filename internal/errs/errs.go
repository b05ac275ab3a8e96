// Package errs holds the errors that every layer of memvec returns: the
// region layer (internal/region), the format layer (internal/format) and
// the containers in the root package, which exports each of them under its
// Err name (memvec.ErrCorrupt is ErrCorrupt). One value each, wherever it is
// made, so that errors.Is matches an error of any layer against the root
// package's name. What each means is documented there.
package errs

import (
	"errors"
	"fmt"
)

var (
	ErrUnsupportedType = errors.New("unsupported element type")
	ErrTypeMismatch    = errors.New("element type mismatch")
	ErrCorrupt         = errors.New("corrupt region")
	ErrLocked          = errors.New("file is locked by another handle")
	ErrReadOnly        = errors.New("read-only")
	ErrRewritten       = errors.New("elements were rewritten by the writer")
	ErrSyncFailed      = errors.New("sync failed, and what it covered may be lost")
	ErrFollowed        = errors.New("followers may map the file, so it keeps its size")
	ErrClosed          = errors.New("closed")
	ErrFileChanged     = errors.New("file changed under this handle")
	ErrUnaligned       = errors.New("region is not aligned")
	ErrShared          = errors.New("not allowed on a vector opened with Shared")
)

// Corruptf returns an error wrapping ErrCorrupt with the detail.
func Corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

//go:build !linux && !windows

package region

import (
	"errors"
	"fmt"
	"os"
)

// These systems have no byte-range lock that belongs to a descriptor:
// their fcntl locks belong to the process (any close of the file in the
// process drops them all) and, on the BSDs and macOS, conflict with the
// flock of the whole file. Shared writers need such locks for their class
// and their proof of life (shared.go), so an open with Shared fails here
// (see lockClass), and ReadOnly takes no class byte: no Shared writer can
// be there to keep out.

// SharedSupported says that this system lacks the locks Shared writers
// need.
const SharedSupported = false

var errNoShared = fmt.Errorf("Shared writers need byte-range locks that belong to a descriptor (Linux, Windows), which this system lacks: %w", errors.ErrUnsupported)

func lockEntry(osf *os.File, readOnly bool) error            { return errNoShared }
func unlockEntry(osf *os.File)                               {}
func shareByte(osf *os.File, off int64) error                { return errNoShared }
func releaseByte(osf *os.File, off int64)                    {}
func byteInUse(osf *os.File, off int64) (bool, error)        { return false, errNoShared }
func tryExclusiveByte(osf *os.File, off int64) (bool, error) { return false, errNoShared }
func slotHeld(osf *os.File, id int) (bool, error)            { return false, errNoShared }

func lockCreation(osf *os.File) error { return errNoShared }

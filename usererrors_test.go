package memvec

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIndexAfterCloseSaysClosed: Index on a closed vector panics with a
// message that says the vector is closed, not the runtime's "index out of
// range [0] with length 0"; on an open vector an index out of range still
// panics with the runtime's own error, as a slice does.
func TestIndexAfterCloseSaysClosed(t *testing.T) {
	path := vecPath(t)
	v := openVec[point](t, path)
	require.NoError(t, v.Push(pt(1)))
	func() {
		defer func() {
			r := recover()
			_, ok := r.(runtime.Error)
			require.True(t, ok, "an index out of range on an open vector is the runtime's error: %v", r)
			require.Equal(t, "runtime error: index out of range [1] with length 1", r.(runtime.Error).Error())
		}()
		v.Index(1)
	}()
	require.Equal(t, pt(1), v.Index(0))
	require.NoError(t, v.Close())
	require.PanicsWithValue(t, "memvec: index "+path+": closed", func() { v.Index(0) })
	require.PanicsWithValue(t, "memvec: index "+path+": closed", func() { v.Index(-1) })
}

// TestNegativeReserveIsAnError: Reserve(-5) is a mistake, reported by the
// open, Make and NewAnon, not a size silently rounded up to zero.
func TestNegativeReserveIsAnError(t *testing.T) {
	path := vecPath(t)
	_, err := Open[point](path, Reserve(-5))
	require.EqualError(t, err, "memvec: open "+path+": Reserve(-5): negative size")
	_, err = Make[point](10, Reserve(-5))
	require.EqualError(t, err, "memvec: make anonymous memory: Reserve(-5): negative size")
	_, err = NewAnon(4096, Reserve(-1))
	require.EqualError(t, err, "memvec: map anonymous memory: Reserve(-1): negative size")
	v, err := Make[point](10, Reserve(0))
	require.NoError(t, err, "Reserve(0) reserves only what is needed")
	require.NoError(t, v.Close())
}

// TestTimeFieldHintsUnixNanoseconds: a time.Time field is refused, as
// every pointer is, with a message that says what to store instead.
func TestTimeFieldHintsUnixNanoseconds(t *testing.T) {
	type WithTime struct {
		Value float64
		At    time.Time
	}
	_, err := LayoutOf[WithTime]()
	require.ErrorIs(t, err, ErrUnsupportedType)
	require.ErrorContains(t, err, "WithTime.At is a time.Time, which holds a pointer (its location): store t.UnixNano() in an int64 instead, and time.Unix(0, n) reads it back: unsupported element type")
	_, err = Make[[2]time.Time](1)
	require.ErrorIs(t, err, ErrUnsupportedType)
	require.ErrorContains(t, err, "store t.UnixNano() in an int64")
}

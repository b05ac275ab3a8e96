// Package wrapper holds the rule by which the memvec command and package
// export name the columns of a wrapper type's field.
package wrapper

import (
	"unicode"
	"unicode/utf8"

	"github.com/memvec/memvec"
)

// Unwrap returns the type of t's one field and true if t is a wrapper: a
// struct whose only field that is not blank ("_") is unexported and at
// offset 0, as sync/atomic's Uint64 is struct{ _ noCopy; _ align64; v
// uint64 }. Its one field is an implementation detail of its package, so
// that a column of it is named by the wrapper's path ("Hits", not
// "Hits.v"). A struct with an exported field keeps its path: its author
// named it for its users.
func Unwrap(t *memvec.Type) (*memvec.Type, bool) {
	if t.Kind != memvec.Struct {
		return nil, false
	}
	var one *memvec.Field
	for i := range t.Fields {
		f := &t.Fields[i]
		if f.Name == "_" {
			continue
		}
		if one != nil {
			return nil, false
		}
		one = f
	}
	if one == nil || one.Offset != 0 {
		return nil, false
	}
	if r, _ := utf8.DecodeRuneInString(one.Name); unicode.IsUpper(r) {
		return nil, false
	}
	return one.Type, true
}

package memvec

import (
	"bytes"
	"unicode/utf8"
)

// SetString stores s in dst, a text field (a [N]byte tagged
// memvec:"string", passed as a slice: r.Msg[:]), as StringOf, the memvec
// command and numpy read it back: the bytes of s, then zeros to the end of
// dst. An s longer than dst is cut to fit, before a UTF-8 character that
// would not fit whole (so that the stored text stays valid UTF-8 if s
// was). It returns how many bytes of s it stored: len(s) if all of them.
// A zero byte inside s ends the text for those who read it.
func SetString(dst []byte, s string) int {
	n := len(s)
	if n > len(dst) {
		n = len(dst)
		// Back to the start of the character cut in two, if s holds a
		// whole one there: a byte that is no character's start is at
		// most utf8.UTFMax-1 bytes after one.
		for i := n - 1; i >= 0 && i > n-utf8.UTFMax; i-- {
			if utf8.RuneStart(s[i]) {
				if r, size := utf8.DecodeRuneInString(s[i:]); (r != utf8.RuneError || size > 1) && i+size > n {
					n = i
				}
				break
			}
		}
	}
	copy(dst, s[:n])
	clear(dst[n:])
	return n
}

// StringOf returns the text in src, a text field (see SetString): its
// bytes up to the first zero byte, or all of them if none is zero, as a
// string.
func StringOf(src []byte) string {
	if i := bytes.IndexByte(src, 0); i >= 0 {
		src = src[:i]
	}
	return string(src)
}

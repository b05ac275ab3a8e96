// Package textesc writes the text of a text field (memvec.Type.Text) as
// the memvec command's dump prints it and package export stores it: valid
// UTF-8 that loses nothing.
package textesc

import "unicode/utf8"

// Append appends the text of a text field whose bytes are p: the bytes up
// to the first zero byte, as they are where they are UTF-8, so that nothing
// is lost where they are not:
//
//   - a byte that is not part of a UTF-8 character is written \xNN, its
//     value in two lowercase hexadecimal digits;
//   - a backslash that the text has before an x and two hexadecimal digits
//     is written \x5c, so that it does not read as such an escape.
//
// Every other character is written as it is (a backslash too). To get the
// bytes back, replace each \x and two hexadecimal digits by the byte they
// give: nothing else is escaped.
func Append(b, p []byte) []byte {
	for i := 0; i < len(p) && p[i] != 0; {
		c := p[i]
		if c < utf8.RuneSelf && c != '\\' {
			b = append(b, c) // ASCII, most text: no decoding
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = appendByteEscape(b, c)
		case c == '\\' && looksEscaped(p[i+1:]):
			b = appendByteEscape(b, '\\')
		default:
			b = append(b, p[i:i+size]...)
		}
		i += size
	}
	return b
}

// appendByteEscape appends \xNN, for the byte c.
func appendByteEscape(b []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'x', hex[c>>4], hex[c&15])
}

// looksEscaped reports whether p, what follows a backslash in a text,
// begins with an x and two hexadecimal digits: the backslash must be
// escaped then. (Those three bytes are ASCII, and are written as they are,
// so the text's bytes are what a reader sees after the backslash.)
func looksEscaped(p []byte) bool {
	return len(p) >= 3 && p[0] == 'x' && isHex(p[1]) && isHex(p[2])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

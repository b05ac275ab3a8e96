package main

import (
	"unicode"
	"unicode/utf8"
)

// appendText appends the text of a text field (memvec.Type.Text) whose
// bytes are p: the bytes up to the first zero byte, as they are where they
// are UTF-8, so that nothing is lost where they are not:
//
//   - a byte that is not part of a UTF-8 character is written \xNN, its
//     value in two lowercase hexadecimal digits;
//   - a backslash that the text has before an x and two hexadecimal digits
//     is written \x5c, so that it does not read as such an escape.
//
// Every other character is written as it is (a backslash too). To get the
// bytes back, replace each \x and two hexadecimal digits by the byte they
// give: nothing else is escaped.
func appendText(b, p []byte) []byte {
	for i := 0; i < len(p) && p[i] != 0; {
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = appendByteEscape(b, p[i])
		case p[i] == '\\' && looksEscaped(p[i+1:]):
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

// appendCSVField appends s as a csv field, quoted as encoding/csv's Writer
// quotes it: when it holds a comma, a quote, a carriage return or a line
// feed, is `\.`, or begins with a space (unicode.IsSpace); quotes inside
// are doubled.
func appendCSVField(b []byte, s []byte) []byte {
	if !csvNeedsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for _, c := range s {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

func csvNeedsQuotes(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	if string(s) == `\.` {
		return true
	}
	for _, c := range s {
		if c == ',' || c == '"' || c == '\r' || c == '\n' {
			return true
		}
	}
	r, _ := utf8.DecodeRune(s)
	return unicode.IsSpace(r)
}

// appendJSONString appends s, valid UTF-8, as a JSON string, escaped as
// encoding/json escapes it but for its HTML escapes (<, > and & are written
// as they are): the quote, the backslash and the control characters, and
// U+2028 and U+2029, which JavaScript reads as line ends.
func appendJSONString(b []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&15])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

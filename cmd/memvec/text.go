package main

import (
	"unicode"
	"unicode/utf8"
)

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

package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/memvec/memvec"
	"github.com/memvec/memvec/internal/textesc"
	"github.com/stretchr/testify/require"
)

// logLine has a text field among others.
type logLine struct {
	Level uint8
	Msg   [24]byte `memvec:"string"`
	Tag   [2]byte
}

// TestDumpText: a text field ([N]byte tagged memvec:"string") is one csv
// column, quoted as encoding/csv quotes it, and a JSON string in jsonl: its
// bytes up to the first zero byte, a byte that is not UTF-8 as \xNN, and a
// backslash before an x and two hexadecimal digits as \x5c, so that the
// bytes come back; info shows it as one field of kind text.
func TestDumpText(t *testing.T) {
	texts := []string{
		"run started, pid 42",
		"",
		`say "hi"`,
		" leading space",
		"é\xff\\x41\\n",
		"two\nlines",
		"abcdefghijklmnopqrstuvwx", // 24 bytes: no zero
		"ab\x00cd",
		`\.`,
		"<&>\u2028",
	}
	var ls []logLine
	for i, s := range texts {
		l := logLine{Level: uint8(i), Tag: [2]byte{'t', byte('0' + i)}}
		memvec.SetString(l.Msg[:], s)
		ls = append(ls, l)
	}
	path := writeVec(t, ls...)
	const wantCSV = `Level,Msg,Tag[0],Tag[1]
0,"run started, pid 42",116,48
1,,116,49
2,"say ""hi""",116,50
3," leading space",116,51
4,é\xff\x5cx41\n,116,52
5,"two
lines",116,53
6,abcdefghijklmnopqrstuvwx,116,54
7,ab,116,55
8,"\.",116,56
9,<&>` + "\u2028" + `,116,57
`
	const wantJSONL = `{"Level":0,"Msg":"run started, pid 42","Tag":[116,48]}
{"Level":1,"Msg":"","Tag":[116,49]}
{"Level":2,"Msg":"say \"hi\"","Tag":[116,50]}
{"Level":3,"Msg":" leading space","Tag":[116,51]}
{"Level":4,"Msg":"é\\xff\\x5cx41\\n","Tag":[116,52]}
{"Level":5,"Msg":"two\nlines","Tag":[116,53]}
{"Level":6,"Msg":"abcdefghijklmnopqrstuvwx","Tag":[116,54]}
{"Level":7,"Msg":"ab","Tag":[116,55]}
{"Level":8,"Msg":"\\.","Tag":[116,56]}
{"Level":9,"Msg":"<&>\u2028","Tag":[116,57]}
`
	out, errOut, status := memvecRun(t, path, "dump", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, wantCSV, out)
	out, errOut, status = memvecRun(t, path, "dump", "-format", "jsonl", path)
	require.Equal(t, 0, status, errOut)
	require.Equal(t, wantJSONL, out)

	// Read back as a csv or JSON reader does, then unescaped: the text.
	rows, err := csv.NewReader(strings.NewReader(wantCSV)).ReadAll()
	require.NoError(t, err)
	sc := bufio.NewScanner(strings.NewReader(wantJSONL))
	for i, s := range texts {
		want, _, _ := strings.Cut(s, "\x00")
		require.Equal(t, want, unescapeText(rows[i+1][1]), "csv row %d", i)
		require.True(t, sc.Scan())
		var l struct{ Msg string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		require.Equal(t, want, unescapeText(l.Msg), "jsonl line %d", i)
	}

	out, _, status = memvecRun(t, path, "info", path)
	require.Equal(t, 0, status)
	require.Contains(t, out, `
layout:
  offset  size  kind  field      type
       0     1  u8    Level
       1    24  text  Msg
      25     2  u8    Tag[0..1]
`)
}

// unescapeText undoes textesc.Append's escapes, as its documentation says: each
// \x and two hexadecimal digits is the byte they give.
func unescapeText(s string) string {
	return escape.ReplaceAllStringFunc(s, func(e string) string {
		b, _ := strconv.ParseUint(e[2:], 16, 8)
		return string([]byte{byte(b)})
	})
}

var escape = regexp.MustCompile(`\\x[0-9a-fA-F]{2}`)

// TestTextRoundTrips: for any bytes, textesc.Append writes valid UTF-8 from
// which unescapeText gives back the bytes up to the first zero; it leaves
// text without \xNN in it as it is; appendCSVField quotes as encoding/csv
// does; appendJSONString writes what encoding/json writes without its HTML
// escapes.
func TestTextRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "x", "X", "\\", "0", "f", "F", "g", "é", "\xc3", "\xa9", "\xff", "\x00", ",", "\"", "\n", "\r", " ", "\t", "\u2028", "<", "😀", "\xf0\x9f"}
	for i := range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		p := []byte(b.String())
		text := textesc.Append(nil, p)
		require.True(t, utf8.Valid(text), "%q -> %q", p, text)
		want, _, _ := bytes.Cut(p, []byte{0})
		require.Equal(t, string(want), unescapeText(string(text)), "%d: %q -> %q", i, p, text)
		if utf8.Valid(want) && !escape.Match(want) {
			require.Equal(t, string(want), string(text), "text with nothing to escape is as it is")
		}

		var w bytes.Buffer
		cw := csv.NewWriter(&w)
		require.NoError(t, cw.Write([]string{string(text)}))
		cw.Flush()
		require.Equal(t, w.String(), string(appendCSVField(nil, text))+"\n", "%q", text)

		w.Reset()
		enc := json.NewEncoder(&w)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(string(text)))
		require.Equal(t, w.String(), string(appendJSONString(nil, text))+"\n", "%q", text)
	}
}

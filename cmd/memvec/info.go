package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/memvec/memvec"
)

// info prints the header, the element layout and the lengths of the file
// at path.
func info(path string, stdout io.Writer) error {
	r, live, err := open(path)
	if err != nil {
		return asMap(path, err, func(m *memvec.RawMap, live bool) error { return infoMap(path, m, live, stdout) })
	}
	defer r.Close()
	w := bufio.NewWriter(stdout)
	in, ok := r.Info()
	if !ok {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "file         %s\nfile size    %d bytes\nno header yet: a new, empty vector file\n", path, fi.Size())
		return w.Flush()
	}
	order := byteOrderName(in.ByteOrder)
	capacity := strconv.Itoa(in.Cap) + " elements"
	if in.ElemSize == 0 {
		capacity = "unbounded (zero-size elements)"
	}
	length := strconv.Itoa(in.Len)
	if uint64(in.Len) != in.StoredLen {
		length += fmt.Sprintf(" (the length word says %d: see power loss below)", in.StoredLen)
	}
	fmt.Fprintf(w, "file         %s\n", path)
	if live {
		fmt.Fprintf(w, "writer       has the file open: read as a follower\n")
	} else {
		// info's shared lock was granted: no writer had the file open.
		fmt.Fprintf(w, "writer       none\n")
	}
	fmt.Fprintf(w, "format       version %d, %s\n", in.Version, order)
	fmt.Fprintf(w, "element      %s, %d bytes, align %d\n", typeName(in.Layout.Type), in.ElemSize, in.ElemAlign)
	fmt.Fprintf(w, "fingerprint  %#016x\n", in.Fingerprint)
	fmt.Fprintf(w, "data offset  %d\n", in.DataOffset)
	fmt.Fprintf(w, "layout       %d bytes, in slot %d of two of %d bytes (relabelled %d times)\n", in.LayoutSize, in.Relabels&1, in.SlotSize, in.Relabels)
	fmt.Fprintf(w, "length       %s\n", length)
	fmt.Fprintf(w, "capacity     %s\n", capacity)
	fmt.Fprintf(w, "file size    %d bytes\n", in.FileSize)

	fmt.Fprintf(w, "\nlayout:\n")
	layoutTable(w, in.Layout.Type)

	powerLossWords(w, in)
	return w.Flush()
}

// byteOrderName names the byte order a file's header records.
func byteOrderName(o binary.ByteOrder) string {
	if o == binary.BigEndian {
		return "big-endian"
	}
	return "little-endian"
}

// powerLossWords prints info's last section, the words the writer keeps
// for power loss (FORMAT.md, "Power loss"), of a vector file or a Bytes.
func powerLossWords(w io.Writer, in memvec.Info) {
	rebooted := "no: a reader counts the length word"
	if in.Rebooted {
		rebooted = fmt.Sprintf("yes: a reader counts %d, as far as the checksums hold", in.Len)
	}
	generation := strconv.FormatUint(in.Generation, 10)
	if in.Generation%2 == 1 {
		generation += " (odd: a rewrite is under way, or its writer died in it)"
	}
	fmt.Fprintf(w, "\npower loss (FORMAT.md, \"Power loss\"):\n")
	fmt.Fprintf(w, "  length word      %d\n", in.StoredLen)
	fmt.Fprintf(w, "  base length      %d\n", in.BaseLen)
	fmt.Fprintf(w, "  checked lengths  %d, %d\n", in.Checked1, in.Checked2)
	fmt.Fprintf(w, "  generation       %s\n", generation)
	fmt.Fprintf(w, "  writer's boot    %#016x\n", in.BootID)
	fmt.Fprintf(w, "  rebooted since   %s\n", rebooted)
}

// A layoutLine is one line of info's layout: a field, a whole array of
// primitives, or padding.
type layoutLine struct {
	off, size int
	kind      string
	path      string
	name      string // the Go name of a named type
}

func (l layoutLine) cells() [5]string {
	return [5]string{strconv.Itoa(l.off), strconv.Itoa(l.size), l.kind, l.path, l.name}
}

// layoutLines lists the fields of the element type t, depth-first: a line
// for every struct field, with the fields of a struct after it; an array
// of primitives on one line ("Tags[0..3]"), a text field too, of kind text
// ("Msg"), an array of arrays or structs on one line and then each
// element's; and a line for each stretch of padding Go adds.
func layoutLines(t *memvec.Type) []layoutLine {
	var lines []layoutLine
	var walk func(t *memvec.Type, path string, off int)
	walk = func(t *memvec.Type, path string, off int) {
		switch t.Kind {
		case memvec.Struct:
			if path != "" {
				lines = append(lines, layoutLine{off, t.Size, "struct", path, t.Name})
			}
			end := 0
			pad := func(to int) {
				if to > end {
					lines = append(lines, layoutLine{off + end, to - end, "-", "(padding)", ""})
				}
			}
			for _, f := range t.Fields {
				pad(f.Offset)
				walk(f.Type, join(path, f.Name), off+f.Offset)
				end = max(end, f.Offset+f.Type.Size)
			}
			pad(t.Size)
		case memvec.Array:
			name := t.Name
			if name == "" && t.Elem.Name != "" {
				name = typeName(t)
			}
			switch {
			case t.Text:
				lines = append(lines, layoutLine{off, t.Size, "text", path, name})
			case t.Len == 0:
				lines = append(lines, layoutLine{off, 0, "array", path + "[]", name})
			case t.Elem.Kind.Primitive():
				lines = append(lines, layoutLine{off, t.Size, t.Elem.Kind.String(), fmt.Sprintf("%s[0..%d]", path, t.Len-1), name})
			default:
				lines = append(lines, layoutLine{off, t.Size, "array", fmt.Sprintf("%s[0..%d]", path, t.Len-1), typeName(t)})
				for i := range t.Len {
					walk(t.Elem, fmt.Sprintf("%s[%d]", path, i), off+i*t.Elem.Size)
				}
			}
		default:
			if path == "" {
				path = "(element)"
			}
			lines = append(lines, layoutLine{off, t.Size, t.Kind.String(), path, t.Name})
		}
	}
	walk(t, "", 0)
	return lines
}

// join joins a field's name to its struct's path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// typeName names a type for people: its Go name if it has one; else like
// Go, with memvec's names for the primitives: "[3]f64",
// "struct{ X f64; Y f64 }", or "struct{...}" for a large struct.
func typeName(t *memvec.Type) string {
	switch {
	case t.Name != "":
		return t.Name
	case t.Kind == memvec.Array:
		return "[" + strconv.Itoa(t.Len) + "]" + typeName(t.Elem)
	case t.Kind != memvec.Struct:
		return t.Kind.String()
	case len(t.Fields) == 0:
		return "struct{}"
	}
	var b strings.Builder
	b.WriteString("struct{ ")
	for i, f := range t.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Name + " " + typeName(f.Type))
		if b.Len() > 60 {
			return "struct{...}"
		}
	}
	b.WriteString(" }")
	return b.String()
}

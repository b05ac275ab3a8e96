// Command memvec shows what a memvec vector file holds, without its Go
// element type: the layout stored in the file says what each element is.
// It reads a Bytes too (memvec.OpenBytes, records of any length), and a
// map file (memvec.OpenMap): see Bytes and Maps below.
//
//	memvec info FILE      the header, the element layout, the lengths
//	memvec check [-durable] FILE
//	                      validate the file (exit status 0 if valid, 1 if not;
//	                      with -durable, 3 if valid but not all durable)
//	memvec dump [-format csv|jsonl] [-from I] [-to J] [-follow] FILE
//	                      the elements, one per line
//	memvec export -format parquet|arrow [-o OUT] FILE
//	                      the elements as a Parquet or an Arrow IPC file
//
// Install it with
//
//	go install github.com/memvec/memvec/cmd/memvec@latest
//
// Every command opens the file as a ReadOnly reader, which keeps writers
// out while it reads; if a writer has the file open, it reads it as a
// follower does instead (memvec.Follow), seeing the elements the writer
// has published. dump -follow always follows.
//
// # info
//
// info prints whether a writer has the file open ("writer  none", or "has
// the file open: read as a follower"; a program tells the same with
// memvec.MemVec.HasWriter), the header's fields, the size of the stored
// layout and of its slots, and how often it was relabelled
// (memvec.Relabel), then the element layout, one line per field with its
// offset, size, kind and path ("Pos.X", "Tags[0..3]" for a whole array of
// primitives, kind text for a text field) and the Go name of named types,
// padding included; then the words the writer keeps for power loss
// (FORMAT.md, "Power loss").
//
// # check
//
// check validates the header and the stored layout as every open does (the
// checksums, the fields, the layout against the fingerprint, the length
// against the file's size) and prints "FILE: valid, N elements of T". It
// also verifies the power-loss checksums, the CRC-32C of the elements from
// the base length to each checked length: a reader counts the elements they
// cover only after the machine rebooted since the writer opened the file. If
// it did, the length is what they keep, for check as for every reader, and
// check warns (on standard error) if that is less than the length word. If
// it did not, the page cache the writer wrote into is intact, the length
// word counts, and a checksum that does not hold is a warning, not an error:
// it would drop elements only after a reboot, and the next writer's Sync or
// Close records the checksums anew. check warns too if the generation is odd
// (a writer died in the middle of a rewrite, which may have left an element
// half written). It does not verify the checksums, nor the generation, of a
// file that a writer has open: they change under it.
//
// Valid means that every open of the file succeeds and counts only
// elements that were written whole: what a reader counts now. It does not
// mean that a reboot keeps them all. A writer that exited or was killed
// without Sync or Close leaves elements that the page cache holds but no
// Sync made durable: on this boot every reader counts them, after a
// reboot (even a clean one) a reader counts only as far as the power-loss
// checksums hold. check says how many such elements there are, on the
// summary line: "FILE: valid, 1000 elements of T; 1000 not durable yet:
// after a reboot, a reader would count 0 elements". The next writer's Sync
// or Close makes them durable. With -durable, such a file is exit status
// 3, so that a script can tell "valid, and what a reader counts survives a
// reboot" (0) from "valid, but a reboot would drop some" (3) and from "not
// valid" (1). After a reboot, the elements are gone already: the file is
// valid with the elements the checksums kept (and a warning), exit status
// 0.
//
// # dump
//
// dump prints the elements from index I (default 0) up to but not
// including J (default: the length), one per line. -from and -to are
// clamped to the length, as a Python slice is; a negative one, or -from
// past -to, is a usage error.
//
// -format csv (the default) prints a header row of field paths ("Pos.X",
// "Tags[3]", "value" for an element that is itself a primitive), then one
// row per element with a column per primitive. -format jsonl prints one
// JSON object per element, nested like the type: structs as objects with
// the field names, arrays as arrays, and an element that is itself a
// primitive as a bare value. Both skip blank fields ("_", padding by
// hand), as they skip the padding Go adds.
//
// A text field (a [N]byte tagged memvec:"string", which the stored layout
// marks "text") is one value: one csv column named by its path, quoted as
// encoding/csv quotes a field (when it holds a comma, a quote or a line
// end, or begins with a space), and a JSON string in jsonl. The text is
// the field's bytes up to the first zero byte, as they are where they are
// UTF-8. So that nothing is lost, a byte that is not part of a UTF-8
// character is written \xNN (two lowercase hexadecimal digits), and a
// backslash that the text has before an x and two hexadecimal digits is
// written \x5c; nothing else is escaped. To get the bytes back, replace
// each \x and two hexadecimal digits by the byte they give.
//
// Integers are exact, in decimal (a uint64 or int64 as a JSON number with
// every digit); floats are the shortest decimal that reads back as the
// same float (strconv's 'g' format, precision -1); booleans are true and
// false (any byte but 0 is true). NaN and the infinities are NaN, +Inf and
// -Inf, bare in csv and as JSON strings in jsonl ("NaN", "+Inf", "-Inf"),
// since JSON has no such numbers. A complex number is (re+imi) in csv, as
// Go prints it, and [re,im] in jsonl.
//
// dump streams: it holds about 100 KiB of its output at most (its own
// 32 KiB buffer and a 64 KiB bufio.Writer), however large the file or its
// elements, and allocates nothing per element. On Linux it also gives the
// file's pages back behind it, 8 MiB at a time (memvec.Raw.DontNeed), so
// that its resident memory stays flat: about 15 MiB for a 256 MiB file,
// which would otherwise stay mapped whole.
//
// With -follow, dump opens the file as a follower (it may be empty, its
// writer not started yet; if it does not exist yet, dump says so on
// standard error and waits for a writer to create it, looking again every
// 100 ms at most, as tail -F does), prints the elements from -from on (waiting for
// element I if the vector is shorter), then waits for the writer to publish
// more and prints them as they come, until interrupted (SIGINT or SIGTERM:
// exit status 0) or, with -to, until it has printed element J-1. If the
// writer changes or drops elements already printed, dump prints a notice on
// standard error and goes on with the first element it has not printed: it
// prints every index once, and what it printed before the notice may have
// changed since.
//
// # export
//
// export writes the elements as a Parquet file or an Arrow IPC file (the
// random-access format, Feather V2), for DuckDB, Spark, Polars, pyarrow
// and the other engines that read them: one column per primitive field,
// named by its path as dump's csv header names it ("Pos.X", "Tags[3]",
// "value"), a text field as a UTF-8 string column (its text as dump prints
// it), a complex field as two float columns (".real", ".imag"). See
// package github.com/memvec/memvec/export, which does the work and which a
// program can call to export its own vectors, for the types and the
// format's settings.
//
// It exports the elements FILE holds when it starts: opened as a reader,
// or as a follower if a writer has it open, whose later appends are not
// exported (if the writer truncates what export reads, export fails and
// says so). It streams, in batches of about 32 MiB of elements, and gives
// the file's pages back behind it: its memory stays about 100 MiB
// whatever the file's size. With -o OUT it writes a file beside OUT and
// renames it to OUT once whole, so that a failed export leaves no partial
// OUT (and an OUT that was there is left as it was); it never writes
// FILE, and refuses an OUT that is FILE. Without -o it writes to standard
// output, which must not be a terminal. When standard error is a
// terminal, it shows its progress there (elements, MiB, the rate and the
// time left), and nothing when it is not.
//
// # Bytes
//
// FILE may name a Bytes: its directory, or the offsets or the data file in
// it (a user who passes a file inside means the Bytes; a vector file that
// happens to be named offsets or data, and is not in a Bytes, is read as
// the vector file it is). Every command then reads the Bytes, and names it
// by its directory. It opens it as a ReadOnly reader, or, if a writer has
// it open, as a follower (memvec.Follow), as it does a vector file.
//
// info prints the kind ("bytes"), the records, the bytes they hold, the
// capacity in records, the sizes of the two files, the header of the
// offsets file (the offsets are i64 from its data offset), and the
// power-loss words, which count records, as for a vector file.
//
// check validates what every open does (the header, the length and the
// last record against the data file), then every offset (memvec.Bytes.Check:
// each record's end at least its start and within the data file), and the
// power-loss checksums as for a vector file, with a Bytes's checksum of
// records (FORMAT.md, "Bytes files": their offsets entries, then their
// bytes); it prints "DIR: valid, a Bytes of N records, M bytes", with the
// same note, warnings and exit statuses as for a vector file. A damaged
// Bytes is exit status 1, as a damaged vector file is. An odd generation is
// no warning for a Bytes: it rewrites only its length (Truncate), in one
// store, which leaves no record half written.
//
// export writes a Bytes as one column, "record": a UTF-8 string column if
// every record is valid UTF-8 (it reads them once to know), else a binary
// column (Arrow large_utf8 or large_binary).
//
// dump prints records I up to J, one per line. A record is printed as its
// text where it is valid UTF-8. Any other record, and one that begins with
// the marker "memvec-base64:", is printed as that marker followed by the
// record in standard base64 (RFC 4648, with padding): a value that begins
// with the marker is base64, any other value is the record's text, so that
// nothing is lost and nothing reads as another record. -format csv (the
// default) prints a header row, "record", then a csv field per record,
// quoted as encoding/csv quotes one; an empty record is "" (an empty line
// would be no row), and a record that holds a CR LF is base64 too, since
// csv readers read a CR LF inside a quoted field as a LF. -format jsonl
// prints a JSON string per record. Before it prints anything, dump checks
// every offset (as check does): a Bytes with damaged offsets is an error.
// dump -follow follows a Bytes as it does a vector file: it prints the
// records from I on, then each record the writer appends as it comes,
// until interrupted or, with -to, record J-1; if the writer truncates
// below what it printed, it says so on standard error and goes on from
// the first record it has not printed (the Bytes must exist: dump
// -follow waits for a vector file that does not exist yet, not for a
// Bytes).
//
// # Maps
//
// FILE may be a map file (memvec.OpenMap's, kind 3). The command reads it
// through memvec.OpenRawMap, with the key's and the value's types from its
// stored layout, that of struct{ Key K; Value V }; as a ReadOnly reader,
// or, if a writer has it open, as a follower.
//
// info prints the kind ("map"), the key's and the value's types and
// sizes, the entries (counted, after a power loss, since the length word
// is then not trusted), the buckets in use and how many of them the last
// Sync made durable (and the number a reader reads, if not all: after a
// power loss), the bucket size and its slots, the used and durable ends,
// the layout of an entry (Key, then Value and its fields), and the map
// block's words: whether the map changed since its last Sync, the length
// word, the number of Syncs, the overflow serial, a killed writer's
// pending record, the writer's boot.
//
// check reads every slot of every chain a reader reads
// (memvec.RawMap.Check) and prints "FILE: valid, a map of N entries, K ->
// V, in B buckets". A damaged map is exit status 1, with what check found
// first and how much in all: an entry whose value's checksum does not hold
// (in the writer's boot, where no torn page can explain it), a control
// word whose tag is not its key's hash's (the entry is lost to every
// reader), a bucket reached a second time (a chain that loops or joins
// another), a key twice in a chain, or a length word that is not the
// number of entries. What a kill or a power loss legitimately leaves is a
// warning on standard error: a Delete a kill stopped half way, entries
// read from their other copy or dropped after a power loss, links to
// overflow buckets the power loss lost. A map at rest that changed since
// its last Sync (its writer was killed, or exited without Close) is valid,
// and the summary says that a reader after a reboot reads only the buckets
// that Sync made durable; with -durable that is exit status 3. Beside a
// live writer, check compares neither the count nor the keys of a chain,
// which change as it reads.
//
// export writes a map file as one row per entry, in no set order, with
// the columns an export of a vector of struct{ Key K; Value V } has: the
// key's ("Key", or "Key.X", "Key[0]", ...), then the value's ("Value",
// "Value.X", ...), named and typed as for a vector file. Beside a live
// writer its rows are the entries it reads as a follower, as dump's are:
// as many as it read, whatever the count was when it began.
//
// dump prints an entry a line, the key then the value, as an element of
// struct{ Key K; Value V } is printed: in csv, a header row of the columns
// "Key" (or "Key.X", "Key[0]", ... for a key that is a struct or an array)
// then "Value" (or "Value.X", ...), then a row per entry; in jsonl, an
// object {"Key":...,"Value":...}. Fields are formatted as for a vector
// file. The entries come in no set order, RawMap.All's; -from and -to
// count in it. -follow does not apply to a map: it has no end to follow.
// Beside a live writer no value is torn, and an entry that the writer
// changes while dump runs is printed with its value before or after the
// change.
//
// # Exit status
//
// 0 on success; 1 if the file cannot be opened, is not a valid vector
// file, Bytes or map file, or cannot be read (with a message on standard error); 2 on a usage
// error (an unknown command, a bad flag, a missing FILE); 3 for check
// -durable of a valid file whose length counts elements that are not
// durable yet (see check). A file that
// another program truncates while memvec reads it is an error too, with
// status 1 ("the file was cut to N bytes by another program ... file
// changed under this handle"), not a crash.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/memvec/memvec"
	"github.com/memvec/memvec/export"
)

// synopsis is what a usage error prints after its message.
const synopsis = `usage: memvec info FILE
       memvec check [-durable] FILE
       memvec dump [-format csv|jsonl] [-from I] [-to J] [-follow] FILE
       memvec export -format parquet|arrow [-o OUT] FILE
       memvec help
`

// usage is what help prints.
const usage = `usage: memvec <command> [flags] FILE

Commands:
  info FILE    print the header, the element layout and the lengths
  check [-durable] FILE
               validate the file: exit status 0 if valid, 1 if not. Valid:
               a reader counts only whole elements. The summary says how
               many of them are not durable yet (a writer exited without
               Sync or Close): a reboot would drop those.
    -durable   exit status 3 if the file is valid but a reboot would drop
               elements a reader counts now
  dump [-format csv|jsonl] [-from I] [-to J] [-follow] FILE
               print the elements, one per line:
    -format F  csv (a header row of field paths, then a row per element)
               or jsonl (a JSON value per element); default csv
    -from I    start at element I (default 0)
    -to J      stop before element J (default: the length)
    -follow    then print the elements a writer appends, as they come,
               until interrupted (or until element J-1 with -to);
               waits for FILE to be created if it does not exist yet
  export -format parquet|arrow [-o OUT] FILE
               write the elements as a Parquet file or an Arrow IPC file,
               one column per field (named by its path, as dump's csv
               header), text fields as UTF-8 strings; a Bytes as one
               column, "record" (a string if every record is UTF-8, else
               binary). It exports what FILE holds when it starts, also
               beside a live writer, in bounded memory; on a terminal it
               shows its progress on standard error.
    -format F  parquet or arrow
    -o OUT     write to OUT (made whole, then renamed: a failed export
               leaves no OUT); default standard output, if not a terminal
  help         print this help

FILE may be a Bytes (records of any length): its directory. dump prints a
record as its text where it is UTF-8, else (and if it begins with the
marker) as memvec-base64: and the record in base64.

FILE may be a map file: info, check, dump and export read it (dump: an
entry a line, csv columns Key... then Value..., or {"Key":...,"Value":...};
export: a row per entry, the same columns; in no set order; check
-durable: 3 if changed since its last Sync).

Exit status: 0 on success, 1 if the file cannot be read or is not valid,
2 on a usage error, 3 for check -durable of a file not all durable. See go doc github.com/memvec/memvec/cmd/memvec.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// A usageError is a command line that does not parse: exit status 2, with
// the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errHelp asks for the usage on standard output, exit status 0.
var errHelp = errors.New("help")

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	err := command(args, stdout, stderr)
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errNotDurable):
		return 3 // check -durable: the summary said why
	case errors.Is(err, errHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "memvec: %s\n%s", u.msg, synopsis)
		return 2
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "memvec: ") {
		msg = "memvec: " + msg
	}
	fmt.Fprintln(stderr, msg)
	return 1
}

// command runs one command.
func command(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return errHelp
	case "info", "check":
		fs := newFlagSet(name)
		durable := false
		if name == "check" {
			fs.BoolVar(&durable, "durable", false, "")
		}
		path, err := parse(fs, args)
		if err != nil {
			return err
		}
		dir, isBytes := bytesAt(path)
		switch {
		case name == "info" && isBytes:
			return infoBytes(dir, stdout)
		case name == "info":
			return info(path, stdout)
		case isBytes:
			return checkBytes(dir, durable, stdout, stderr)
		}
		return check(path, durable, stdout, stderr)
	case "dump":
		fs := newFlagSet(name)
		var o dumpOptions
		format := fs.String("format", "csv", "")
		fs.IntVar(&o.from, "from", 0, "")
		fs.IntVar(&o.to, "to", 0, "")
		fs.BoolVar(&o.follow, "follow", false, "")
		path, err := parse(fs, args)
		if err != nil {
			return err
		}
		switch *format {
		case "csv", "jsonl":
			o.jsonl = *format == "jsonl"
		default:
			return usageError{fmt.Sprintf("dump: -format %s: want csv or jsonl", *format)}
		}
		o.toSet = isSet(fs, "to")
		switch {
		case o.from < 0:
			return usageError{fmt.Sprintf("dump: -from %d is negative", o.from)}
		case o.toSet && o.to < 0:
			return usageError{fmt.Sprintf("dump: -to %d is negative", o.to)}
		case o.toSet && o.from > o.to:
			return usageError{fmt.Sprintf("dump: -from %d is past -to %d", o.from, o.to)}
		}
		if dir, ok := bytesAt(path); ok {
			return dumpBytes(dir, o, stdout, stderr)
		}
		return dump(path, o, stdout, stderr)
	case "export":
		fs := newFlagSet(name)
		var o exportOptions
		format := fs.String("format", "", "")
		fs.StringVar(&o.out, "o", "", "")
		path, err := parse(fs, args)
		if err != nil {
			return err
		}
		if *format == "" {
			return usageError{errNoFormat.Error()}
		}
		if o.format, err = export.ParseFormat(*format); err != nil {
			return usageError{fmt.Sprintf("export: -format %s: want parquet or arrow", *format)}
		}
		return runExport(path, o, stdout, stderr)
	}
	return usageError{fmt.Sprintf("unknown command %q", name)}
}

// newFlagSet returns a flag set that reports its errors to the caller
// only: run prints them with the usage.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses a command's flags and returns its one argument, FILE.
func parse(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", errHelp
		}
		return "", usageError{fs.Name() + ": " + err.Error()}
	}
	switch fs.NArg() {
	case 0:
		return "", usageError{fs.Name() + ": no FILE"}
	case 1:
		return fs.Arg(0), nil
	}
	return "", usageError{fmt.Sprintf("%s: one FILE, not %d arguments: %s (flags go before FILE)", fs.Name(), fs.NArg(), strings.Join(fs.Args(), " "))}
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// open opens the vector file at path for reading: as a ReadOnly reader
// (OpenRaw's default), or, if a writer holds the file, as a follower. live
// reports the latter.
func open(path string, opts ...memvec.Option) (r *memvec.Raw, live bool, err error) {
	r, err = memvec.OpenRaw(path, opts...)
	if errors.Is(err, memvec.ErrLocked) {
		r, err = memvec.OpenRaw(path, append(opts, memvec.Follow())...)
		live = true
	}
	return r, live, err
}

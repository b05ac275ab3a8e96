package export_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/memvec/memvec"
	"github.com/memvec/memvec/export"
)

// A program exports its own vector to a Parquet file, here in memory, and
// reads the file's columns back with arrow-go's Parquet reader.
func ExampleVector() {
	type Point struct {
		X, Y  float64
		Label [8]byte `memvec:"string"`
	}
	v, err := memvec.Make[Point](0)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	for i := range 3 {
		p := Point{X: float64(i), Y: float64(i) * 2}
		memvec.SetString(p.Label[:], fmt.Sprint("p", i))
		if err := v.Push(p); err != nil {
			log.Fatal(err)
		}
	}

	var out bytes.Buffer
	if err := export.Vector(&out, v, export.Options{Format: export.Parquet}); err != nil {
		log.Fatal(err)
	}

	r, err := file.NewParquetReader(bytes.NewReader(out.Bytes()))
	if err != nil {
		log.Fatal(err)
	}
	schema := r.MetaData().Schema
	for i := range schema.NumColumns() {
		fmt.Println(schema.Column(i).Name(), schema.Column(i).PhysicalType())
	}
	fmt.Println(r.NumRows(), "rows")
	// Output:
	// X DOUBLE
	// Y DOUBLE
	// Label BYTE_ARRAY
	// 3 rows
}

// The memvec command's export is File: a vector file (or a Bytes's
// directory) to an Arrow IPC file.
func ExampleFile() {
	dir, err := os.MkdirTemp("", "memvec-export-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	v, err := memvec.Open[int64](filepath.Join(dir, "counts.vec"))
	if err != nil {
		log.Fatal(err)
	}
	for i := range 1000 {
		if err := v.Push(int64(i)); err != nil {
			log.Fatal(err)
		}
	}
	if err := v.Close(); err != nil {
		log.Fatal(err)
	}

	out, err := os.Create(filepath.Join(dir, "counts.arrow"))
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	if err := export.File(out, filepath.Join(dir, "counts.vec"), export.Options{Format: export.Arrow}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("exported")
	// Output: exported
}

// A map file is one row per entry, with the columns of struct{ Key K;
// Value V }: the key's, then the value's, named by their paths.
func ExampleFile_map() {
	dir, err := os.MkdirTemp("", "memvec-export-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	type Stat struct {
		Hits int64
		Host [16]byte `memvec:"string"`
	}
	m, err := memvec.OpenMap[uint32, Stat](filepath.Join(dir, "stats.map"))
	if err != nil {
		log.Fatal(err)
	}
	for i := range uint32(100) {
		s := Stat{Hits: int64(i) * 10}
		memvec.SetString(s.Host[:], fmt.Sprint("host", i))
		if err := m.Put(i, s); err != nil {
			log.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		log.Fatal(err)
	}

	var out bytes.Buffer
	if err := export.File(&out, filepath.Join(dir, "stats.map"), export.Options{Format: export.Parquet}); err != nil {
		log.Fatal(err)
	}
	r, err := file.NewParquetReader(bytes.NewReader(out.Bytes()))
	if err != nil {
		log.Fatal(err)
	}
	schema := r.MetaData().Schema
	for i := range schema.NumColumns() {
		fmt.Println(schema.Column(i).Name(), schema.Column(i).PhysicalType())
	}
	fmt.Println(r.NumRows(), "rows")
	// Output:
	// Key INT32
	// Value.Hits INT64
	// Value.Host BYTE_ARRAY
	// 100 rows
}

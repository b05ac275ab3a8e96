package format

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFormatLayerKnowsNoOS: the format layer imports no package of an
// operating system (os, syscall, x/sys, the region layer), as README's "How
// it works" promises: the boot id and the page size are handed to it.
func TestFormatLayerKnowsNoOS(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files here: %v", err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "os" || path == "syscall" || strings.HasPrefix(path, "golang.org/x/sys") || strings.HasSuffix(path, "internal/region") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

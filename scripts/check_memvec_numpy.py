"""Check that memvec_numpy.load reads files written by memvec: run by numpy_test.go.

    python3 scripts/check_memvec_numpy.py MANIFEST

MANIFEST is JSON, a list of files with what each must hold:

    [{"name": ..., "file": PATH, "len": N, "itemsize": S,
      "columns": [{"path": "Pos.X", "kind": "f64", "values": [...]}, ...]}, ...]

One column per primitive that is not in a blank field, with a value per
element: bools and integers as JSON numbers, floats as their bits (an unsigned
integer), complex numbers as [real bits, imaginary bits]; so every float is
compared bit for bit, NaN payloads and -0 included. A text field is one column
of kind "text", its values in hex: the field's bytes, trailing zeros left out,
which is what numpy's S<N> holds. It prints every difference
and exits 1 if there is any.
"""
import json
import os
import re
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memvec_numpy import load  # noqa: E402


def column(a, path):
    """The column of a at path: "Pos.X" is a["Pos"]["X"], "Tags[3]" a["Tags"][:, 3]."""
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        a = a[name] if name else a[:, int(index)]
    return a


def values(col, kind):
    """The values of col as the manifest gives them."""
    if kind == "text":
        if col.dtype.kind != "S":
            return ["dtype %s, not S<N>" % col.dtype] * len(col)
        return [v.hex() for v in col.tolist()]
    if kind[0] in "fc":  # the bits: floats as unsigned integers of their size
        width = col.dtype.itemsize // (2 if kind[0] == "c" else 1)
        bits = numpy.ascontiguousarray(col).view(col.dtype.byteorder + "u%d" % width)
        return bits.reshape(-1, 2).tolist() if kind[0] == "c" else bits.tolist()
    return col.tolist()


def names(dtype):
    """Every field name in dtype, nested ones included."""
    if dtype.subdtype:
        return names(dtype.subdtype[0])
    return [n for name in dtype.names or () for n in [name] + names(dtype.fields[name][0])]


def main():
    with open(sys.argv[1]) as f:
        files = json.load(f)
    errors, checked = [], 0
    for c in files:
        a = load(c["file"])
        where = c["name"]
        if len(a) != c["len"]:
            errors.append("%s: %d elements, want %d" % (where, len(a), c["len"]))
            continue
        if c["len"] > 0 and not isinstance(a, numpy.memmap):
            errors.append("%s: %s, not a numpy.memmap" % (where, type(a).__name__))
        itemsize = a.dtype.itemsize * int(numpy.prod(a.shape[1:]))  # numpy makes an array element axes
        if itemsize != c["itemsize"]:
            errors.append("%s: elements of %d bytes, want %d" % (where, itemsize, c["itemsize"]))
        if "_" in names(a.dtype):
            errors.append("%s: the dtype has a blank field: %s" % (where, a.dtype))
        for col in c["columns"]:
            got = values(column(a, col["path"]), col["kind"])
            for i, (g, w) in enumerate(zip(got, col["values"])):
                if g != w:
                    errors.append("%s: element %d, %s (%s): %r, want %r" % (where, i, col["path"] or "value", col["kind"], g, w))
            if len(got) != len(col["values"]):
                errors.append("%s: %s has %d values, want %d" % (where, col["path"], len(got), len(col["values"])))
            checked += len(got)
    for e in errors[:50]:
        print(e)
    if errors:
        print("%d differences" % len(errors))
        sys.exit(1)
    print("ok: %d files, %d values" % (len(files), checked))


if __name__ == "__main__":
    main()

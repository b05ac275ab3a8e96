"""Read a memvec vector file as a numpy array, in place.

    from memvec_numpy import load
    points = load("points.vec")      # read-only numpy.memmap, a record per element
    print(len(points), points["X"].mean(), points[0])

load checks the header and the stored layout as memvec does (FORMAT.md), builds
the dtype from the element layout stored in the file (struct fields by name and
offset, blank "_" fields left out, arrays as subarrays, text fields -- [N]byte
tagged memvec:"string" -- as S<N>, in the writer's byte order), and maps the
elements the file counts: the length word, or, if this
machine has rebooted since the writer opened the file (Linux's boot_id tells),
as far as the power-loss checksums hold. It needs only numpy.

The array is what the file held when load read it: elements a writer appends
later are not in it. load takes no lock: a writer that runs meanwhile may rewrite
elements, and a writer's Clip may shorten the file under the array (reading
past the end then crashes the process).
"""
import json
import struct

import numpy

_KINDS = {"bool": "?", "i8": "i1", "i16": "i2", "i32": "i4", "i64": "i8", "u8": "u1",
          "u16": "u2", "u32": "u4", "u64": "u8", "f32": "f4", "f64": "f8", "c64": "c8", "c128": "c16"}


def _crc_entry(c):
    for _ in range(8):
        c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c


_CRC = [_crc_entry(i) for i in range(256)]


def crc32c(data):
    """The CRC-32C (Castagnoli) of data, as memvec's checksums."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _dtype(t, order):
    if t["kind"] == "array" and t.get("text") and t["len"] > 0:
        return numpy.dtype("S%d" % t["len"])  # numpy's bytes: the text, its trailing zeros left out
    if t["kind"] == "array":
        return numpy.dtype((_dtype(t["elem"], order), (t["len"],)))
    if t["kind"] == "struct":
        fields = [f for f in t["fields"] if f["name"] != "_"]  # padding by hand
        return numpy.dtype({"names": [f["name"] for f in fields],
                            "formats": [_dtype(f["type"], order) for f in fields],
                            "offsets": [f["offset"] for f in fields], "itemsize": t["size"]})
    return numpy.dtype(order + _KINDS[t["kind"]])


def _boot_id():
    """This boot's identifier, folded to 64 bits as memvec folds it; 0 if unknown."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            raw = bytes.fromhex(f.read().strip().replace("-", ""))
    except (OSError, ValueError):
        return 0
    if len(raw) != 16 or raw == bytes(16):
        return 0
    return max(int.from_bytes(raw[:8], "little") ^ int.from_bytes(raw[8:], "little"), 1)


def load(path):
    """Return the elements of the memvec file at path as a read-only numpy.memmap
    (an empty array if it has none), or raise ValueError if the file is not valid."""
    with open(path, "rb") as f:
        data = f.read(64 << 10)  # the header and the layout slots, which are smaller
        file_size = f.seek(0, 2)
        if file_size == 0 or 128 <= file_size <= 64 << 10 and data == bytes(file_size):
            return numpy.empty(0, "V0")  # a new vector: no header, no layout yet
        if len(data) < 128 or data[:8] != b"\x89MEMVEC\n":
            raise ValueError("not a memvec file")
        order = {b"\x04\x03\x02\x01": "<", b"\x01\x02\x03\x04": ">"}.get(data[8:12])
        if order is None:
            raise ValueError("bad byte-order mark")
        version, size, align, data_offset, _, slots, slot_size = struct.unpack_from(order + "IQIIQII", data, 12)
        if version != 6:
            raise ValueError("format version %d, not 6" % version)
        if struct.unpack_from(order + "I", data, 48)[0] != 1:
            raise ValueError("not a vector file (kind %d)" % struct.unpack_from(order + "I", data, 48)[0])
        # Bytes 52-59 are the words of Shared writers: not checksummed.
        if struct.unpack_from(order + "I", data, 60)[0] != crc32c(data[:52]):
            raise ValueError("bad header checksum")
        if not (128 <= slots and 8 <= slot_size <= 32704 and slots % 8 == 0 == slot_size % 8
                and slots + 2 * slot_size <= data_offset <= file_size and data_offset % max(align, 1) == 0):
            raise ValueError("bad layout slots")
        word, = struct.unpack_from(order + "I", data, 76)  # its lowest bit: the current slot
        slot = data[slots + (word & 1) * slot_size:][:slot_size]
        slot_crc, layout_len = struct.unpack_from(order + "II", slot, 0)
        if layout_len > slot_size - 8 or crc32c(slot[4:8 + layout_len]) != slot_crc:
            raise ValueError("bad layout slot")
        stored = slot[8:8 + layout_len]
        layout = json.loads(stored)
        dtype = _dtype(layout["type"], order)
        if (layout["size"], layout["align"], dtype.itemsize) != (size, align, size):
            raise ValueError("the stored layout does not match the header")
        capacity = (file_size - data_offset) // size if size else 1 << 63
        length, = struct.unpack_from(order + "Q", data, 64)
        base, checked1, checked2, boot, sum1, sum2 = struct.unpack_from(order + "QQQQII", data, 88)
        if base > capacity:
            raise ValueError("base length past the end of the file")
        now = _boot_id()
        if boot != 0 and now != 0 and boot != now:  # rebooted since the writer opened it
            length = base
            for checked, crc in ((checked1, sum1), (checked2, sum2)):
                if not length <= checked <= capacity:
                    break
                f.seek(data_offset + length * size)
                if size and crc32c(f.read((checked - length) * size)) != crc:
                    break
                length = checked
        if length > capacity:
            raise ValueError("length %d past the end of the file" % length)
    if length == 0 or size == 0:
        return numpy.zeros(length, dtype)
    return numpy.memmap(path, dtype, mode="r", offset=data_offset, shape=(length,))

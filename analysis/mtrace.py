#!/usr/bin/env python3
"""mtrace.py - read, summarise and write moesim routing traces (docs/trace.md).

usage:
  mtrace.py summary TRACE
      the header, the batches, and per MoE layer the expert load max/mean
      over the whole trace (what the router wanted, before capacity)
  mtrace.py to-csv TRACE OUT.csv
      one row per (batch, layer, token): batch,layer,token,e0,...,e{k-1}
      (-1 for an empty slot)
  mtrace.py from-csv IN.csv OUT.mtr.gz --experts E --slots K --moe-layers L
                     --sources S --tokens-per-source T [--name NAME] [--seed N]
      the reverse: a trace from routing logs in that CSV form (rows in any
      order; every (batch, layer, token) of whole batches exactly once)

Every record's CRC-32 is checked when reading, and the gzip stream must end
right after the end record, as moesim checks. from-csv writes what moesim
writes for the same choices, byte for byte (zlib level 1, gzip header with no
time or name). Standard library only.
"""
import argparse
import csv
import struct
import sys
import zlib

MAGIC = b"MOESIMTR"
VERSION = 1
TAG_LAYER = b"LAYR"
TAG_END = b"END!"
NONE = 0xFFFF


class TraceError(Exception):
    pass


class Reader:
    """Decompresses a trace and hands out its payload bytes in order."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.z = zlib.decompressobj(31)
        self.buf = b""
        self.pos = 0

    def read(self, n, where):
        while len(self.buf) - self.pos < n:
            if self.z.eof:
                raise TraceError(f"truncated: the stream ends {where}")
            chunk = self.f.read(1 << 16)
            if not chunk:
                raise TraceError(f"truncated: the file ends {where}")
            try:
                more = self.z.decompress(chunk)
            except zlib.error as e:
                raise TraceError(f"corrupt compressed data (zlib: {e}) {where}")
            self.buf = self.buf[self.pos:] + more
            self.pos = 0
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def finish(self):
        if len(self.buf) > self.pos:
            raise TraceError("corrupt: more data follows the end record")
        while not self.z.eof:
            chunk = self.f.read(1 << 16)
            if not chunk:
                raise TraceError("truncated: the gzip trailer is missing")
            try:
                if self.z.decompress(chunk):
                    raise TraceError("corrupt: more data follows the end record")
            except zlib.error as e:
                raise TraceError(f"corrupt compressed data (zlib: {e})")
        if self.z.unused_data or self.f.read(1):
            raise TraceError("corrupt: bytes after the end of the gzip stream")
        self.f.close()


def check_crc(record, stored, what):
    computed = zlib.crc32(record) & 0xFFFFFFFF
    if computed != stored:
        raise TraceError(f"corrupt {what}: CRC-32 mismatch (stored 0x{stored:08x}, "
                         f"computed 0x{computed:08x})")


def read_trace(path):
    """Yields the header (a dict), then (batch, layer, entries) per layer
    record, entries a list of ints (-1 for none)."""
    r = Reader(path)
    head = r.read(44, "in the header")
    if head[:8] != MAGIC:
        raise TraceError(f"not a moesim routing trace: magic is {head[:8]!r}")
    version, experts, slots, layers, sources, tps, seed, n = struct.unpack("<6IQI", head[8:])
    if version != VERSION:
        raise TraceError(f"unsupported trace version {version}; this reads version 1")
    if n > 127:
        raise TraceError(f"corrupt header: name length {n}")
    name = r.read(n, "in the header")
    (crc,) = struct.unpack("<I", r.read(4, "in the header"))
    check_crc(head + name, crc, "header")
    h = {"experts": experts, "slots": slots, "moe_layers": layers, "sources": sources,
         "tokens_per_source": tps, "seed": seed, "name": name.decode("utf-8", "replace")}
    yield h
    entries = sources * tps * slots
    batch, layer, records = 0, 0, 0
    while True:
        where = f"at batch {batch} layer {layer}"
        tag = r.read(4, where)
        if tag == TAG_END:
            body = r.read(16, "in the end record")
            (crc,) = struct.unpack("<I", r.read(4, "in the end record"))
            check_crc(tag + body, crc, "end record")
            nb, nr = struct.unpack("<QQ", body)
            if layer != 0 or nb != batch or nr != records:
                raise TraceError(f"corrupt end record: it counts {nb} batches and {nr} "
                                 f"records; the file holds {batch} whole batches")
            r.finish()
            return
        if tag != TAG_LAYER:
            raise TraceError(f"corrupt: unknown record tag {tag!r} {where}")
        fields = r.read(12, where)
        b, l, n_e = struct.unpack("<3I", fields)
        if n_e != entries:
            raise TraceError(f"corrupt layer record: {n_e} entries, the header says "
                             f"{entries} {where}")
        data = r.read(2 * n_e, where)
        (crc,) = struct.unpack("<I", r.read(4, where))
        check_crc(tag + fields + data, crc, f"layer record {where}")
        if (b, l) != (batch, layer):
            raise TraceError(f"corrupt: records out of order: found batch {b} layer {l}, "
                             f"expected batch {batch} layer {layer}")
        vals = struct.unpack(f"<{n_e}H", data)
        out = []
        for v in vals:
            if v == NONE:
                out.append(-1)
            elif v >= experts:
                raise TraceError(f"corrupt layer record: expert {v}; allowed "
                                 f"0..{experts - 1} {where}")
            else:
                out.append(v)
        yield b, l, out
        records += 1
        layer += 1
        if layer == layers:
            layer, batch = 0, batch + 1


def write_trace(path, h, records):
    """Writes a trace: h as read_trace yields it, records an iterable of
    (batch, layer, entries) in order."""
    z = zlib.compressobj(1, zlib.DEFLATED, 31, 8, zlib.Z_DEFAULT_STRATEGY)
    name = h.get("name", "").encode("utf-8")[:127]
    head = MAGIC + struct.pack("<6IQI", VERSION, h["experts"], h["slots"], h["moe_layers"],
                               h["sources"], h["tokens_per_source"], h.get("seed", 0),
                               len(name)) + name
    out = [z.compress(head + struct.pack("<I", zlib.crc32(head) & 0xFFFFFFFF))]
    entries = h["sources"] * h["tokens_per_source"] * h["slots"]
    batch, layer, count = 0, 0, 0
    for b, l, vals in records:
        if (b, l) != (batch, layer) or len(vals) != entries:
            raise TraceError(f"record batch {b} layer {l} with {len(vals)} entries; expected "
                             f"batch {batch} layer {layer} with {entries}")
        data = struct.pack(f"<{entries}H", *[NONE if v < 0 else v for v in vals])
        rec = TAG_LAYER + struct.pack("<3I", b, l, entries) + data
        out.append(z.compress(rec + struct.pack("<I", zlib.crc32(rec) & 0xFFFFFFFF)))
        count += 1
        layer += 1
        if layer == h["moe_layers"]:
            layer, batch = 0, batch + 1
    if layer != 0:
        raise TraceError(f"batch {batch} is incomplete: {layer} of {h['moe_layers']} layers")
    end = TAG_END + struct.pack("<QQ", batch, count)
    out.append(z.compress(end + struct.pack("<I", zlib.crc32(end) & 0xFFFFFFFF)))
    out.append(z.flush())
    with open(path, "wb") as f:
        f.write(b"".join(out))


def cmd_summary(a):
    it = read_trace(a.trace)
    h = next(it)
    E = h["experts"]
    print(f"{a.trace}: moesim routing trace v1 of \"{h['name']}\" (seed {h['seed']})")
    print(f"  {E} experts, {h['slots']} choices per token, {h['moe_layers']} MoE layers, "
          f"{h['sources']} sources x {h['tokens_per_source']} tokens per batch")
    loads = [[0] * E for _ in range(h["moe_layers"])]
    batches = 0
    for b, l, vals in it:
        row = loads[l]
        for v in vals:
            if v >= 0:
                row[v] += 1
        batches = b + 1
    print(f"  {batches} batches")
    print("  layer  assignments  max/mean  hottest expert")
    for l, row in enumerate(loads):
        total = sum(row)
        mean = total / E if E else 0
        hot = max(range(E), key=lambda i: row[i])
        print(f"  {l:5d}  {total:11d}  {row[hot] / mean if mean else 0:8.3f}  {hot}")


def cmd_to_csv(a):
    it = read_trace(a.trace)
    h = next(it)
    k = h["slots"]
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["batch", "layer", "token"] + [f"e{j}" for j in range(k)])
        for b, l, vals in it:
            for t in range(len(vals) // k):
                w.writerow([b, l, t] + vals[t * k:(t + 1) * k])


def cmd_from_csv(a):
    h = {"experts": a.experts, "slots": a.slots, "moe_layers": a.moe_layers,
         "sources": a.sources, "tokens_per_source": a.tokens_per_source, "seed": a.seed,
         "name": a.name}
    T = a.sources * a.tokens_per_source
    k = a.slots
    layers = {}
    with open(a.csv) as f:
        rows = csv.reader(f)
        next(rows, None)  # the header
        for n, row in enumerate(rows, start=2):
            if len(row) != 3 + k:
                sys.exit(f"{a.csv}:{n}: {len(row)} fields; allowed: batch,layer,token and "
                         f"{k} experts")
            b, l, t = (int(x) for x in row[:3])
            if not (0 <= l < a.moe_layers and 0 <= t < T and b >= 0):
                sys.exit(f"{a.csv}:{n}: batch {b} layer {l} token {t} out of range "
                         f"(layers 0..{a.moe_layers - 1}, tokens 0..{T - 1})")
            vals = [int(x) for x in row[3:]]
            if any(v < -1 or v >= a.experts for v in vals):
                sys.exit(f"{a.csv}:{n}: an expert outside -1..{a.experts - 1}")
            rec = layers.setdefault((b, l), [None] * T)
            if rec[t] is not None:
                sys.exit(f"{a.csv}:{n}: batch {b} layer {l} token {t} given twice")
            rec[t] = vals
    batches = 1 + max((b for b, _ in layers), default=-1)

    def records():
        for b in range(batches):
            for l in range(a.moe_layers):
                rec = layers.get((b, l))
                if rec is None or any(v is None for v in rec):
                    sys.exit(f"{a.csv}: batch {b} layer {l} is missing tokens")
                yield b, l, [v for vals in rec for v in vals]

    write_trace(a.out, h, records())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("summary")
    s.add_argument("trace")
    s.set_defaults(fn=cmd_summary)
    s = sub.add_parser("to-csv")
    s.add_argument("trace")
    s.add_argument("out")
    s.set_defaults(fn=cmd_to_csv)
    s = sub.add_parser("from-csv")
    s.add_argument("csv")
    s.add_argument("out")
    for opt in ("experts", "slots", "moe-layers", "sources", "tokens-per-source"):
        s.add_argument(f"--{opt}", type=int, required=True)
    s.add_argument("--name", default="")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_from_csv)
    a = p.parse_args()
    try:
        a.fn(a)
    except (TraceError, OSError) as e:
        sys.exit(f"mtrace.py: {e}")


if __name__ == "__main__":
    main()

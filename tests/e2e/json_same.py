#!/usr/bin/env python3
"""json_same.py - do two moesim outputs hold the same values?

usage: json_same.py [--digits N] OLD NEW [OLD NEW ...]

OLD and NEW are two JSON documents (a report, a compare document, a
timeline) or two CSV tables (by their .csv names) written before and after
a change of number format. Both are parsed (Python's json is strict: a file
that is not valid UTF-8 or not JSON fails). Every value OLD has must be in
NEW at the same place: strings, booleans and nulls equal, arrays of the same
length, and numbers equal to the precision OLD printed them with: NEW's
value rounded to N significant digits (default 12, the old %.12g) is OLD's
value. Members keep their order. NEW may have members (JSON) or columns (CSV) that OLD lacks: fields
are added, never renamed. Prints one line per pair and the first
differences; exits 1 if any pair differs, 2 on bad usage.
Standard library only.
"""
import csv
import json
import sys


def same_number(old, new, digits):
    if isinstance(old, bool) or isinstance(new, bool):
        return old == new
    if isinstance(old, int) and isinstance(new, int):
        return old == new
    return float(f"{float(new):.{digits}g}") == float(old)


def walk(old, new, path, digits, out):
    if len(out) >= 10:
        return
    if isinstance(old, dict):
        if not isinstance(new, dict):
            out.append(f"{path}: an object became {type(new).__name__}")
            return
        if [k for k in new if k in old] != [k for k in old if k in new]:
            out.append(f"{path}: the members' order changed")
        for k, v in old.items():
            if k not in new:
                out.append(f"{path}.{k}: missing")
            else:
                walk(v, new[k], f"{path}.{k}", digits, out)
    elif isinstance(old, list):
        if not isinstance(new, list) or len(new) != len(old):
            out.append(f"{path}: an array of {len(old)} became {new!r:.60}")
            return
        for i, (a, b) in enumerate(zip(old, new)):
            walk(a, b, f"{path}[{i}]", digits, out)
    elif isinstance(old, (int, float)) and not isinstance(old, bool):
        if not isinstance(new, (int, float)) or not same_number(old, new, digits):
            out.append(f"{path}: {old!r} became {new!r}")
    elif old != new:
        out.append(f"{path}: {old!r} became {new!r}")


def as_number(s):
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return None


def csv_rows(path):
    with open(path, newline="", encoding="utf-8", errors="strict") as f:
        return list(csv.reader(f))


def compare_csv(old_path, new_path, digits, out):
    old, new = csv_rows(old_path), csv_rows(new_path)
    if not old or not new:
        out.append("empty file")
        return
    where = {name: i for i, name in enumerate(new[0])}
    for name in old[0]:
        if name not in where:
            out.append(f"column {name}: missing")
    if len(old) != len(new):
        out.append(f"{len(old) - 1} rows became {len(new) - 1}")
        return
    for r, (a, b) in enumerate(zip(old[1:], new[1:]), start=2):
        for i, name in enumerate(old[0]):
            if name not in where or len(out) >= 10:
                continue
            x, y = a[i], b[where[name]]
            nx, ny = as_number(x), as_number(y)
            ok = x == y or (nx is not None and ny is not None and same_number(nx, ny, digits))
            if not ok:
                out.append(f"row {r}, {name}: {x!r} became {y!r}")


def main(argv):
    digits = 12
    args = argv[1:]
    if args[:1] == ["--digits"] and len(args) >= 2:
        digits = int(args[1])
        args = args[2:]
    if not args or len(args) % 2 or args[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    failed = 0
    for old_path, new_path in zip(args[0::2], args[1::2]):
        out = []
        try:
            if old_path.endswith(".csv"):
                compare_csv(old_path, new_path, digits, out)
            else:
                with open(old_path, encoding="utf-8") as f:
                    old = json.load(f)
                with open(new_path, encoding="utf-8") as f:
                    new = json.load(f)
                walk(old, new, "$", digits, out)
        except (OSError, ValueError) as e:
            out.append(str(e))
        if out:
            failed += 1
            print(f"DIFFER {old_path} {new_path}")
            for line in out:
                print(f"  {line}")
        else:
            print(f"same   {old_path} {new_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

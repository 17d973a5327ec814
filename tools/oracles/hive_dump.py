#!/usr/bin/env python3
"""Dump a registry hive with an independent reader, as JSON, for admu's oracle tests.

usage: hive_dump.py hivex|regipy HIVE

hivex:  [{"path": "A\\B", "values": [[name, type, hex_data], ...]}, ...]  (exact bytes)
regipy: [{"path": "A\\B", "values": [[name, type_name, decoded], ...]}, ...]
Keys are listed depth-first in each library's own order; tests compare as sets/maps.
"""
import json
import sys


def dump_hivex(path):
    import hivex

    h = hivex.Hivex(path)
    out = []
    stack = [(h.root(), "")]
    while stack:
        node, p = stack.pop()
        values = []
        for v in h.node_values(node):
            t, data = h.value_value(v)
            values.append([h.value_key(v), t, data.hex()])
        out.append({"path": p, "values": values})
        for child in reversed(h.node_children(node)):
            name = h.node_name(child)
            stack.append((child, name if not p else p + "\\" + name))
    return out


def dump_regipy(path):
    from regipy.registry import RegistryHive

    hive = RegistryHive(path)
    out = []
    stack = [(hive.root, "")]
    while stack:
        nk, p = stack.pop()
        values = [value_row(v) for v in nk.iter_values(trim_values=False)] if nk.values_count else []
        out.append({"path": p, "values": values})
        children = list(nk.iter_subkeys()) if nk.subkey_count else []
        for child in reversed(children):
            name = child.name
            stack.append((child, name if not p else p + "\\" + name))
    return out


def value_row(v):
    name = "" if v.name == "(default)" else v.name
    data = v.value
    if isinstance(data, bytes):
        data = data.hex()
    return [name, v.value_type, data]


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("hivex", "regipy"):
        print(__doc__, file=sys.stderr)
        return 2
    dump = dump_hivex if sys.argv[1] == "hivex" else dump_regipy
    json.dump(dump(sys.argv[2]), sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())

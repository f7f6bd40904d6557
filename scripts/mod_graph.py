#!/usr/bin/env python3
"""Module graph of a crate's src/ from its `crate::` and `super::` paths; reports cycles.

Usage: scripts/mod_graph.py [crates/core/src] [--depth N]

A node is a module path cut to N components (default 1: the crate's top-level modules).
Comments, string literals and test modules (`#[cfg(test)] mod x;` files, and an inline
`#[cfg(test)] mod tests { .. }`, which this project keeps at the end of a file) are left
out. Relative paths (`use child::X` in a parent) are not followed: a parent depends on its
children by construction. Prints each node's dependencies, then every cycle (exit status 1
if any).
"""
import re
import sys
from pathlib import Path

args = sys.argv[1:]
depth = 1
if "--depth" in args:
    i = args.index("--depth")
    depth = int(args[i + 1])
    del args[i : i + 2]
root = Path(args[0] if args else "crates/core/src")

def module_of(path):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts in (["lib"], ["main"]):
        return []
    if parts[-1] == "mod":
        parts.pop()
    return parts

def strip(text):
    text = re.sub(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*mod \w+;", "", text)
    text = re.sub(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\](?:[ \t]*//[^\n]*)?\s*)*mod \w+\s*\{.*", "", text, flags=re.S)
    text = re.sub(r"'(\\.|[^'\\])'", "''", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return re.sub(r"//.*", "", text)

files = {}
for path in sorted(root.rglob("*.rs")):
    mod = module_of(path)
    if mod and "tests" not in mod[-1]:
        files[tuple(mod)] = strip(path.read_text())
modules = set(files) | {()}

def paths(text):
    """Every `crate::`/`super::` path, with `a::{b, c::d}` groups expanded one level."""
    for m in re.finditer(r"\b((?:crate|super)(?:::\w+)*)(::\{([^{}]*)\})?", text):
        head = m.group(1).split("::")
        if m.group(3) is None:
            yield head
        for item in (m.group(3) or "").split(","):
            item = item.strip().split(" as ")[0]
            if item and item != "self":
                yield head + item.split("::")
            elif item == "self":
                yield head

graph = {}
for mod, text in files.items():
    node = "::".join(mod[:depth])
    deps = graph.setdefault(node, set())
    for segs in paths(text):
        base = []
        if segs[0] == "crate":
            segs = segs[1:]
        else:
            base = list(mod)
            while segs and segs[0] == "super":
                segs, base = segs[1:], base[:-1]
        full = base + segs
        # The longest prefix that is a module (`crate::sha1` is in the root, not a module).
        while tuple(full) not in modules:
            full.pop()
        name = "::".join(full[:depth])
        if full and name != node:
            deps.add(name)
graph = {n: {d for d in ds if d in graph} for n, ds in graph.items()}

for n in sorted(graph):
    print(f"{n}: {', '.join(sorted(graph[n])) or '(leaf)'}")

cycles, state = [], {}
def visit(n, stack):
    state[n] = 1
    stack.append(n)
    for d in sorted(graph[n]):
        if state.get(d) == 1:
            cycles.append(stack[stack.index(d):] + [d])
        elif d not in state:
            visit(d, stack)
    stack.pop()
    state[n] = 2
for n in sorted(graph):
    if n not in state:
        visit(n, [])
for c in cycles:
    print("cycle:", " -> ".join(c))
print(f"{len(graph)} modules, {len(cycles)} cycles")
sys.exit(1 if cycles else 0)

"""What a release build of gptsweep compiles: cargo's unit graph, counted. Not part of the tests.

  RUSTC_BOOTSTRAP=1 cargo build --release --bin gptsweep --unit-graph -Z unstable-options \
    | python3 bench/build_units.py [CRATE[,CRATE...] ...]

Prints units (rustc or build-script runs), host units (proc macros, build scripts and their
dependencies, built at opt-level 0), build-script runs and packages; for each CRATE list, the
units reachable only through an edge to one of those crates (what dropping it would save).
"""
import json
import sys

graph = json.load(sys.stdin)
units = graph["units"]


def name(i):
    pid = units[i]["pkg_id"]
    return (pid.split("#")[1] if "#" in pid else pid.split(" ")[0]).split("@")[0]


def reachable(cut=frozenset()):
    seen, stack = set(), list(graph["roots"])
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(d["index"] for d in units[i]["dependencies"] if name(d["index"]) not in cut)
    return seen


host = sum(1 for u in units if u["profile"]["opt_level"] == "0")
runs = sum(1 for u in units if u["mode"] == "run-custom-build")
print(f"units {len(units)}  host {host}  build-script runs {runs}  packages {len({u['pkg_id'] for u in units})}")
everything = reachable()
for arg in sys.argv[1:]:
    gone = everything - reachable(frozenset(arg.split(",")))
    print(f"{arg}: {len(gone)} units: {' '.join(sorted({name(i) for i in gone}))}")

"""Shared helpers for the reference fixture scripts (write or --check)."""

import argparse
import json
import math
import pathlib
import sys

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def to_jsonable(x):
    """NaN becomes null so the files stay strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    return x


def same(a, b, path="$", rel=1e-12, abs_=1e-15):
    """Structural comparison with a float tolerance; returns a list of differences."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return [] if a is b else [f"{path}: {a!r} != {b!r}"]
        if abs(a - b) <= max(abs_, rel * max(abs(a), abs(b))):
            return []
        return [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in same(a[k], b[k], f"{path}.{k}", rel, abs_)]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{path}[{i}]", rel, abs_)]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def main(name, build):
    """`build()` returns the fixture object; write it, or with --check compare it."""
    parser = argparse.ArgumentParser(description=f"Reference fixture {name}")
    parser.add_argument("--check", action="store_true", help="compare with the committed file, write nothing")
    args = parser.parse_args()
    path = FIXTURES / name
    fresh = to_jsonable(build())
    if args.check:
        if not path.exists():
            print(f"{path} is missing", file=sys.stderr)
            sys.exit(1)
        committed = json.loads(path.read_text())
        diffs = same(fresh, committed)
        if diffs:
            print(f"{path} differs from a fresh computation:", file=sys.stderr)
            for d in diffs[:20]:
                print("  " + d, file=sys.stderr)
            sys.exit(1)
        print(f"{path.name}: up to date")
        return
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fresh, separators=(",", ":")) + "\n")
    print(f"wrote {path}")

"""Run every benchmark and print its table: uedflow against its peer, measured in one run.

Usage: ``python benchmarks/run_all.py`` (``make bench`` installs the peers first).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"\n=== {path.stem} ===", flush=True)
        module.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())

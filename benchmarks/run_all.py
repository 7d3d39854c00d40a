"""Run every benchmark in this folder, one process each, and print their figures.

``make bench`` calls this. Benchmarks print medians and ratios against a reference measured in
the same process; they are figures to read, not pass/fail tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode:
            failed.append(script.name)
    if failed:
        print(f"\nbenchmarks that failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Compares a virtualenv's installed packages with pinned requirement files.

    python check.py FILE...

Prints one line per pinned package whose installed version differs or which
is missing, and exits 1 if there is any; exits 0 when every pin is met.
Used by scripts/lib.sh to decide whether to (re)install, so that a machine
that installed earlier runs the same versions as a fresh one.
"""

import importlib.metadata
import re
import sys


def pins(path):
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, version = line.split("==", 1)
            yield re.sub(r"\[.*\]", "", name).strip(), version.strip()


def main(paths):
    wrong = []
    for path in paths:
        for name, version in pins(path):
            try:
                installed = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                installed = None
            if installed != version:
                wrong.append(f"{name} {installed or 'missing'} (pinned {version})")
    for line in wrong:
        print(line)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

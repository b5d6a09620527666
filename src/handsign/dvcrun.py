"""`dvc`, as `handsign repro` runs it for each stage: DVC's own command line with one change, in
how it reads dvc.lock before it records a stage there.

DVC reads the lock file for an update with ruamel's round-trip loader, which keeps comments and
is pure Python: 1.8 s for the demo's 56-stage dvc.lock on a 2-core AVX2 machine, at every stage
(the stage's own work is often less). dvc.lock is written by DVC alone and holds no comments, so
this reads it with the C-accelerated safe loader instead (0.3 s); DVC's own dumper writes it, and
the file comes out byte for byte as DVC writes it (tests/test_repro.py). dvc.yaml and params.yaml
are read as DVC reads them.
"""

from __future__ import annotations

import sys
from pathlib import PurePath
from typing import Any


def main(argv: list[str]) -> int:
    from dvc.cli import main as dvc_main
    from dvc.utils.serialize import _yaml

    round_trip = _yaml.parse_yaml_for_update

    def parse_for_update(text: str, path: Any) -> Any:
        if PurePath(str(path)).name == "dvc.lock":
            return _yaml.parse_yaml(text, path)
        return round_trip(text, path)

    _yaml.parse_yaml_for_update = parse_for_update  # what modify_yaml calls, by its module's name
    return dvc_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`dvc`, as `handsign repro` runs it for each stage: DVC's own command line with one change, in
how it reads and writes dvc.lock when it records a stage there.

DVC updates the lock file with ruamel's round-trip YAML loader and dumper, which keep comments
and are pure Python: 1.8 s to read and 1.0 s to write the demo's 56-stage dvc.lock on a 2-core
AVX2 machine, at every stage (a demo stage's own work is often less). dvc.lock is written by DVC
alone and holds no comments, so this reads and writes it with the C-accelerated loader and
dumper of PyYAML (0.4 s and 0.1 s): the file comes out byte for byte as DVC writes it
(tests/test_repro.py compares both ways on the project's own dvc.lock). dvc.yaml and params.yaml
are read and written as DVC does.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

import yaml

LINE_WIDTH = 80  # ruamel's best_width, which DVC keeps


class LockDumper(yaml.CSafeDumper):
    """PyYAML's C dumper, taking the OrderedDicts DVC builds a stage's entry with."""


LockDumper.add_representer(OrderedDict, yaml.representer.SafeRepresenter.represent_dict)


def load_lock(text: str, path: Any = None) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader) or {}


def dump_lock(data: Any, stream: Any) -> None:
    """dvc.lock as DVC's ruamel dumper writes it: block style, keys in their order. ruamel moves a
    plain value that would take its `key: value` line past 80 characters onto the next line (after
    `key: `, two spaces deeper); that is done here too, and any other long line falls back to
    DVC's own dumper, which is slower and always right."""
    text = yaml.dump(data, Dumper=LockDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
    lines = []
    for line in text.splitlines(keepends=True):
        if len(line) - 1 > LINE_WIDTH:
            long = re.fullmatch(r"( *)([\w.@/-]+): ([^\s'\"][^\s]*)\n", line)
            if long is None:
                from dvc.utils.serialize import _yaml

                _yaml._dump(data, stream)
                return
            indent, key, value = long.groups()
            line = f"{indent}{key}: \n{indent}  {value}\n"
        lines.append(line)
    stream.write("".join(lines))


def main(argv: list[str]) -> int:
    from dvc import dvcfile
    from dvc.cli import main as dvc_main
    from dvc.utils.serialize import _common

    round_trip = dvcfile.modify_yaml

    @contextlib.contextmanager
    def modify_yaml(path: Any, fs: Any = None) -> Iterator[Any]:
        if PurePath(str(path)).name != "dvc.lock":
            with round_trip(path, fs=fs) as data:
                yield data
            return
        with _common._modify_data(path, load_lock, dump_lock, fs=fs) as data:
            yield data

    dvcfile.modify_yaml = modify_yaml  # what the lock file's writer calls, by dvcfile's name for it
    return dvc_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

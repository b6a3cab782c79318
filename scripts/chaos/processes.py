"""What the processes of a local system hold, read from /proc: resident memory and open
file descriptors, per process of the system's process group (`make up` starts one).

The chaos report prints the moto server's resident memory (it must not grow per
request); the soak samples every process each minute and judges the trend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    name: str
    rss_kib: int
    open_fds: int


def _group_of(stat: str) -> int:
    # The command name (field 2) may hold spaces and parentheses: count from its end.
    return int(stat[stat.rindex(")") + 2 :].split()[2])


def name_of(cmdline: list[str]) -> str:
    """A short, stable name: a function worker's the function it runs (the name of its
    code's directory), a Python module's its module (``-m``), else the program's."""
    for index, part in enumerate(cmdline[:-1]):
        if part.endswith("worker_main.py"):
            # <state>/functions/<function name>/<code hash>
            code = Path(cmdline[index + 1])
            return f"worker {code.parent.name if code.parent.name else code.name}"
    if "-m" in cmdline[:-1]:
        return cmdline[cmdline.index("-m") + 1]
    return Path(cmdline[0]).name if cmdline else "?"


def _rss_kib(status: str) -> int:
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0  # a zombie has no memory left


def sample_group(pgid: int, proc: Path = PROC) -> list[ProcessSample]:
    """Every live process of the process group, as it is now; one that ends while it is
    read is left out."""
    samples = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if _group_of((entry / "stat").read_text()) != pgid:
                continue
            raw = (entry / "cmdline").read_bytes()
            cmdline = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
            rss = _rss_kib((entry / "status").read_text())
            fds = len(os.listdir(entry / "fd"))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        samples.append(ProcessSample(int(entry.name), name_of(cmdline), rss, fds))
    return sorted(samples, key=lambda s: s.pid)


def moto_rss_kib(pgid: int, proc: Path = PROC) -> int:
    """The moto server's resident memory, 0 when it is not found."""
    return sum(s.rss_kib for s in sample_group(pgid, proc) if "moto_server" in s.name)

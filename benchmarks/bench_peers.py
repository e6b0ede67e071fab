"""Benchmark: `tlsverify verify-all` against its peers, each run as a user types it, on N local TLS servers.

Four tools run as subprocesses on the same endpoints, interleaved round by round (A, B, C, D; A, B, C, D; ...)
so that drift on a shared machine hits them alike:

    tlsverify   tlsverify verify-all --endpoints E --policy policy.yaml --out-dir DIR --db DIR/x.sqlite  (defaults)
    sslyze12    python -m sslyze --tlsv1_2 --json_out=F HOST:PORT ...
    sslyze-all  python -m sslyze --sslv2 --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --json_out=F HOST:PORT ...
    nmap        nmap -Pn -n --script +ssl-enum-ciphers -p PORTS HOST -oX F

The servers (benchmarks/zoo.py: five OpenSSL configurations, plus gnutls-serv 3DES where it can run) live in
a process of their own, so the harness and the servers share no GIL; they count every TCP connection they
accept and when. For each size and tool it prints the median wall time, its ratio to tlsverify's, TCP
connections per endpoint (mean, and the highest), the most new connections any one server saw within one
second, the peak RSS of the tool's process (ru_maxrss from wait4), and on how many servers the tool's
accepted TLS 1.2 suites (IANA names) equal tlsverify's, with the first disagreement in detail.

    .venv/bin/python benchmarks/bench_peers.py                      # N = 10, 50, 200; 3 rounds
    .venv/bin/python benchmarks/bench_peers.py --large              # also N = 1000
    .venv/bin/python benchmarks/bench_peers.py --sizes 10,50 --rounds 1 --tools tlsverify,nmap
    .venv/bin/python benchmarks/bench_peers.py --wan [--rtt-ms 40]  # emulated WAN; N = 50 unless --sizes
    .venv/bin/python benchmarks/bench_peers.py --markdown           # also Markdown for docs/benchmarks.md
    .venv/bin/python benchmarks/bench_peers.py --tools tlsverify --variant c16='--concurrency 16'  # settings

--wan puts the servers in a network namespace this script creates, behind a veth pair with netem delaying
each direction by RTT/2; where that cannot be done (not root, no namespaces, a kernel without sch_netem) it
says why and uses benchmarks/delay_relay.py instead, a userspace relay on 127.0.0.1 that delays each chunk.
Traffic goes only to 127.0.0.1 or to that namespace. Exit code 1 from tlsverify (an endpoint fails the
policy) is normal here. Nothing is timed against a limit: the figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from zoo import raise_open_files_limit

from scanner import catalog

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
NMAP = shutil.which("nmap") or "/usr/bin/nmap"
TOOLS = ("tlsverify", "sslyze12", "sslyze-all", "nmap")
LABELS = {
    "tlsverify": "tlsverify verify-all",
    "sslyze12": "sslyze --tlsv1_2",
    "sslyze-all": "sslyze, all versions",
    "nmap": "nmap ssl-enum-ciphers",
}
VARIANTS: dict[str, list[str]] = {}
"""--variant LABEL=OPTIONS: more tlsverify runs, as `tlsverify:LABEL`, with those options added (for choosing
the defaults by measurement; the reference stays the run with no option)."""
DEFAULT_SIZES = (10, 50, 200)
WAN_SIZES = (50,)
LARGE = 1000


class BenchError(Exception):
    """A part of the lab (zoo, relay) could not start or answer."""


class WanUnavailable(Exception):
    """netem in a network namespace cannot be set up here; the message says what failed and why."""


# --- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the tools connect: one port per server, all on one address."""

    host: str
    ports: tuple[int, ...]
    ids: tuple[str, ...]
    kinds: tuple[str, ...]

    def id_of_port(self) -> dict[int, str]:
        return dict(zip(self.ports, self.ids, strict=True))


@dataclass(frozen=True)
class Run:
    """One run of one tool over every server."""

    tool: str
    wall_s: float
    exit_code: int
    rss_mb: float
    connections: tuple[int, ...]
    """TCP connections each server accepted during the run."""
    max_per_s: int
    """The most new connections any one server accepted within a sliding one-second window."""
    accepted: dict[str, frozenset[str]] = field(default_factory=dict)
    """Server id -> accepted TLS 1.2 suites (IANA names)."""
    notes: dict[str, str] = field(default_factory=dict)
    """Server id -> what the tool said about it (tlsverify's status and reason)."""
    error: str | None = None
    """Why the results could not be read (None when they were)."""
    lab_cpu_s: float = 0.0
    first_s: float | None = None
    """Seconds from the tool's start to the first connection a server accepted (its start-up)."""
    after_s: float | None = None
    """Seconds from the last connection a server accepted to the tool's exit (its reports, its exit)."""
    """CPU seconds the servers' process (and the delay relay's, if any) used during the run."""


def max_in_window(times: Sequence[float], window_s: float = 1.0) -> int:
    """The most events within any half-open window of `window_s` seconds."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def iana(name: str) -> str:
    """The catalog's canonical IANA name for a suite name (IANA or OpenSSL spelling), else the name as given."""
    suite = catalog.by_openssl_name(name)  # an OpenSSL name, else any name the catalog knows
    return suite.name if suite else name


# --- the tools ----------------------------------------------------------------------------------------------


def label(tool: str) -> str:
    """How a tool is named in the tables; a variant by its options."""
    base, _, variant = tool.partition(":")
    return f"{LABELS[base]} {shlex.join(VARIANTS[variant])}" if variant else LABELS[base]


def tool_unavailable(tool: str) -> str | None:
    """Why `tool` cannot run here, or None."""
    if tool.startswith("tlsverify") and not (BIN / "tlsverify").exists():
        return f"{BIN / 'tlsverify'} does not exist (pip install -e . in the venv that runs this script)"
    if tool.startswith("sslyze") and importlib.util.find_spec("sslyze") is None:
        return f"sslyze is not installed for {sys.executable}"
    if tool == "nmap" and not Path(NMAP).exists():
        return "nmap is not installed (apt-get install nmap)"
    return None


def endpoints_yaml(target: Target) -> str:
    lines = ["endpoints:"]
    for server_id, port in zip(target.ids, target.ports, strict=True):
        lines.append(
            f"  - {{id: {server_id}, name: {server_id}, category: bench, host: {target.host}, port: {port}, "
            "protocol: tls}"
        )
    return "\n".join(lines) + "\n"


def command(tool: str, target: Target, work: Path, endpoints: Path) -> list[str]:
    """The command line, as a user types it (absolute paths)."""
    addresses = [f"{target.host}:{port}" for port in target.ports]
    if tool.startswith("tlsverify"):
        out = work / "out"
        extra = VARIANTS.get(tool.partition(":")[2], [])
        return [
            str(BIN / "tlsverify"),
            "verify-all",
            "--endpoints",
            str(endpoints),
            "--policy",
            str(ROOT / "policy.yaml"),
            "--out-dir",
            str(out),
            "--db",
            str(out / "x.sqlite"),
            *extra,
        ]
    if tool == "sslyze12":
        return [str(BIN / "python"), "-m", "sslyze", "--tlsv1_2", f"--json_out={work / 'sslyze.json'}", *addresses]
    if tool == "sslyze-all":
        versions = ["--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3"]
        return [str(BIN / "python"), "-m", "sslyze", *versions, f"--json_out={work / 'sslyze.json'}", *addresses]
    if tool == "nmap":
        ports = ",".join(str(p) for p in target.ports)
        return [
            NMAP,
            "-Pn",
            "-n",
            "--script",
            "+ssl-enum-ciphers",
            "-p",
            ports,
            target.host,
            "-oX",
            str(work / "nmap.xml"),
        ]
    raise ValueError(f"unknown tool {tool!r}")


Parsed = tuple[dict[str, frozenset[str]], dict[str, str]]


def parse_tlsverify(target: Target, work: Path) -> Parsed:
    reports = sorted((work / "out").rglob("verify-all.json"))
    if not reports:
        raise BenchError("it wrote no verify-all.json")
    document = json.loads(reports[0].read_text())
    accepted: dict[str, frozenset[str]] = {}
    notes: dict[str, str] = {}
    for item in document["endpoints"]:
        accepted[item["id"]] = frozenset(iana(n) for n in item.get("accepted_tls12") or [])
        reason = item.get("reason")
        notes[item["id"]] = f"status {item.get('status')}" + (f" ({reason})" if reason else "")
    return accepted, notes


def parse_sslyze(target: Target, work: Path) -> Parsed:
    path = work / "sslyze.json"
    if not path.exists():
        raise BenchError("it wrote no JSON file")
    document = json.loads(path.read_text())
    by_port = target.id_of_port()
    accepted: dict[str, frozenset[str]] = {}
    notes: dict[str, str] = {}
    for result in document.get("server_scan_results") or []:
        server_id = by_port.get(int(result["server_location"]["port"]))
        if server_id is None:
            continue
        names: list[str] = []
        scan = result.get("scan_result") or {}
        attempt = scan.get("tls_1_2_cipher_suites") or {}
        outcome = attempt.get("result") or {}
        for suite in outcome.get("accepted_cipher_suites") or []:
            names.append(suite["cipher_suite"]["name"])
        accepted[server_id] = frozenset(iana(n) for n in names)
        status = [f"connectivity {result.get('connectivity_status')}"]
        if result.get("connectivity_error_trace"):
            status.append(str(result["connectivity_error_trace"]).strip().splitlines()[-1][:200])
        if attempt and attempt.get("status") != "COMPLETED":
            status.append(f"tls_1_2_cipher_suites {attempt.get('status')}: {attempt.get('error_reason')}")
        notes[server_id] = "; ".join(status)
    return accepted, notes


def parse_nmap(target: Target, work: Path) -> Parsed:
    path = work / "nmap.xml"
    if not path.exists():
        raise BenchError("it wrote no XML file")
    by_port = target.id_of_port()
    accepted: dict[str, frozenset[str]] = {sid: frozenset() for sid in target.ids}
    notes: dict[str, str] = {}
    for port in ET.parse(path).getroot().iter("port"):
        server_id = by_port.get(int(port.get("portid", "0")))
        if server_id is None:
            continue
        state = port.find("state")
        notes[server_id] = f"port {state.get('state') if state is not None else '?'}"
        names: set[str] = set()
        for script in port.iter("script"):
            if script.get("id") != "ssl-enum-ciphers":
                continue
            for version in script.findall("table"):
                if version.get("key") != "TLSv1.2":
                    continue
                for ciphers in version.findall("table"):
                    if ciphers.get("key") != "ciphers":
                        continue
                    for cipher in ciphers.findall("table"):
                        for elem in cipher.findall("elem"):
                            if elem.get("key") == "name" and elem.text:
                                names.add(iana(elem.text.strip()))
        accepted[server_id] = frozenset(names)
    return accepted, notes


PARSERS: dict[str, Callable[[Target, Path], Parsed]] = {
    "tlsverify": parse_tlsverify,
    "sslyze12": parse_sslyze,
    "sslyze-all": parse_sslyze,
    "nmap": parse_nmap,
}


# --- child processes ----------------------------------------------------------------------------------------

_LIVE: set[int] = set()
"""Process groups of running tools (each started in a session of its own), killed at exit."""


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_child(argv: list[str], cwd: Path, log: Path, timeout_s: float) -> tuple[float, int, float, bool]:
    """Run argv to its end: wall seconds, exit code, peak RSS in MB of that process (its reaped children
    included, as wait4 reports), and whether it was killed for running past timeout_s."""
    timed_out = threading.Event()

    def on_timeout(pid: int) -> None:
        timed_out.set()
        kill_group(pid)

    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        _LIVE.add(proc.pid)
        timer = threading.Timer(timeout_s, on_timeout, (proc.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
        finally:
            timer.cancel()
            _LIVE.discard(proc.pid)
            if proc.returncode is None and proc.poll() is None:
                kill_group(proc.pid)
                proc.wait()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, proc.returncode, usage.ru_maxrss / 1024, timed_out.is_set()


class LineProcess:
    """A helper process (zoo or relay) that answers JSON lines."""

    live: ClassVar[set[LineProcess]] = set()
    """The running helpers, for the exit path."""

    def __init__(self, argv: list[str], log: Path, what: str) -> None:
        self.what = what
        self.log = log
        self._stderr = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,
        )
        LineProcess.live.add(self)

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            raise BenchError(f"the {self.what} exited ({self.proc.returncode}): {tail(self.log)}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise BenchError(f"the {self.what}: {answer['error']}")
        return answer

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self._terminate(30)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()
        LineProcess.live.discard(self)

    def stop_now(self) -> None:
        """On the way out after an interruption: SIGTERM (the zoo then stops its gnutls-serv processes, which
        run in sessions of their own), SIGKILL to the group if that takes too long."""
        if self.proc.poll() is None:
            self._terminate(60)
        LineProcess.live.discard(self)

    def _terminate(self, grace_s: float) -> None:
        """SIGTERM; SIGKILL to the whole process group if it has not ended within `grace_s`."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            kill_group(self.proc.pid)
            self.proc.wait()


def tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return " | ".join(text[-lines:]) or "(no output)"


def run_quietly(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


# --- WAN emulation ------------------------------------------------------------------------------------------


class Namespace:
    """A network namespace with a veth pair to it and netem on both ends; `close` removes both."""

    def __init__(self, rtt_ms: float) -> None:
        pid = os.getpid()
        self.name = f"tlsverify-bench-{pid}"
        self.host_if = f"tvb{pid % 1_000_000}h"
        self.ns_if = f"tvb{pid % 1_000_000}n"
        self.made_ns = False
        self.made_link = False
        self.host_ip = self.ns_ip = ""
        try:
            self._make(rtt_ms)
        except BaseException:
            self.close()
            raise

    def _run(self, *argv: str) -> None:
        done = run_quietly(list(argv))
        if done.returncode != 0:
            said = " ".join((done.stderr or done.stdout).split())
            if "qdisc kind is unknown" in said:
                said += " (this kernel has no sch_netem)"
            raise WanUnavailable(f"`{' '.join(argv)}` failed: {said}")

    def _make(self, rtt_ms: float) -> None:
        if os.geteuid() != 0:
            raise WanUnavailable("not root: creating a network namespace and a veth pair needs CAP_NET_ADMIN")
        for tool in ("ip", "tc"):
            if shutil.which(tool) is None:
                raise WanUnavailable(f"{tool} is not installed (apt-get install iproute2)")
        subnet = _free_subnet()
        self.host_ip, self.ns_ip = f"{subnet}.1", f"{subnet}.2"  # a /30: .0 network, .1 and .2 hosts
        self._run("ip", "netns", "add", self.name)
        self.made_ns = True
        self._run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if, "netns", self.name)
        self.made_link = True
        self._run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        self._run("ip", "link", "set", self.host_if, "up")
        self._run("ip", "-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        self._run("ip", "-n", self.name, "link", "set", self.ns_if, "up")
        self._run("ip", "-n", self.name, "link", "set", "lo", "up")
        if rtt_ms > 0:
            # limit: netem's default queue of 1000 packets would drop packets at a few thousand handshakes/s
            delay = ["root", "netem", "delay", f"{rtt_ms / 2:g}ms", "limit", "100000"]
            self._run("tc", "qdisc", "add", "dev", self.host_if, *delay)
            self._run("ip", "netns", "exec", self.name, "tc", "qdisc", "add", "dev", self.ns_if, *delay)

    def close(self) -> None:
        if self.made_link:
            run_quietly(["ip", "link", "del", self.host_if])
            self.made_link = False
        if self.made_ns:
            run_quietly(["ip", "netns", "del", self.name])
            self.made_ns = False


def _free_subnet() -> str:
    """The first three octets of a 10.213.x.0/30 that no interface or route of this machine uses."""
    seen = run_quietly(["ip", "-4", "addr"]).stdout + run_quietly(["ip", "-4", "route"]).stdout
    for third in range(256):
        prefix = f"10.213.{third}"
        if f"{prefix}." not in seen:
            return prefix
    raise WanUnavailable("every 10.213.x.0/30 is in use on this machine")


@dataclass
class Wan:
    """How the WAN is emulated for this invocation."""

    rtt_ms: float
    namespace: Namespace | None
    description: str


def setup_wan(rtt_ms: float) -> Wan:
    try:
        namespace = Namespace(rtt_ms)
    except WanUnavailable as exc:
        progress(f"WAN: netem in a network namespace is not available: {exc}; using the userspace relay")
        return Wan(rtt_ms, None, f"userspace relay (benchmarks/delay_relay.py), because {exc}")
    how = "netem in a namespace" if rtt_ms > 0 else "a namespace without netem (RTT 0)"
    return Wan(rtt_ms, namespace, f"{how} ({namespace.name}, veth {namespace.host_ip}/30)")


# --- one size -----------------------------------------------------------------------------------------------


@dataclass
class Servers:
    """The zoo process (and the relay in front of it, if any) for one size."""

    zoo: LineProcess
    relay: LineProcess | None
    target: Target
    gnutls_unavailable: str | None

    def cpu_s(self) -> float:
        """CPU seconds used so far by the zoo and relay processes (all their threads)."""
        return sum(cpu_seconds(p.proc.pid) for p in (self.zoo, self.relay) if p is not None)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process, from /proc (0 where it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def start_servers(count: int, wan: Wan | None, work: Path) -> Iterator[Servers]:
    host = "127.0.0.1"
    zoo_argv = [sys.executable, str(HERE / "zoo.py"), "--count", str(count)]
    if wan is not None and wan.namespace is not None:
        host = wan.namespace.ns_ip
        zoo_argv = ["ip", "netns", "exec", wan.namespace.name, *zoo_argv, "--host", host]
    zoo = LineProcess(zoo_argv, work / "zoo.log", "zoo")
    relay: LineProcess | None = None
    try:
        ready = zoo.read()
        ports: list[int] = ready["ports"]
        if wan is not None and wan.namespace is None:
            relay_argv = [
                sys.executable,
                str(HERE / "delay_relay.py"),
                "--rtt-ms",
                f"{wan.rtt_ms:g}",
                "--target-host",
                host,
                "--ports",
                ",".join(str(p) for p in ports),
            ]
            relay = LineProcess(relay_argv, work / "relay.log", "delay relay")
            ports = relay.read()["ports"]
        target = Target(host, tuple(ports), tuple(f"s{i}" for i in range(count)), tuple(ready["kinds"]))
        yield Servers(zoo, relay, target, ready["gnutls_unavailable"])
    finally:
        if relay is not None:
            relay.close()
        zoo.close()


def run_tool(tool: str, lab: Servers, endpoints: Path, work: Path, timeout_s: float) -> Run:
    work.mkdir(parents=True)
    (work / "out").mkdir()
    lab.zoo.ask("reset")
    argv = command(tool, lab.target, work, endpoints)
    cpu_before = lab.cpu_s()
    began = time.monotonic()  # CLOCK_MONOTONIC is one clock for every process: the servers' accept times
    wall, code, rss, timed_out = run_child(argv, work, work / "output.log", timeout_s)
    ended = time.monotonic()
    lab_cpu = lab.cpu_s() - cpu_before
    counts = lab.zoo.ask("counts")
    connections = tuple(int(c) for c in counts["connections"])
    per_s = max((max_in_window(times) for times in counts["accepts"]), default=0)
    error: str | None = None
    accepted: dict[str, frozenset[str]] = {}
    notes: dict[str, str] = {}
    if timed_out:
        error = f"killed after {timeout_s:g} s (--tool-timeout)"
    else:
        try:
            accepted, notes = PARSERS[tool.partition(":")[0]](lab.target, work)
        except (BenchError, OSError, ValueError, KeyError, ET.ParseError) as exc:
            error = f"results unreadable: {exc} (exit {code}; its output ends: {tail(work / 'output.log')})"
    if error is None and not tool.startswith("tlsverify") and code != 0:
        error = f"exit {code}: {tail(work / 'output.log', 3)}"
    if error is None and tool.startswith("tlsverify") and code not in (0, 1):
        error = f"exit {code}: {tail(work / 'output.log', 3)}"
    accepts = [t for times in counts["accepts"] for t in times]
    first = min(accepts) - began if accepts else None
    after = ended - max(accepts) if accepts else None
    return Run(tool, wall, code, rss, connections, per_s, accepted, notes, error, lab_cpu, first, after)


# --- summary ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    tool: str
    wall_s: float
    ratio: float | None
    conns_mean: float
    conns_max: int
    max_per_s: int
    rss_mb: float
    agree: str
    exits: str
    rounds: int
    first_s: float | None = None
    after_s: float | None = None


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def summarise(n: int, runs: dict[str, list[Run]], target: Target) -> tuple[list[Row], list[str]]:
    """Table rows for one size, and the notes that go under it (errors, first disagreements)."""
    notes: list[str] = []
    reference = runs.get("tlsverify", [])
    base_wall = statistics.median(r.wall_s for r in reference) if reference else None
    ref_last = reference[-1] if reference else None
    rows: list[Row] = []
    for tool, samples in runs.items():
        if not samples:
            continue
        wall = statistics.median(r.wall_s for r in samples)
        for i, r in enumerate(samples, 1):
            if r.error:
                notes.append(f"N={n} {tool} round {i}: {r.error}")
        last = samples[-1]
        agree = "n/a"
        if tool == "tlsverify":
            agree = "reference" if last.error is None else "n/a"
        elif ref_last is not None and ref_last.error is None and last.error is None:
            same = [sid for sid in target.ids if last.accepted.get(sid) == ref_last.accepted.get(sid)]
            agree = f"{len(same)}/{len(target.ids)}"
            if len(same) < len(target.ids):
                notes.append(f"N={n} {disagreement(tool, last, ref_last, target, set(same))}")
        answers = {frozenset(r.accepted.items()) for r in samples if r.error is None}
        if len(answers) > 1:
            notes.append(f"N={n} {tool}: its accepted suites differed between rounds")
        rows.append(
            Row(
                tool=tool,
                wall_s=wall,
                ratio=wall / base_wall if base_wall else None,
                conns_mean=statistics.median(statistics.fmean(r.connections) for r in samples),
                conns_max=max(max(r.connections, default=0) for r in samples),
                max_per_s=max(r.max_per_s for r in samples),
                rss_mb=statistics.median(r.rss_mb for r in samples),
                agree=agree,
                exits=",".join(sorted({str(r.exit_code) for r in samples})),
                rounds=len(samples),
                first_s=_median([r.first_s for r in samples]),
                after_s=_median([r.after_s for r in samples]),
            )
        )
    return rows, notes


def disagreement(tool: str, run: Run, reference: Run, target: Target, same: set[str]) -> str:
    """Where `run` differs from tlsverify's: how many servers, of which kinds, and the first one in detail."""
    differing = [sid for sid in target.ids if sid not in same]
    kinds = Counter(target.kinds[target.ids.index(sid)] for sid in differing)
    first = differing[0]
    index = target.ids.index(first)
    mine, theirs = run.accepted.get(first), reference.accepted.get(first)
    if mine is None or theirs is None:
        detail = f"{tool if mine is None else 'tlsverify'} reported nothing for it"
    else:
        detail = (
            f"only {tool}: {sorted(mine - theirs) or 'none'}; "
            f"only tlsverify: {sorted(theirs - mine) or 'none'} ({len(mine)} vs {len(theirs)} suites)"
        )
    said = f"{tool}: {run.notes.get(first, '-')}; tlsverify: {reference.notes.get(first, '-')}"
    return (
        f"{tool} differs from tlsverify on {len(differing)} servers "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))}); first: {first} ({target.kinds[index]}, "
        f"{target.host}:{target.ports[index]}): {detail} [{said}]"
    )


HEADINGS = (
    "tool",
    "wall s",
    "to 1st conn s",
    "after last s",
    "x tlsverify",
    "conns/endpoint mean",
    "max",
    "max new conns/s per server",
    "peak RSS MB",
    "TLS 1.2 sets = tlsverify",
    "exit",
)


def cells(row: Row) -> tuple[str, ...]:
    return (
        label(row.tool),
        f"{row.wall_s:.2f}",
        f"{row.first_s:.2f}" if row.first_s is not None else "n/a",
        f"{row.after_s:.2f}" if row.after_s is not None else "n/a",
        f"{row.ratio:.2f}" if row.ratio is not None else "n/a",
        f"{row.conns_mean:.1f}",
        str(row.conns_max),
        str(row.max_per_s),
        f"{row.rss_mb:.0f}",
        row.agree,
        row.exits,
    )


def plain_table(rows: list[Row]) -> str:
    table = [HEADINGS, *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADINGS))]
    out = []
    for line in table:
        out.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        )
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    out = ["| " + " | ".join(HEADINGS) + " |", "|" + "|".join(["---"] + ["---:"] * (len(HEADINGS) - 1)) + "|"]
    out += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(out)


# --- the machine --------------------------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    nmap = "not installed"
    if Path(NMAP).exists():
        first = run_quietly([NMAP, "--version"]).stdout.strip().splitlines()
        match = re.search(r"version (\S+)", first[0]) if first else None
        nmap = match.group(1) if match else "?"
    try:
        sslyze = importlib.metadata.version("sslyze")
    except importlib.metadata.PackageNotFoundError:
        sslyze = "not installed"
    try:
        tlsverify = importlib.metadata.version("tlsverify")
    except importlib.metadata.PackageNotFoundError:
        tlsverify = "?"
    commit = run_quietly(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).stdout.strip()
    if commit:
        dirty = run_quietly(["git", "-C", str(ROOT), "status", "--porcelain", "--", "scanner"]).stdout.strip()
        tlsverify += f" (commit {commit}{', with uncommitted changes under scanner/' if dirty else ''})"
    return [
        f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {cpu}, {os.cpu_count()} cores, {ram} RAM, Linux {platform.release()}",
        f"Python {platform.python_version()}; servers' {ssl.OPENSSL_VERSION}",
        f"tlsverify {tlsverify}; sslyze {sslyze}; nmap {nmap}",
    ]


# --- main ---------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="tlsverify verify-all against sslyze and nmap on N local TLS servers (see the module docstring)."
    )
    parser.add_argument("--sizes", default=None, help="comma-separated server counts (default: 10,50,200; --wan: 50)")
    parser.add_argument("--large", action="store_true", help=f"also N={LARGE}")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are printed (default: 3)")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    parser.add_argument("--wan", action="store_true", help="emulate a WAN (netem in a namespace, else a relay)")
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="--wan round trip time in ms (default: 40)")
    parser.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    parser.add_argument(
        "--tool-timeout", type=float, default=7200.0, help="kill a tool run after this many seconds (default: 7200)"
    )
    parser.add_argument("--keep-files", action="store_true", help="keep the temporary folder (tool outputs, logs)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=OPTIONS",
        help="also run tlsverify with these options, e.g. c16='--concurrency 16' (repeatable)",
    )
    args = parser.parse_args(argv)
    for variant in args.variant:
        label, equals, options = variant.partition("=")
        if not equals or not label.strip():
            parser.error(f"--variant: expected LABEL=OPTIONS, got {variant!r}")
        VARIANTS[label.strip()] = shlex.split(options)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown or not tools:
        parser.error(f"--tools: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(TOOLS)}")
    args.tools = tools + [f"tlsverify:{label}" for label in VARIANTS]
    if args.sizes:
        try:
            sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        except ValueError:
            parser.error(f"--sizes: expected numbers separated by commas, got {args.sizes!r}")
        if not sizes or any(s < 1 for s in sizes):
            parser.error("--sizes: each size must be at least 1")
    else:
        sizes = list(WAN_SIZES if args.wan else DEFAULT_SIZES)
    if args.large and LARGE not in sizes:
        sizes.append(LARGE)
    args.sizes = sizes
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.rtt_ms < 0:
        parser.error("--rtt-ms must be 0 or more")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # also where SIGINT came in ignored (started with &)
    files = raise_open_files_limit()
    tools: list[str] = []
    skipped: list[str] = []
    for tool in args.tools:
        reason = tool_unavailable(tool)
        if reason:
            skipped.append(f"{label(tool)} skipped: {reason}")  # said in the header
        else:
            tools.append(tool)
    if not tools:
        print("no tool to run", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="tlsverify-bench-"))
    wan: Wan | None = None
    header: list[str] = []
    tables: list[tuple[str, list[Row], list[str]]] = []
    try:
        if args.wan:
            wan = setup_wan(args.rtt_ms)
        network = (
            f"emulated WAN, RTT {args.rtt_ms:g} ms: {wan.description}"
            if wan is not None
            else "loopback, no added delay"
        )
        header = [
            "bench_peers: tlsverify verify-all (default options) against sslyze and nmap, each a subprocess as "
            f"typed; {args.rounds} interleaved round{'s' if args.rounds != 1 else ''}, medians",
            *machine(),
            f"network: {network}",
            f"open files limit: {files}",
            *skipped,
        ]
        print("\n".join(header), flush=True)
        for n in args.sizes:
            size_dir = work / f"n{n}"
            size_dir.mkdir()
            progress(f"N={n}: starting {n} servers")
            started = time.perf_counter()
            with start_servers(n, wan, size_dir) as lab:
                progress(f"N={n}: servers up in {time.perf_counter() - started:.1f} s")
                endpoints = size_dir / "endpoints.yaml"
                endpoints.write_text(endpoints_yaml(lab.target))
                runs: dict[str, list[Run]] = {tool: [] for tool in tools}
                for round_no in range(1, args.rounds + 1):
                    for tool in tools:  # interleaved: A, B, C, D each round
                        run = run_tool(tool, lab, endpoints, size_dir / f"r{round_no}-{tool}", args.tool_timeout)
                        runs[tool].append(run)
                        progress(
                            f"N={n} round {round_no}/{args.rounds} {label(tool)}: {run.wall_s:.2f} s, exit "
                            f"{run.exit_code}, {sum(run.connections)} connections, servers"
                            f"{' and relay' if lab.relay else ''} used {run.lab_cpu_s:.1f} CPU s"
                            + (f", first connection after {run.first_s:.2f} s" if run.first_s is not None else "")
                            + (f", ERROR {run.error}" if run.error else "")
                        )
                rows, notes = summarise(n, runs, lab.target)
                configs = Counter(lab.target.kinds)
                gnutls = f"; no gnutls-serv 3DES server: {lab.gnutls_unavailable}" if lab.gnutls_unavailable else ""
                title = f"N={n} servers ({', '.join(f'{k} x{v}' for k, v in configs.items())}{gnutls})"
            tables.append((title, rows, notes))
            print(f"\n{title}\n{plain_table(rows)}", flush=True)
            for note in notes:
                print(f"  {note}", flush=True)
        print(
            "\nwall s, to 1st conn s (start-up), after last s (reports and exit), conns/endpoint mean and peak RSS: "
            "medians of the rounds; conns/endpoint max and max new conns/s per server: highest in any round; suite "
            "agreement: last round; connections and their times counted by the servers",
            flush=True,
        )
        if args.markdown:
            print("\n--- Markdown ---\n")
            print("\n".join(f"- {line}" for line in header[1:]) + "\n")
            for title, rows, notes in tables:
                print(f"**{title}**\n\n{markdown_table(rows)}\n")
                for note in notes:
                    print(f"- {note}")
                if notes:
                    print()
            print(
                "wall s, to 1st conn s (start-up), after last s (reports and exit), conns/endpoint mean and peak RSS: "
                "medians of the rounds; max columns: highest in any round; suite agreement: last round; connections "
                "and their times counted by the servers.",
            )
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the tools and servers", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench_peers: {exc}", file=sys.stderr)
        return 2
    finally:
        for pid in list(_LIVE):
            kill_group(pid)
        for helper in list(LineProcess.live):
            helper.stop_now()
        if wan is not None and wan.namespace is not None:
            wan.namespace.close()
        if args.keep_files:
            print(f"files kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

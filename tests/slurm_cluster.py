"""A real single-node SLURM cluster on localhost, in a temporary folder, for the launcher tests.

    with SlurmCluster(tmp_path) as cluster:
        subprocess.run(["sbatch", ...], env=cluster.env)

Daemons, all in the foreground as children of this process, on free localhost ports:
munged (own key and socket), MariaDB (own datadir, 127.0.0.1 only), slurmdbd (accounting, so
`sacct` works: submitit needs it to see a task that died without writing its result),
slurmctld and `slurmd -N localhost`. Nothing outside the folder is read or written: the system's
munge and slurm configs are left alone. Clients find the cluster through `SLURM_CONF` in
`cluster.env`. Needs root (slurmd runs jobs as their user, and slurmctld runs as SlurmUser=root)
and the Debian packages in INSTALL; `missing_requirements()` says what is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

INSTALL = ("apt-get install -y --no-install-recommends "
           "slurmctld slurmd slurm-client slurmdbd munge mariadb-server")
BINARIES = ("munged", "mungekey", "munge", "unmunge", "mariadb-install-db", "my_print_defaults",
            "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct", "sinfo", "scontrol",
            "squeue", "scancel")
CLUSTER_NAME = "lingotest"


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def missing_requirements() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if os.name != "posix" or os.geteuid() != 0:
        return "a local SLURM cluster needs root (slurmd runs the jobs)"
    missing = [b for b in BINARIES if _which(b) is None]
    if missing:
        return f"SLURM/munge/MariaDB binaries missing ({', '.join(missing)}): {INSTALL}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line() -> str:
    """The node as `slurmd -C` sees it (CPUs, and RealMemory a little below its figure): a node
    configured with more than slurmd finds registers as invalid and is drained."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True).stdout
    found = dict(f.split("=", 1) for f in out.split() if "=" in f)
    cpus = found.get("CPUs", str(os.cpu_count() or 1))
    memory = int(int(found.get("RealMemory", "2048")) * 0.9)
    return f"NodeName=localhost CPUs={cpus} RealMemory={memory} State=UNKNOWN"


class SlurmCluster:
    def __init__(self, root: Path, start_timeout_s: float = 60.0):
        self.root = Path(root)
        self.start_timeout_s = start_timeout_s
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: list = []
        for sub in ("etc", "munge", "db", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.conf = self.root / "etc" / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.ports = {k: _free_port() for k in ("ctld", "slurmd", "dbd", "mysql")}
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        for var in [k for k in self.env if k.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
            if var != "SLURM_CONF":  # a test run inside a SLURM job must not leak its job's vars
                del self.env[var]

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> SlurmCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._write_configs()
        self._start_munge()
        self._start_mariadb()
        self._spawn("slurmdbd", [_which("slurmdbd"), "-D"])
        self._wait("slurmdbd", lambda: self._port_open(self.ports["dbd"]))
        self._spawn("slurmctld", [_which("slurmctld"), "-D"])
        self._wait("slurmctld", lambda: "UP" in self.run("scontrol", "ping", check=False).stdout)
        self._spawn("slurmd", [_which("slurmd"), "-D", "-N", "localhost"])
        self._wait("slurmd", lambda: self.run("sinfo", "-h", "-o", "%T", check=False)
                   .stdout.strip() == "idle")
        # the cluster is registered in the accounting database once sacct answers
        self._wait("sacct", lambda: self.run("sacct", "-n", "-a", check=False).returncode == 0)

    def stop(self) -> None:
        """Cancel the jobs, then stop the daemons by PID (newest first) and reap them; then end
        any process still running with this cluster's SLURM_CONF (a job's step, slurmstepd)."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self.run("scancel", "--user=root", check=False, timeout=20)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.run(
                    "squeue", "-h", "-o", "%i", check=False).stdout.strip():
                time.sleep(0.5)
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self.procs.clear()
        self._end_leftovers()
        for log in self._logs:
            log.close()
        self._logs.clear()

    # --- helpers for tests -----------------------------------------------------------------
    def run(self, *cmd: str, check: bool = True,
            timeout: float = 30) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        return subprocess.run([_which(cmd[0]) or cmd[0], *cmd[1:]], env=self.env, check=check,
                              capture_output=True, text=True, timeout=timeout)

    def log_tail(self, n: int = 30) -> str:
        """The end of every daemon log, for assertion messages."""
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            lines = path.read_text(errors="replace").splitlines()[-n:]
            parts.append(f"== {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    # --- internals -------------------------------------------------------------------------
    def _write_configs(self) -> None:
        r, p = self.root, self.ports
        munge = f"AuthType=auth/munge\nSlurmUser=root\nAuthInfo=socket={self.munge_socket}"
        self.conf.write_text(
            # cred_expire is also how long a requeued job waits before it may start (120 s)
            f"ClusterName={CLUSTER_NAME}\nSlurmctldHost=localhost\n{munge},cred_expire=10\n"
            f"SlurmdUser=root\nSlurmctldPort={p['ctld']}\nSlurmdPort={p['slurmd']}\n"
            "CredType=cred/munge\nMpiDefault=none\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\n"
            "DefMemPerCPU=1000\nMinJobAge=3600\nReturnToService=2\n"
            "SchedulerParameters=sched_interval=2\n"
            f"StateSaveLocation={r}/state\nSlurmdSpoolDir={r}/spool\n"
            f"SlurmctldPidFile={r}/state/slurmctld.pid\nSlurmdPidFile={r}/state/slurmd.pid\n"
            f"SlurmctldLogFile={r}/log/slurmctld.log\nSlurmdLogFile={r}/log/slurmd.log\n"
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost=localhost\nAccountingStoragePort={p['dbd']}\n"
            # with auth/munge, AccountingStoragePass is the munge socket for slurmdbd connections
            f"AccountingStoragePass={self.munge_socket}\n"
            "JobAcctGatherType=jobacct_gather/linux\nJobCompType=jobcomp/none\n"
            f"{_node_line()}\n"
            "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n"
        )
        dbd = self.root / "etc" / "slurmdbd.conf"  # found beside SLURM_CONF; must be 0600
        dbd.write_text(
            f"{munge}\nDbdHost=localhost\nDbdPort={p['dbd']}\n"
            f"PidFile={r}/state/slurmdbd.pid\nLogFile={r}/log/slurmdbd.log\n"
            "StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\n"
            f"StoragePort={p['mysql']}\nStorageUser=root\nStorageLoc=slurm_acct_db\n"
        )
        dbd.chmod(0o600)

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"], check=True,
                       capture_output=True)
        m = self.root / "munge"
        self._spawn("munged", [_which("munged"), "--foreground", "--force",
                               f"--socket={self.munge_socket}", f"--key-file={key}",
                               f"--pid-file={m}/munged.pid", f"--log-file={m}/munged.log",
                               f"--seed-file={m}/munged.seed"])

        def works() -> bool:
            cred = subprocess.run([_which("munge"), "-n", "-S", str(self.munge_socket)],
                                  capture_output=True)
            return cred.returncode == 0 and subprocess.run(
                [_which("unmunge"), "-S", str(self.munge_socket)], input=cred.stdout,
                capture_output=True).returncode == 0

        self._wait("munged", works)

    def _start_mariadb(self) -> None:
        db = self.root / "db"
        subprocess.run([_which("mariadb-install-db"), "--no-defaults", f"--datadir={db}/data",
                        "--user=root", "--auth-root-authentication-method=normal",
                        "--skip-test-db"], check=True, capture_output=True, cwd=db)
        self._spawn("mariadbd", [_which("mariadbd"), "--no-defaults", f"--datadir={db}/data",
                                 "--user=root", "--bind-address=127.0.0.1",
                                 f"--port={self.ports['mysql']}", f"--socket={db}/mysql.sock",
                                 f"--pid-file={db}/mysqld.pid", f"--log-error={db}/error.log",
                                 "--skip-log-bin", "--innodb-buffer-pool-size=64M"])
        self._wait("mariadbd", lambda: self._port_open(self.ports["mysql"]))

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(cmd, env=self.env, cwd=self.root, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _wait(self, name: str, ready) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            for daemon, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{daemon} exited ({proc.returncode}) while starting "
                                       f"{name}:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{name} not ready after {self.start_timeout_s:.0f} s:\n"
                           f"{self.log_tail()}")

    @staticmethod
    def _port_open(port: int) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    def _cluster_pids(self) -> list[int]:
        """Processes other than this one whose environment holds this cluster's SLURM_CONF."""
        marker = f"SLURM_CONF={self.conf}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def _end_leftovers(self, grace_s: float = 10.0) -> None:
        deadline = time.monotonic() + grace_s
        while (pids := self._cluster_pids()) and time.monotonic() < deadline:
            time.sleep(0.3)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

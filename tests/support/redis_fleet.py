"""Real Redis fleets for the tests: a Cluster (3 masters, 1 replica each) and a Sentinel
setup (1 master, 1 replica, 3 sentinels), on free loopback ports in a temporary directory.

Both are built from Debian's ``redis-server`` (cluster nodes with ``--cluster-enabled yes``
joined by ``redis-cli --cluster create``; sentinels with ``redis-server <conf> --sentinel``).
Both use passwords, so the store's URL forms are tested with real AUTH. A fleet that cannot
start raises :class:`~support.redis_server.RedisStartError` with the logs: the tests fail
and say so, they are never skipped.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from support.redis_server import RedisServer, RedisStartError, _free_port, _ping, find_redis_server

__all__ = [
    "CLUSTER_PASSWORD",
    "MASTER_PASSWORD",
    "SENTINEL_PASSWORD",
    "SERVICE",
    "ClusterFleet",
    "SentinelFleet",
    "start_cluster",
    "start_sentinel",
]

HOST = "127.0.0.1"
CLUSTER_PASSWORD = "cluster-pass/1"  # a '/' shows that URL credentials are decoded
MASTER_PASSWORD = "master-pass/2"
SENTINEL_PASSWORD = "sentinel-pass/3"
SERVICE = "logto"
READY_TIMEOUT = 30.0
# Fast, diskless replication: a replica (or a demoted master) syncs at once, not after 5 s;
# and a master pings its replicas every second, so their offsets move (CLUSTER SLOTS lists
# a replica only once its offset is not 0) without waiting 10 s for the first ping.
_REPLICATION = [
    "--repl-diskless-sync", "yes",
    "--repl-diskless-sync-delay", "0",
    "--repl-ping-replica-period", "1",
    "--appendonly", "no",
]  # fmt: skip


def _quote(password: str) -> str:
    return password.replace("/", "%2F")


def _wait_for(what: str, check: Callable[[], bool], logs: Callable[[], str], timeout: float) -> None:
    """Poll ``check`` until it is true; raise RedisStartError with the logs on time-out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RedisStartError(f"{what}: not ready after {timeout:.0f}s\n{logs()}")
        time.sleep(0.05)


def _admin(port: int, password: str | None) -> redis.Redis:
    return redis.Redis(host=HOST, port=port, password=password, socket_timeout=2.0, decode_responses=True)


def _replica_acknowledges(port: int, password: str) -> bool:
    """A write on this master is confirmed by a replica (a replica that has just synced
    acknowledges nothing until its first REPLCONF ACK, up to a second later)."""
    with _admin(port, password) as client, client.pipeline(transaction=False) as pipe:
        pipe.set("fleet:ready", 1)
        pipe.wait(1, 100)
        return bool(pipe.execute()[1] >= 1)


@dataclass
class ClusterFleet:
    """Six cluster nodes (3 masters with 1 replica each); ``url`` is the store's URL form."""

    nodes: list[RedisServer]
    started_in: float = 0.0

    @property
    def url(self) -> str:
        hosts = ",".join(f"{n.host}:{n.port}" for n in self.nodes[:3])
        return f"redis+cluster://:{_quote(CLUSTER_PASSWORD)}@{hosts}"

    def admin(self, node: RedisServer) -> redis.Redis:
        """A plain synchronous client to one node (for assertions)."""
        return _admin(node.port, CLUSTER_PASSWORD)

    def logs(self) -> str:
        return "\n".join(f"--- node {n.port}\n{n.log_tail(1500)}" for n in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _cluster_ready(fleet: ClusterFleet, masters: int) -> bool:
    roles = []
    for node in fleet.nodes:
        with fleet.admin(node) as client:
            if client.cluster("info")["cluster_state"] != "ok":
                return False
            # CLUSTER SLOTS (what clients learn the layout from) lists a replica only once
            # gossip has brought its replication offset: until then no client can WAIT for it.
            ranges = client.execute_command("CLUSTER SLOTS")
            if len(ranges) != masters or any(len(r) < 4 for r in ranges):
                return False
            info: dict[str, Any] = client.info("replication")
            roles.append(info)
    primaries = [r for r in roles if r["role"] == "master"]
    linked = [r for r in roles if r["role"] == "slave" and r.get("master_link_status") == "up"]
    return (
        len(primaries) == masters
        and all(r["connected_slaves"] >= 1 for r in primaries)
        and len(linked) == len(fleet.nodes) - masters
    )


def start_cluster(directory: Path, *, masters: int = 3) -> ClusterFleet:
    """Start ``2 * masters`` nodes, create the cluster, wait for every replica to be in sync."""
    began = time.monotonic()
    binary = find_redis_server()
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RedisStartError("redis-cli is not installed (Debian's redis-tools): needed to create a cluster")
    fleet = ClusterFleet(nodes=[])
    try:
        for i in range(2 * masters):
            folder = directory / f"node{i}"
            folder.mkdir()
            args = [
                "--cluster-enabled", "yes",
                "--cluster-port", str(_free_port(HOST)),
                "--cluster-node-timeout", "3000",
                "--requirepass", CLUSTER_PASSWORD,
                "--masterauth", CLUSTER_PASSWORD,
                *_REPLICATION,
            ]  # fmt: skip
            node = RedisServer(binary, folder, args=args)
            fleet.nodes.append(node)
            node.start()
        addresses = [f"{n.host}:{n.port}" for n in fleet.nodes]
        create = [cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"]
        env = {**os.environ, "REDISCLI_AUTH": CLUSTER_PASSWORD}
        done = subprocess.run(create, capture_output=True, text=True, env=env, timeout=READY_TIMEOUT)
        if done.returncode != 0:
            raise RedisStartError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")
        _wait_for("redis cluster", lambda: _cluster_ready(fleet, masters), fleet.logs, READY_TIMEOUT)
    except BaseException:
        fleet.stop()
        raise
    fleet.started_in = time.monotonic() - began
    return fleet


class SentinelProcess:
    """One ``redis-server <conf> --sentinel``; the config file is its own (sentinels rewrite it)."""

    def __init__(self, binary: str, directory: Path, master_port: int) -> None:
        self.directory = directory
        self.port = _free_port(HOST)
        conf = directory / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind {HOST}\ndir {directory}\nlogfile sentinel.log\n"
            f"daemonize no\nprotected-mode no\nrequirepass {SENTINEL_PASSWORD}\n"
            f"sentinel monitor {SERVICE} {HOST} {master_port} 2\n"
            f"sentinel auth-pass {SERVICE} {MASTER_PASSWORD}\n"
            f"sentinel down-after-milliseconds {SERVICE} 3000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [binary, str(conf), "--sentinel"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        atexit.register(self.stop)

    def log_tail(self, limit: int = 1500) -> str:
        path = self.directory / "sentinel.log"
        return path.read_text("utf-8", "replace")[-limit:] if path.exists() else ""

    def admin(self) -> redis.Redis:
        return _admin(self.port, SENTINEL_PASSWORD)

    def stop(self) -> None:
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@dataclass
class SentinelFleet:
    """A master, its replica and three sentinels watching service ``logto``."""

    servers: list[RedisServer]
    sentinels: list[SentinelProcess] = field(default_factory=list)
    started_in: float = 0.0

    def url(self, query: str = "") -> str:
        """``redis+sentinel://:<master password>@<sentinels>/logto/0?sentinel_password=…``."""
        hosts = ",".join(f"{HOST}:{s.port}" for s in self.sentinels)
        extra = f"&{query}" if query else ""
        return (
            f"redis+sentinel://:{_quote(MASTER_PASSWORD)}@{hosts}/{SERVICE}/0"
            f"?sentinel_password={_quote(SENTINEL_PASSWORD)}{extra}"
        )

    def logs(self) -> str:
        parts = [f"--- redis {s.port}\n{s.log_tail(1500)}" for s in self.servers]
        parts += [f"--- sentinel {s.port}\n{s.log_tail()}" for s in self.sentinels]
        return "\n".join(parts)

    def master_port(self) -> int:
        """The master's port as the first sentinel reports it."""
        with self.sentinels[0].admin() as client:
            _, port = client.sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def settled(self) -> bool:
        """Every sentinel agrees on one master, which has every other server as a linked replica."""
        ports = set()
        for sentinel in self.sentinels:
            with sentinel.admin() as client:
                state = client.sentinel_master(SERVICE)
                if state.get("failover-state", "none") not in ("none", ""):
                    return False
                ports.add(int(state["port"]))
        if len(ports) != 1:
            return False
        (master,) = ports
        for server in self.servers:
            with _admin(server.port, MASTER_PASSWORD) as client:
                info: dict[str, Any] = client.info("replication")
            if server.port == master and (info["role"] != "master" or info["connected_slaves"] < 1):
                return False
            if server.port != master and (
                info["role"] != "slave"
                or int(info["master_port"]) != master
                or info["master_link_status"] != "up"
            ):
                return False
        return _replica_acknowledges(master, MASTER_PASSWORD)

    def wait_settled(self, timeout: float = READY_TIMEOUT) -> None:
        _wait_for("redis sentinel fleet", self.settled, self.logs, timeout)

    def failover(self, timeout: float = 10.0) -> None:
        """``SENTINEL FAILOVER`` (retried while the sentinels do not yet know a good replica)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.sentinels[0].admin() as client:
                    client.execute_command("SENTINEL FAILOVER", SERVICE)
                return
            except redis.ResponseError as exc:
                if time.monotonic() > deadline:
                    raise RedisStartError(f"SENTINEL FAILOVER refused: {exc}\n{self.logs()}") from exc
                time.sleep(0.1)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            server.stop()


def _sentinels_know_everyone(fleet: SentinelFleet) -> bool:
    for sentinel in fleet.sentinels:
        with sentinel.admin() as client:
            state = client.sentinel_master(SERVICE)
            replicas = client.sentinel_slaves(SERVICE)
        if state["num-other-sentinels"] < len(fleet.sentinels) - 1 or state["num-slaves"] < 1:
            return False
        if not all(r["is_slave"] and not r["is_sdown"] and r["master-link-status"] == "ok" for r in replicas):
            return False
    return fleet.settled()


def start_sentinel(directory: Path, *, sentinels: int = 3) -> SentinelFleet:
    """Start a master, a replica and ``sentinels`` sentinels; wait until all know each other."""
    began = time.monotonic()
    binary = find_redis_server()
    auth = ["--requirepass", MASTER_PASSWORD, "--masterauth", MASTER_PASSWORD, *_REPLICATION]
    fleet = SentinelFleet(servers=[])
    try:
        for name in ("master", "replica"):
            folder = directory / name
            folder.mkdir()
            extra = [] if not fleet.servers else ["--replicaof", HOST, str(fleet.servers[0].port)]
            server = RedisServer(binary, folder, args=[*auth, *extra])
            fleet.servers.append(server)
            server.start()
        for i in range(sentinels):
            folder = directory / f"sentinel{i}"
            folder.mkdir()
            fleet.sentinels.append(SentinelProcess(binary, folder, fleet.servers[0].port))
        for sentinel in fleet.sentinels:
            _wait_for("sentinel", functools.partial(_ping, HOST, sentinel.port), fleet.logs, 10.0)
        _wait_for("redis sentinel fleet", lambda: _sentinels_know_everyone(fleet), fleet.logs, READY_TIMEOUT)
    except BaseException:
        fleet.stop()
        raise
    fleet.started_in = time.monotonic() - began
    return fleet

"""Dask's per-message cost, as sapwood.dask.train's leader pays it: an empty round trip from
one worker (the leader, in its actor's thread) to another (a peer), measured several ways in
one run on a LocalCluster of single-threaded worker processes.

    python benchmarks/compare/dask_messages.py [--trips 500] [--kib 0]

Ways, each `trips` sequential round trips from the leader's actor method, median in ms:

- ``actor_thread``: an actor call that runs on the peer's actor thread (Dask's default);
- ``actor_loop``: an actor call with ``separate_thread=False`` (runs on the peer's event loop;
  what the leader used up to the fourth pass);
- ``rpc_sync``: a handler registered on the peer (``Worker.handlers``) called through
  ``Worker.rpc(addr)``, one ``sync`` onto the leader's event loop per call;
- ``rpc_sync_2``: as ``rpc_sync``, two peers' calls in one ``sync`` (what a leader with two
  peers does: the message hop is paid once per round trip, not per peer);
- ``rpc_in_loop``: the same handler called from a coroutine on the leader's event loop (no
  thread hop at all: the floor of Dask's comms here);
- ``client_actor``: an actor call from the client (the figure earlier passes reported).

`--kib` sizes the reply (a uint8 array), to see bytes against messages. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np


def _echo_handler(kib: int) -> Any:
    payload = np.zeros(kib * 1024, dtype=np.uint8)

    def sapwood_bench_echo(x: Any = None) -> Any:
        from distributed.protocol import to_serialize

        return to_serialize(payload) if kib else x

    return sapwood_bench_echo


def _install(kib: int, dask_worker: Any = None) -> None:
    dask_worker.handlers["sapwood_bench_echo"] = _echo_handler(kib)


class Peer:
    def __init__(self, kib: int) -> None:
        self.payload = np.zeros(kib * 1024, dtype=np.uint8) if kib else None

    def ping(self) -> Any:
        return self.payload


class Leader:
    def __init__(self) -> None:
        pass

    def measure(self, peers: list[tuple[str, Any]], trips: int) -> dict[str, float]:
        from distributed import get_worker
        from distributed.utils import sync

        me = get_worker()
        out: dict[str, float] = {}
        actor = peers[0][1]
        addr = peers[0][0]
        addrs = [a for a, _ in peers]

        def median_ms(f: Any) -> float:
            for _ in range(20):
                f()
            ts = []
            for _ in range(trips):
                t0 = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t0)
            return float(np.median(ts) * 1e3)

        out["actor_thread"] = median_ms(lambda: actor.ping().result())
        out["actor_loop"] = median_ms(lambda: actor.ping(separate_thread=False).result())

        async def one() -> Any:
            return await me.rpc(addr).sapwood_bench_echo(x=None)

        out["rpc_sync"] = median_ms(lambda: sync(me.loop, one))

        async def both() -> Any:
            import asyncio

            return await asyncio.gather(*(me.rpc(a).sapwood_bench_echo(x=None)
                                          for a in addrs))

        if len(addrs) > 1:
            out["rpc_sync_2"] = median_ms(lambda: sync(me.loop, both))

        async def in_loop() -> list[float]:
            ts = []
            for i in range(trips + 20):
                t0 = time.perf_counter()
                await me.rpc(addr).sapwood_bench_echo(x=None)
                if i >= 20:
                    ts.append(time.perf_counter() - t0)
            return ts

        out["rpc_in_loop"] = float(np.median(sync(me.loop, in_loop)) * 1e3)
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trips", type=int, default=500)
    ap.add_argument("--kib", type=int, default=0)
    ap.add_argument("--workers", type=int, default=3)
    a = ap.parse_args()
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1", memory_limit=0) as cluster, \
            Client(cluster) as client:
        ws = sorted(client.scheduler_info()["workers"])
        client.run(_install, a.kib)
        peers = [(w, client.submit(Peer, a.kib, actor=True, workers=[w]).result())
                 for w in ws[1:]]
        leader = client.submit(Leader, actor=True, workers=[ws[0]]).result()
        res = leader.measure(peers, a.trips).result()
        peer = peers[0][1]
        for _ in range(20):
            peer.ping().result()
        ts = []
        for _ in range(a.trips):
            t0 = time.perf_counter()
            peer.ping().result()
            ts.append(time.perf_counter() - t0)
        res["client_actor"] = float(np.median(ts) * 1e3)
    print(json.dumps({"trips": a.trips, "reply_kib": a.kib,
                      **{k: round(v, 3) for k, v in res.items()},
                      "load_avg": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()

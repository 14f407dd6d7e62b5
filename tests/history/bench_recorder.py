"""Cost of HistoryRecorder per node (not a test; run: python tests/history/bench_recorder.py [N] [REPS]).

An N-node run (3 node events + 1 progress event per node) recorded into a real
on-disk store (WAL, synchronous=NORMAL) with the default batching. Reports wall
and CPU time per node; take the minimum on a busy machine."""
import os, sys, tempfile, time
from nodeflow.engine.events import EventKind as K, RunEvent
from nodeflow.history import HistoryRecorder, HistoryStore

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
REPS = int(sys.argv[2]) if len(sys.argv) > 2 else 10

def events(run_id, n, t0=1_700_000_000.0):
    ev = [RunEvent(K.RUN_STARTED, run_id, t0, data={"total": n, "workflow_path": "/x/flow.nc", "workflow_hash": "h",
                                                   "workflow_name": "flow", "executor": "local", "host": "me"})]
    for i in range(n):
        node = f"node{i}"; t = t0 + i * 0.01
        ev.append(RunEvent(K.NODE_QUEUED, run_id, t, node, 1, {"executor": "local", "node_type": "math/Power"}))
        ev.append(RunEvent(K.NODE_STARTED, run_id, t + 0.001, node, 1, {"executor": "local", "host": "me", "job_id": None}))
        ev.append(RunEvent(K.NODE_SUCCEEDED, run_id, t + 0.005, node, 1,
                           {"outputs": {"out": float(i), "label": "x"}, "reused": False, "exit_code": 0,
                            "input_hash": f"{i:064x}", "stdout_path": None, "stderr_path": None}))
        ev.append(RunEvent(K.RUN_PROGRESS, run_id, t + 0.005, None, 0, {"done": i + 1, "total": n}))
    ev.append(RunEvent(K.RUN_FINISHED, run_id, t0 + n, data={"state": "succeeded"}))
    return ev

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        wall, cpu = [], []
        with HistoryStore(os.path.join(d, "h.sqlite")) as store:
            for rep in range(REPS):
                ev = events(f"run-{rep:04d}-5f0c8a4e9b1d4c7e", N)
                rec = HistoryRecorder(store)
                t, c = time.perf_counter(), time.process_time()
                for e in ev:
                    rec.on_event(e)
                wall.append((time.perf_counter() - t) / N * 1e6)
                cpu.append((time.process_time() - c) / N * 1e6)
                assert len(store.attempts(f"run-{rep:04d}-5f0c8a4e9b1d4c7e")) == N
        s = sorted(wall)
        print(f"{N} nodes x {REPS}: wall µs/node min {s[0]:.2f} median {s[len(s)//2]:.2f} max {s[-1]:.2f}; "
              f"cpu µs/node min {min(cpu):.2f} median {sorted(cpu)[len(cpu)//2]:.2f}")

"""The deterministic simulation (`make simulate`): the whole pipeline in one process
over the in-memory adapters, driven step by step by one seeded scheduler that also
injects every fault, with the ledger's invariants checked at every write.

- `scheduler`: the only sources of chance and time (one `random.Random(seed)`, a
  simulated clock, counters for ids);
- `world`: the stores, the stream, the bus, the dead-letter queues and the clients,
  and the functions (commands, holds and their expirer, reversals, fanout,
  dispatcher, projectors) run on them through the real application layer;
- `operations`: what one step may do (a client command, a delivery, a redrive, a
  replay...), each one function in a table with its weight;
- `invariants`: the checks, each one function in a table of the moment it runs at;
- `run`: one run (`simulate(seed, steps)`) and its report;
- `__main__`: the command line (`python -m tests.simulation --seed 1 --steps 100000`).

docs/reliability.md ("Deterministic simulation") says how to read and replay a run.
"""

"""The batched writer of Neo4jGraphStore for entities and relations: rows in batches of
`batch_size`, each batch its own transaction, all the batches of a step sent in one query
(`CALL { ... } IN [n CONCURRENT] TRANSACTIONS`: one round trip, not two per batch), up to
`lanes` batches in flight at once, and never two in flight that lock the same node.

Why overlap: on a busy machine a batch spends much of its wall time waiting for a CPU share
and on its commit (README, "The test server"); a second transaction in flight could run
while the first waits. Measured on the 2-core test machine it does not pay (README: more,
smaller transactions and a wait at the end of every round cost more than the overlap
gains), so the store's default is one lane; the plan below is what makes more lanes safe.

Why no shared nodes: a MERGE that creates a relationship locks both endpoints, and a relation
write refreshes its endpoints' `degree` from a count it read before taking their locks. Two
transactions on one node would wait for each other, deadlock when they took their locks in
opposite orders (the driver retries after a backoff of a second or more), or leave a degree
that misses the other's relation. So the rows are planned, not just cut:

- Each row names the keys it locks (a relation: its two endpoints; an entity: the chunks it
  MENTIONS, since MERGE of that edge locks the chunk). Each key gets one of `lanes` colours
  (rounded up to even; a stable hash), and a row goes to the cell of its colours: one
  colour, a pair, or "mixed" (three or more).
- Rounds: all one-colour cells, then the pairs in round-robin-tournament order, so the cells
  of a round share no colour and therefore no key. A cell is one lane: its batches run one
  after the other; the lanes of a round run side by side; a round starts when the one
  before it has committed.
- A round with a single non-empty cell has nothing to overlap with: consecutive such rounds,
  and the mixed rows at the end, are joined and cut into full batches again, so a star
  around one hub costs the round trips of the serial writer.

What it does not cover: Neo4j also locks the relationship at the head of each endpoint's
chain when it links a new relationship in, and that one may lead to a node of another lane
(written by an earlier round); deleting a stale MENTIONS edge locks a chunk the row no longer
names. So two lanes can still wait for each other, and now and then deadlock: Neo4j notices
at once and fails one transaction, which is run again on its own after a few milliseconds
(`run_lane`; the driver's own retry would first sleep a second or more; every batch is
idempotent).
"""

from __future__ import annotations

import logging
import random
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import neo4j
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

Row = TypeVar("Row")
Batch = Sequence[Any]
Lane = list[Batch]  # batches one session runs in order
Round = list[Lane]  # lanes that may run side by side

DEADLOCK = "Neo.TransientError.Transaction.DeadlockDetected"
_QUICK_RETRIES = 8
log = logging.getLogger(__name__)


def _cut(rows: Sequence[Any], size: int) -> Lane:
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def _colour(key: str, colours: int) -> int:
    # crc32, not hash(): the plan is the same in every process (reproducible benches).
    return zlib.crc32(key.encode("utf-8")) % colours


def _tournament(colours: int) -> list[list[tuple[int, int]]]:
    """The pairs of `colours` (an even number) in colours - 1 rounds, each colour once a round
    (the circle method: colour 0 stays, the others rotate)."""
    others = list(range(1, colours))
    rounds = []
    for _ in range(colours - 1):
        ring = [0, *others]
        rounds.append([tuple(sorted((ring[i], ring[colours - 1 - i]))) for i in range(colours // 2)])
        others = others[-1:] + others[:-1]
    return rounds  # type: ignore[return-value]


def plan_writes(
    rows: Sequence[Row],
    *,
    row_key: Callable[[Row], str],
    lock_keys: Callable[[Row], Iterable[str]],
    batch_size: int,
    lanes: int,
) -> list[Round]:
    """Rounds of lanes of batches that write `rows`: within a round no two lanes share a lock
    key. Rows are sorted by `row_key` in every batch (the lock order of the serial writer);
    of two rows with one key only the last is written (what writing both in order leaves)."""
    unique = sorted({row_key(r): r for r in rows}.values(), key=row_key)
    if lanes <= 1 or len(unique) <= batch_size:
        return [[_cut(unique, batch_size)]] if unique else []
    colours = max(2, lanes + lanes % 2)
    cells: dict[tuple[int, ...], list[Row]] = {}
    mixed: list[Row] = []
    for row in unique:
        used = tuple(sorted({_colour(k, colours) for k in lock_keys(row)} or {_colour(row_key(row), colours)}))
        if len(used) > 2:
            mixed.append(row)
        else:
            cells.setdefault(used if len(used) == 2 else (used[0], used[0]), []).append(row)
    rounds_of_cells = [[(c, c) for c in range(colours)], *_tournament(colours)]
    plan: list[Round] = []
    serial: list[Row] = []  # rows of rounds with one lane, joined until a round can overlap
    for cell_keys in rounds_of_cells:
        filled = [cells[c] for c in cell_keys if cells.get(c)]
        if len(filled) == 1:
            serial.extend(filled[0])
        elif filled:
            if serial:
                plan.append([_cut(sorted(serial, key=row_key), batch_size)])
                serial = []
            plan.append([_cut(rows_, batch_size) for rows_ in filled])
    serial.extend(mixed)
    if serial:
        plan.append([_cut(sorted(serial, key=row_key), batch_size)])
    return plan


class _Deadlock(Exception):
    """Raised out of a transaction function so that the driver does not retry it itself."""


def run_lane(session: neo4j.Session, work: Callable[[neo4j.ManagedTransaction, Batch], None], lane: Lane) -> int:
    """Runs the batches of `lane` in order, each in its own managed transaction; a batch that
    lost a deadlock is run again after a short random pause. Returns the deadlocks lost."""

    def guarded(tx: neo4j.ManagedTransaction, batch: Batch) -> None:
        try:
            work(tx, batch)
        except TransientError as e:
            if e.code == DEADLOCK:
                raise _Deadlock(e.message) from e
            raise

    lost = 0
    for batch in lane:
        for attempt in range(_QUICK_RETRIES):
            try:
                session.execute_write(guarded, batch)
                break
            except _Deadlock as e:
                lost += 1
                log.debug("batch of %d rows lost a deadlock (attempt %d): %s", len(batch), attempt + 1, e)
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        else:
            session.execute_write(work, batch)  # the driver's own retries, with its backoff
    return lost


def _in_transactions(body: str, concurrent: int) -> str:
    """`body` (a write over `UNWIND $rows AS row`) run once per batch of `$batches`, each batch
    its own transaction, `concurrent` at a time, in one query: one round trip for all of them.
    A batch that failed (a lost deadlock) does not stop the others; its index comes back."""
    if body.count("UNWIND $rows AS row") != 1:
        raise ValueError("a batched write starts with UNWIND $rows AS row")
    inner = body.replace("UNWIND $rows AS row", "UNWIND $batches[batch_index] AS row")
    concurrently = f"{concurrent} CONCURRENT " if concurrent > 1 else ""
    return (
        "UNWIND range(0, size($batches) - 1) AS batch_index\n"
        f"CALL (batch_index) {{{inner}}} IN {concurrently}TRANSACTIONS OF 1 ROW\n"
        "ON ERROR CONTINUE REPORT STATUS AS tx_status\n"
        "WITH batch_index, tx_status WHERE NOT tx_status.committed\n"
        "RETURN collect(batch_index) AS failed"
    )


def write_plan(
    session: neo4j.Session,
    body: str,
    plan: Sequence[Round],
    work: Callable[[neo4j.ManagedTransaction, Batch], None],
    params: dict[str, Any],
    lanes: int,
) -> None:
    """Runs `plan` with one query per step: a round with one lane sends all its batches in one
    query (one transaction each, in order); a round of several lanes sends the i-th batch of
    every lane together, at most `lanes` transactions at once. A batch that failed there is
    run again on its own through `work` (a managed, retried transaction), which also raises
    what a non-transient error means; so is a whole step whose query was cut off (a dropped
    connection: the driver retries no auto-commit query)."""
    for round_ in plan:
        steps = [round_[0]] if len(round_) == 1 else [
            [lane[i] for lane in round_ if i < len(lane)] for i in range(max(map(len, round_)))
        ]
        for step in steps:
            concurrent = 1 if len(round_) == 1 else min(len(step), lanes)
            try:
                result = session.run(_in_transactions(body, concurrent), params, batches=[list(b) for b in step])
                failed = result.single(strict=True)["failed"]
            except (TransientError, ServiceUnavailable, SessionExpired) as e:
                log.debug("a query of %d batches failed (%s); running them one by one", len(step), e)
                failed = list(range(len(step)))
            if failed:
                log.debug("%d of %d batches failed in one query; running them again", len(failed), len(step))
                run_lane(session, work, [step[i] for i in sorted(failed)])

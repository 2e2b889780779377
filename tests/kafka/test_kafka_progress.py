"""Commit policy and back-pressure bookkeeping: pure, no broker."""

from __future__ import annotations

from daemon.kafka.progress import Flow, Offsets, Partition

P0, P1 = Partition("alerts", 0), Partition("alerts", 1)


def test_commit_the_next_offset_after_what_is_stored() -> None:
    offsets = Offsets()
    offsets.stored(P0, 4)
    offsets.stored(P1, 0)
    assert offsets.to_commit() == {P0: 5, P1: 1}
    assert offsets.to_commit({P1}) == {P1: 1}


def test_committed_offsets_are_not_committed_again_but_newer_ones_are() -> None:
    offsets = Offsets()
    offsets.stored(P0, 4)
    offsets.committed({P0: 5})
    assert offsets.to_commit() == {}
    offsets.stored(P0, 9)
    assert offsets.to_commit() == {P0: 10}


def test_a_commit_acknowledged_late_keeps_the_newer_offset_pending() -> None:
    offsets = Offsets()
    offsets.stored(P0, 4)
    pending = offsets.to_commit()
    offsets.stored(P0, 7)  # stored while the commit of 5 was on the wire
    offsets.committed(pending)
    assert offsets.to_commit() == {P0: 8}


def test_offsets_never_move_backwards() -> None:
    offsets = Offsets()
    offsets.stored(P0, 9)
    offsets.stored(P0, 3)  # a redelivered, older record
    offsets.known(P0, 2)
    assert offsets.to_commit() == {P0: 10}
    assert offsets.lag(P0, 12) == 2


def test_lag_needs_both_the_high_water_mark_and_a_position() -> None:
    offsets = Offsets()
    assert offsets.lag(P0, 10) is None
    offsets.known(P0, 4)
    assert offsets.lag(P0, None) is None
    assert offsets.lag(P0, 10) == 6
    assert offsets.to_commit() == {}  # a position learnt from the broker is already committed


def test_forget_revoked_partitions() -> None:
    offsets = Offsets()
    offsets.stored(P0, 1)
    offsets.stored(P1, 1)
    offsets.forget({P0})
    assert offsets.to_commit() == {P1: 2}
    assert offsets.lag(P0, 5) is None


def test_flow_pauses_at_the_limit_and_resumes_at_half() -> None:
    flow = Flow(limit=10)
    flow.taken(9)
    assert flow.decide() is None
    assert flow.room() == 1
    flow.taken(1)
    assert flow.decide() is True
    assert flow.room() == 0
    flow.done(4)
    assert flow.decide() is None  # 6 in flight: still above half
    assert not flow.may_resume
    flow.done(1)
    assert flow.may_resume
    assert flow.decide() is False
    assert not flow.paused
    assert flow.decide() is None

"""`micd serve` freezes what survives a full collection (a performance change made with the benchmark), so later
full collections no longer walk correlation's long-lived state; garbage is still freed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from daemon.cli.serve import GC_THRESHOLDS, freeze_survivors


class Node:
    pass


@pytest.fixture
def hooked() -> Iterator[None]:
    gc.callbacks.append(freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(freeze_survivors)
        gc.unfreeze()


@pytest.mark.usefixtures("hooked")
def test_survivors_of_a_full_collection_are_frozen_and_young_collections_freeze_nothing() -> None:
    gc.unfreeze()
    gc.collect(0)
    assert gc.get_freeze_count() == 0
    kept = [Node() for _ in range(1000)]
    gc.collect()
    assert gc.get_freeze_count() >= len(kept)


@pytest.mark.usefixtures("hooked")
def test_frozen_objects_are_still_freed_by_reference_counting() -> None:
    node = Node()
    gc.unfreeze()
    gc.collect()
    assert gc.get_freeze_count() > 0  # node is among the frozen survivors
    ref = weakref.ref(node)
    del node
    assert ref() is None


def test_the_serving_thresholds_still_collect_reference_cycles_without_help() -> None:
    """Fewer young collections, not none: cyclic garbage made under load is freed by the collector itself."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        gc.collect()
        first = Node()
        first.me = first  # type: ignore[attr-defined]
        ref = weakref.ref(first)
        del first
        for _ in range(GC_THRESHOLDS[0] * 3):  # allocations enough for several young collections
            cycle = Node()
            cycle.me = cycle  # type: ignore[attr-defined]
        assert ref() is None
    finally:
        gc.set_threshold(*before)

"""When the embedded server should tell its operator to reserve huge pages."""

from __future__ import annotations

from pipeline.store.connection import huge_pages_advice


def test_advice_names_the_exact_reservation_and_how_to_restart() -> None:
    advice = huge_pages_advice(status="off", shared_buffers_mb=4096, huge_pages_needed=2113)
    assert advice is not None
    assert "sysctl -w vm.nr_hugepages=2113" in advice
    assert "4096 MB" in advice and "newsmon db stop" in advice


def test_no_advice_when_huge_pages_are_in_use() -> None:
    assert huge_pages_advice(status="on", shared_buffers_mb=4096, huge_pages_needed=2113) is None


def test_no_advice_for_small_shared_buffers() -> None:
    # a machine under 4 GB of RAM gets under 1 GB of buffers: the TLB barely matters there
    assert huge_pages_advice(status="off", shared_buffers_mb=512, huge_pages_needed=270) is None


def test_no_advice_where_the_system_has_no_huge_pages() -> None:
    # PostgreSQL reports -1 pages off Linux
    assert huge_pages_advice(status="off", shared_buffers_mb=4096, huge_pages_needed=-1) is None

"""Settling a batch: each message acknowledged or retried, and counted for its own consumer."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from prometheus_client import REGISTRY

from services.platform.consuming import ACK, Outcome, Retry, settle


@dataclass
class FakeMsg:
    consumer: str
    settled: list[str] = field(default_factory=list)

    @property
    def metadata(self) -> SimpleNamespace:
        return SimpleNamespace(consumer=self.consumer)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float) -> None:
        self.settled.append(f"nak {delay}")

    async def term(self) -> None:
        self.settled.append("term")


def counted(consumer: str) -> tuple[float, float]:
    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name, {"consumer": consumer}) or 0.0

    return value("kopdes_events_consumed_total"), value("kopdes_events_retried_total")


async def test_a_mixed_batch_is_counted_per_consumer() -> None:
    # A service's one batch holds what several consumers delivered (profiles and offers).
    msgs = [FakeMsg("unit-offers"), FakeMsg("unit-cooperatives"), FakeMsg("unit-offers")]
    outcomes: list[Outcome] = [ACK, Retry(2.0, False), ACK]
    before = {c: counted(c) for c in ("unit-offers", "unit-cooperatives")}

    await settle(msgs, outcomes)  # type: ignore[arg-type]  # the parts of a Msg settle uses

    assert [m.settled for m in msgs] == [["ack"], ["nak 2.0"], ["ack"]]
    moved = {c: tuple(a - b for a, b in zip(counted(c), before[c], strict=True)) for c in before}
    assert moved == {"unit-offers": (2.0, 0.0), "unit-cooperatives": (0.0, 1.0)}

"""Settling a batch: each message acknowledged or retried, and counted for its own consumer."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from services.platform.consuming import ACK, Outcome, Retry, settle
from services.platform.observability import EVENTS_CONSUMED, EVENTS_RETRIED


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
    return (
        EVENTS_CONSUMED.labels(consumer=consumer)._value.get(),
        EVENTS_RETRIED.labels(consumer=consumer)._value.get(),
    )


async def test_a_mixed_batch_is_counted_per_consumer() -> None:
    # A service's one batch holds what several consumers delivered (profiles and offers).
    msgs = [FakeMsg("unit-offers"), FakeMsg("unit-cooperatives"), FakeMsg("unit-offers")]
    outcomes: list[Outcome] = [ACK, Retry(2.0, False), ACK]
    before = {c: counted(c) for c in ("unit-offers", "unit-cooperatives")}

    await settle(msgs, outcomes)  # type: ignore[arg-type]  # the parts of a Msg settle uses

    assert [m.settled for m in msgs] == [["ack"], ["nak 2.0"], ["ack"]]
    moved = {c: tuple(a - b for a, b in zip(counted(c), before[c], strict=True)) for c in before}
    assert moved == {"unit-offers": (2.0, 0.0), "unit-cooperatives": (0.0, 1.0)}

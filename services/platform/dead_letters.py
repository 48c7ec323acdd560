"""Refused inputs and messages whose handler kept failing: kept in the dead-letter table and
announced on ``kopdes.deadletter``, within the transaction of the batch that refused them.
Every stage that consumes uses it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, insert
from sqlalchemy import select as select_core
from sqlmodel import Session

from schemas import DeadLetter, subjects
from services.platform.consuming import Delivery
from services.platform.outbox import enqueue_many
from services.storage import bulk
from services.storage.models import DeadLetterRow, table_of


def storable(text: str, limit: int | None = None) -> str:
    """Text any database column holds: NUL escaped, cut to ``limit`` characters with a mark.

    A dead letter must always be storable, whatever the input: PostgreSQL refuses U+0000 in
    text and longer values than a VARCHAR's length, and a refusal that cannot be stored
    would be redelivered forever.
    """
    text = text.replace("\x00", "\\u0000")
    if limit is not None and len(text) > limit:
        mark = f"…[cut from {len(text)} chars]"
        text = text[: limit - len(mark)] + mark
    return text


VARCHAR = 255  # the dead_letter table's subject, source and msg_id columns


def record_dead_letter(
    session: Session, letter: DeadLetter, source: str, msg_id: str | None = None
) -> None:
    """Keep the refused input for inspection and announce it on ``kopdes.deadletter``."""
    record_dead_letters(session, [(letter, source, msg_id)])


Refusal = tuple[DeadLetter, str, str | None]  # the letter, stream:sequence, Nats-Msg-Id


def record_dead_letters(session: Session, refusals: Sequence[Refusal]) -> None:
    """``record_dead_letter`` for many, with a few statements: a flood of refusals from one
    partner must pass as quickly as valid input, not hold back the other partners' offers.
    """
    table: Table = table_of(DeadLetterRow)
    sources = [source for _, source, _ in refusals]
    known: set[str] = set()
    conn = session.connection()
    for chunk in bulk.chunks(conn, sources):
        query = select_core(table.c.source).where(bulk.among(conn, table.c.source, chunk))
        known.update(conn.execute(query).scalars())
    rows: list[dict[str, Any]] = []
    messages: list[tuple[str, BaseModel, str]] = []
    for letter, source, msg_id in refusals:
        if source in known:  # a redelivered refusal is kept once
            continue
        known.add(source)
        # Whatever the input's subject, Nats-Msg-Id or bytes, the row can be stored (see
        # ``storable``); the message on kopdes.deadletter carries them as received.
        rows.append(
            {
                "subject": storable(letter.subject, VARCHAR),
                "reason": storable(letter.reason),
                "error_type": letter.error_type,
                "raw": storable(letter.raw),
                "raw_encoding": letter.raw_encoding,
                "source": source,  # stream:sequence, always short
                "msg_id": None if msg_id is None else storable(msg_id, VARCHAR),
                "received_at": letter.received_at,
            }
        )
        messages.append((subjects.DEADLETTER, letter, f"deadletter:{source}"))
    if rows:
        session.connection().execute(insert(table), rows)
    enqueue_many(session, messages)


def record_handler_failure(session: Session, delivery: Delivery, exc: Exception, work: str) -> None:
    """Dead-letter a message whose handler kept failing (``work``: what it was doing)."""
    letter = DeadLetter(
        subject=delivery.subject,
        reason=f"{work} failed {delivery.num_delivered} times: {exc!r}",
        error_type="handler_error",
        raw=delivery.data.decode("utf-8", "replace"),
        received_at=delivery.received_at,
    )
    record_dead_letter(session, letter, delivery.source, delivery.msg_id)

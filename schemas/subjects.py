"""NATS subjects of the event contract, and the internal ones the services add."""

COOPERATIVE_UPSERTED = "kopdes.cooperative.upserted"
OFFER_UPSERTED = "kopdes.offer.upserted.{partner_id}"
OFFER_WITHDRAWN = "kopdes.offer.withdrawn.{partner_id}"
MATCH_SUGGESTED = "kopdes.match.suggested"
MATCH_RETRACTED = "kopdes.match.retracted"
MATCH_DECIDED = "kopdes.match.decided"
NOTIFY_COOPERATIVE = "kopdes.notify.cooperative.{cooperative_id}"
NOTIFY_PARTNER = "kopdes.notify.partner.{partner_id}"
DEADLETTER = "kopdes.deadletter"

# Internal: ingest tells the matcher that a stored cooperative or offer changed.
COOPERATIVE_CHANGED = "kopdes.internal.cooperative.changed"
OFFER_CHANGED = "kopdes.internal.offer.changed"

OFFER_UPSERTED_PREFIX = "kopdes.offer.upserted."
OFFER_WITHDRAWN_PREFIX = "kopdes.offer.withdrawn."


def offer_upserted(partner_id: str) -> str:
    return OFFER_UPSERTED.format(partner_id=partner_id)


def offer_withdrawn(partner_id: str) -> str:
    return OFFER_WITHDRAWN.format(partner_id=partner_id)


def notify_cooperative(cooperative_id: str) -> str:
    return NOTIFY_COOPERATIVE.format(cooperative_id=cooperative_id)


def notify_partner(partner_id: str) -> str:
    return NOTIFY_PARTNER.format(partner_id=partner_id)

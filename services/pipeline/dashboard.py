"""The review service as the pipeline runs it: its dashboard serves notify's pages too
(inboxes, webhooks, failed deliveries). Composed here, above both stages, so that neither
imports the other; imported only by a process that runs the review service."""

from __future__ import annotations

from services.notify.web import include_notifications
from services.platform.runtime import Runtime
from services.platform.service import ServiceParts
from services.review.service import review_service as dashboard_only


def review_service(runtime: Runtime) -> ServiceParts:
    return dashboard_only(runtime, sections=[include_notifications])

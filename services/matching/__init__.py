"""The matcher service: province shortlists in memory, owned by one process at a time."""

from services.matching.service import Matcher, matcher_service

__all__ = ["Matcher", "matcher_service"]

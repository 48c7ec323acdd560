"""The matcher tests' fixtures, from tests/support/eval_sets.py."""

from tests.support.eval_sets import dev_set, heldout_set, population

__all__ = ["dev_set", "heldout_set", "population"]

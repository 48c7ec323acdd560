"""What the tests share: fixtures, payload builders, in-process and multi-process pipelines,
fault injectors and waiting helpers. Test modules import from here, never from each other's
conftest."""

"""The demo, its loopback webhook receiver, and the synthetic data it and the benchmarks use."""

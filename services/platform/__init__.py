"""What every stage stands on: settings, the NATS topology and consuming, the outbox,
observability, the runtime, the embedded NATS server."""

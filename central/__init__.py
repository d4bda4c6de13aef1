"""Central service: event ingest, lanes, officer commands, review, statistics."""

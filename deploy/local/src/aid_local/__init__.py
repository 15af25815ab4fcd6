"""Run the whole platform on one machine: Kafka, PostgreSQL and the six services' processes."""

"""The Dagster code location: `dagster dev -m orchestration.definitions` (production: DAGSTER_HOME with
orchestration/dagster.yaml for PostgreSQL run/event/schedule storage)."""

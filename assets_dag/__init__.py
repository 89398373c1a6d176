"""Dagster software-defined assets of the batch path, one subpackage per group.

ingest (hourly landing from Kafka, alert history) · analytics (daily marts) · maintenance (usage hours, due
dates) · reports (daily site report) · ml (MLflow training; separate issue). Resources are in `resources`,
partitions in `partitions`; `orchestration.definitions` assembles them into the code location.
"""

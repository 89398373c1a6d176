"""The platform's relational schema: SQLAlchemy models, engines and Alembic migrations.

`core.db.models` holds the tables (one module per domain), `core.db.engine` builds engines and sessions from
`ASSET_TAG_DATABASE_URL`, `core.db.migrate` applies the migrations in `core/db/migrations`, and
`core.db.partitions` keeps the time-partitioned location history within its retention period.
The same schema runs on SQLite (embedded demo, unit tests) and PostgreSQL (production).
"""

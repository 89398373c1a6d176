# One image for every asset-tag process (API, realtime consumer, Dagster webserver and daemon).

# The native landing sink (Go) that the Dagster landing assets run; built in its own stage.
FROM golang:1.26 AS landing
WORKDIR /src
COPY lakehouse/native/landing/ ./
RUN CGO_ENABLED=0 go build -trimpath -o /out/asset-tag-landing .

FROM python:3.11-slim
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH DAGSTER_HOME=/opt/dagster/home
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev && mkdir -p $DAGSTER_HOME && cp orchestration/dagster.yaml $DAGSTER_HOME/dagster.yaml
# Where `assets_dag.ingest.native_landing` looks for it (COPY keeps it newer than its sources: not rebuilt).
COPY --from=landing /out/asset-tag-landing lakehouse/native/landing/bin/asset-tag-landing
EXPOSE 8000 3000 9108

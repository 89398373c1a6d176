# One image for every asset-tag process (API, realtime consumer, Dagster webserver and daemon).
FROM python:3.11-slim
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH DAGSTER_HOME=/opt/dagster/home
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev && mkdir -p $DAGSTER_HOME && cp orchestration/dagster.yaml $DAGSTER_HOME/dagster.yaml
EXPOSE 8000 3000 9108

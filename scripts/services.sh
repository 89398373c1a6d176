#!/usr/bin/env bash
# Installs and runs asset-tag's services natively, for machines without a Docker engine:
#   PostgreSQL and Redis from Debian packages, Apache Kafka (KRaft, one node) from Maven Central on Java 17,
#   MinIO built with `go install`. Everything listens on 127.0.0.1 only.
#
#   scripts/services.sh up       install what is missing, start what is stopped, wait until healthy,
#                                create database, topics and bucket, write the URLs to $SERVICES_ENV
#   scripts/services.sh down     stop all four
#   scripts/services.sh status   one line per service
#   scripts/services.sh env      print the exports (eval "$(scripts/services.sh env)")
#   scripts/services.sh tools    install the test tools that are not services: Debian's Chromium for the e2e tests
#
# Idempotent: a second `up` finds everything installed and running and takes seconds. Downloads and builds are cached
# under $ASSET_TAG_SERVICES_HOME (default ~/.cache/asset-tag); data lives there too.
# With a Docker engine, `docker compose up -d` runs the same services from docker-compose.yml instead.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOME_DIR=${ASSET_TAG_SERVICES_HOME:-$HOME/.cache/asset-tag}
SERVICES_ENV=$HOME_DIR/services.env
# PostgreSQL runs as the postgres user, which cannot enter root's home: as root, keep its files under /var/lib.
if [ "$(id -u)" = 0 ]; then PG_DIR=${ASSET_TAG_PG_DIR:-/var/lib/asset-tag/postgres}; else PG_DIR=$HOME_DIR/postgres; fi

PG_PORT=${ASSET_TAG_PG_PORT:-15432}
REDIS_PORT=${ASSET_TAG_REDIS_PORT:-16379}
KAFKA_PORT=${ASSET_TAG_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
MINIO_PORT=${ASSET_TAG_MINIO_PORT:-19000}
MINIO_CONSOLE_PORT=$((MINIO_PORT + 1))

KAFKA_VERSION=4.1.1
# MinIO publishes RELEASE tags, not semver: pin the module pseudo-version of a known-good commit.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_USER=assettag
MINIO_PASSWORD=assettag-secret
BUCKET=asset-tag
TOPICS=(ble.observations ble.observations.dlq ble.locations ble.zone_events ble.alerts)

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for NAME SECONDS COMMAND...
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$name did not become healthy within ${seconds}s (logs: $HOME_DIR/logs/, $PG_DIR)"
    sleep 0.5
  done
}

as_postgres() { # PostgreSQL refuses to run as root: run its tools as the postgres user when we are root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* with your package manager"
  log "installing Debian packages: $*"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# ---------------------------------------------------------------------------------------------------------------
install_packages() {
  local missing=()
  [ -n "$(pg_bin)" ] || missing+=(postgresql postgresql-contrib)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v curl >/dev/null || missing+=(curl)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

postgres_up() {
  local bin; bin=$(pg_bin)
  local data=$PG_DIR/data
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $data"
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$PG_DIR"; fi
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_postgres "$bin/pg_ctl" -D "$data" -l "$PG_DIR/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp -c max_connections=200 -c fsync=off" start >/dev/null
  fi
  wait_for PostgreSQL 60 "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT"
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "select 1 from pg_roles where rolname='assettag'")" != 1 ]; then
    "${psql[@]}" -c "create role assettag login createdb password 'assettag'"
  fi
  # Test and benchmark databases are dropped WITH (FORCE). An autovacuum worker still in one has no role, and
  # PostgreSQL 15 lets only pg_signal_backend members end it: without this a teardown failed now and then.
  "${psql[@]}" -c "grant pg_signal_backend to assettag"
  if [ "$("${psql[@]}" -c "select 1 from pg_database where datname='assettag'")" != 1 ]; then
    "${psql[@]}" -c "create database assettag owner assettag"
  fi
  if [ "$("${psql[@]}" -c "select 1 from pg_database where datname='dagster'")" != 1 ]; then
    "${psql[@]}" -c "create database dagster owner assettag"
  fi
}

redis_up() {
  if ! port_open "$REDIS_PORT"; then
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    mkdir -p "$HOME_DIR/redis" "$HOME_DIR/logs"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$HOME_DIR/redis" \
      --appendonly yes --save "" --logfile "$HOME_DIR/logs/redis.log" --pidfile "$HOME_DIR/redis/redis.pid"
  fi
  wait_for Redis 30 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping
}

kafka_classpath() { echo "$HOME_DIR/kafka-$KAFKA_VERSION/libs/*"; }

kafka_java() { java -Xms256m -Xmx768m -cp "$(kafka_classpath)" -Dlog4j2.configurationFile="$HERE/kafka/log4j2.yaml" "$@"; }

kafka_up() {
  local libs=$HOME_DIR/kafka-$KAFKA_VERSION/libs
  if [ ! -f "$libs/kafka_2.13-$KAFKA_VERSION.jar" ]; then
    log "resolving Apache Kafka $KAFKA_VERSION from Maven Central"
    mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -Dmaven.repo.local="$HOME_DIR/m2" >/dev/null
  fi
  local data=$HOME_DIR/kafka-data config=$HOME_DIR/kafka-server.properties
  sed -e "s/19092/$KAFKA_PORT/g" -e "s/19093/$KAFKA_CONTROLLER_PORT/g" "$HERE/kafka/server.properties" >"$config"
  echo "log.dirs=$data" >>"$config"
  if [ ! -f "$data/meta.properties" ]; then
    log "formatting Kafka storage in $data"
    mkdir -p "$data"
    kafka_java kafka.tools.StorageTool format -t "$(kafka_java kafka.tools.StorageTool random-uuid)" -c "$config" >/dev/null
  fi
  if ! port_open "$KAFKA_PORT"; then
    log "starting Kafka (KRaft) on 127.0.0.1:$KAFKA_PORT"
    mkdir -p "$HOME_DIR/logs"
    nohup java -Xms256m -Xmx1g -XX:+UseG1GC -cp "$(kafka_classpath)" \
      -Dlog4j2.configurationFile="$HERE/kafka/log4j2.yaml" kafka.Kafka "$config" \
      >"$HOME_DIR/logs/kafka.log" 2>&1 &
    echo $! >"$HOME_DIR/kafka.pid"
  fi
  wait_for Kafka 120 port_open "$KAFKA_PORT"
  # One JVM creates all topics (each `kafka-topics` start costs seconds); --if-not-exists keeps it idempotent.
  local existing
  existing=$(kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list 2>/dev/null || true)
  for topic in "${TOPICS[@]}"; do
    if ! grep -qx "$topic" <<<"$existing"; then
      log "creating topic $topic"
      kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --create \
        --if-not-exists --topic "$topic" --partitions 6 --replication-factor 1 --config retention.ms=604800000 >/dev/null
    fi
  done
}

minio_up() {
  local bin=$HOME_DIR/bin/minio
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || die "Go is needed to build MinIO (go install github.com/minio/minio@$MINIO_VERSION)"
    log "building MinIO $MINIO_VERSION with go install (first run only, a few minutes)"
    GOPATH=$HOME_DIR/go GOBIN=$HOME_DIR/bin GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION"
  fi
  if ! port_open "$MINIO_PORT"; then
    log "starting MinIO on 127.0.0.1:$MINIO_PORT"
    mkdir -p "$HOME_DIR/minio-data" "$HOME_DIR/logs"
    MINIO_ROOT_USER=$MINIO_USER MINIO_ROOT_PASSWORD=$MINIO_PASSWORD MINIO_BROWSER=off \
      nohup "$bin" server --quiet --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" \
      "$HOME_DIR/minio-data" >"$HOME_DIR/logs/minio.log" 2>&1 &
    echo $! >"$HOME_DIR/minio.pid"
  fi
  wait_for MinIO 60 curl -fsS "http://127.0.0.1:$MINIO_PORT/minio/health/live"
  # Create the bucket with a SigV4-signed PUT (curl signs it; no extra client needed). 409 = it exists.
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --user "$MINIO_USER:$MINIO_PASSWORD" \
    --aws-sigv4 "aws:amz:us-east-1:s3" "http://127.0.0.1:$MINIO_PORT/$BUCKET")
  case $code in 200|409) ;; *) die "could not create bucket $BUCKET (HTTP $code)";; esac
}

write_env() {
  cat >"$SERVICES_ENV" <<EOF
export ASSET_TAG_DATABASE_URL=postgresql+psycopg://assettag:assettag@127.0.0.1:$PG_PORT/assettag
export ASSET_TAG_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export ASSET_TAG_STREAM_URL=kafka://127.0.0.1:$KAFKA_PORT
export ASSET_TAG_LAKEHOUSE_URL=s3://$BUCKET/lakehouse
export ASSET_TAG_S3_ENDPOINT_URL=http://127.0.0.1:$MINIO_PORT
export ASSET_TAG_S3_ACCESS_KEY_ID=$MINIO_USER
export ASSET_TAG_S3_SECRET_ACCESS_KEY=$MINIO_PASSWORD
export ASSET_TAG_DAGSTER_PG_URL=postgresql+psycopg2://assettag:assettag@127.0.0.1:$PG_PORT/dagster
EOF
}

up() {
  mkdir -p "$HOME_DIR"
  install_packages
  postgres_up
  redis_up
  kafka_up
  minio_up
  write_env
  log "all services up; to use them:  eval \"\$(scripts/services.sh env)\""
  cat "$SERVICES_ENV"
}

stop_pidfile() {
  local name=$1 pidfile=$2
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "stopping $name"
    kill "$(cat "$pidfile")"
    for _ in $(seq 60); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$pidfile"
}

down() {
  stop_pidfile MinIO "$HOME_DIR/minio.pid"
  stop_pidfile Kafka "$HOME_DIR/kafka.pid"
  if port_open "$REDIS_PORT"; then log "stopping Redis"; redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null || true; fi
  local bin; bin=$(pg_bin)
  if [ -n "$bin" ] && [ -f "$PG_DIR/data/PG_VERSION" ]; then
    if as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
      log "stopping PostgreSQL"; as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null
    fi
  fi
  return 0
}

status() {
  local name port
  for pair in "PostgreSQL:$PG_PORT" "Redis:$REDIS_PORT" "Kafka:$KAFKA_PORT" "MinIO:$MINIO_PORT"; do
    name=${pair%%:*}; port=${pair##*:}
    if port_open "$port"; then echo "$name up on 127.0.0.1:$port"; else echo "$name down (port $port)"; fi
  done
}

tools() {
  command -v chromium >/dev/null || apt_install chromium
}

case ${1:-} in
  up) up ;;
  tools) tools ;;
  down) down ;;
  status) status ;;
  env) [ -f "$SERVICES_ENV" ] || die "no $SERVICES_ENV yet: run scripts/services.sh up"; cat "$SERVICES_ENV" ;;
  *) echo "usage: $0 up|down|status|env|tools" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# PostgreSQL for the analytics benchmark (tests/benches/analytics.rs): installs Debian's
# PostgreSQL 15 when its server binaries are missing, creates a cluster in a folder owned by the
# `postgres` user (initdb refuses root) and starts or stops it on a local port.
#
#   postgres.sh start DIR PORT SHARED_BUFFERS WORK_MEM   start (initdb first if DIR is empty)
#   postgres.sh stop DIR                                  fast shutdown
#
# The server listens on 127.0.0.1 only, trusts local connections (a throwaway benchmark
# cluster) and logs to DIR/server.log.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
command=${1:?usage: postgres.sh start|stop DIR ...}
dir=${2:?usage: postgres.sh start|stop DIR ...}
dir=$(realpath -m "$dir")

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$command" in
  start)
    port=${3:?port}
    shared_buffers=${4:-4GB}
    work_mem=${5:-256MB}
    if [ ! -x "$bin/postgres" ]; then
      echo "postgres.sh: installing postgresql-15 (Debian)" >&2
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$dir"
    fi
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_postgres "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir.initdb.log"
    fi
    # wal_level=minimal lets COPY into a table created in the same transaction skip the WAL;
    # fsync stays on (the data must survive like sled's). Parallel query uses both cores.
    as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 120 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=$shared_buffers \
          -c work_mem=$work_mem -c maintenance_work_mem=1GB -c effective_cache_size=16GB \
          -c max_parallel_workers_per_gather=2 -c max_worker_processes=8 \
          -c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=8GB \
          -c checkpoint_timeout=30min -c random_page_cost=1.1" \
      start >&2
    ;;
  stop)
    if [ -f "$dir/postmaster.pid" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir" -m fast -w stop >&2
    fi
    ;;
  *)
    echo "usage: postgres.sh start|stop DIR ..." >&2
    exit 2
    ;;
esac

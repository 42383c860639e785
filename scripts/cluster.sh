#!/usr/bin/env bash
# Private PostgreSQL 15 test cluster in target/pg (see lib.sh).
#   scripts/cluster.sh start|stop|restart|status
#   scripts/cluster.sh psql [DB] [psql args...]     (DB defaults to postgres)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    start) cluster_start ;;
    stop) cluster_stop ;;
    restart) cluster_stop; cluster_start ;;
    status) cluster_status ;;
    psql)
        db="${1:-postgres}"
        [ $# -gt 0 ] && shift
        psql_db "$db" "$@"
        ;;
    *)
        echo "usage: $0 start|stop|restart|status|psql [DB] [psql args...]" >&2
        exit 2
        ;;
esac

#!/usr/bin/env bash
# The scale-out test bed (docs/scaling-out.md, tests/scaleout): starts, on free ports under one data
# directory, the servers the scale-out tests run against, and writes their URLs to $DIR/env:
#
#   pgbouncer        PgBouncer in transaction mode in front of the shared PostgreSQL (127.0.0.1:5432)
#   standby          its own PostgreSQL 15 primary + a streaming hot standby (pg_basebackup -R)
#   mariadb-replica  its own mariadbd primary + a GTID replica of it
#   galera           a 3-node MariaDB Galera cluster (galera-4, rsync SST)
#
# usage: scripts/scale_out.sh start [component...]   (default: all four; installs what is missing)
#        scripts/scale_out.sh stop
#        scripts/scale_out.sh pg-pair NAME [sync]     (a fresh primary + standby, for a failover test;
#                                                      sync: synchronous replication)
#        scripts/scale_out.sh drop-pg-pair NAME
# The shared servers on 5432 / 3306 are never reconfigured or restarted. FARMORM_SCALEOUT_DIR sets the
# data directory (default: /tmp/farmorm-scaleout). A component that cannot start is reported and
# left out of $DIR/env; the tests then skip (or fail under FARMORM_REQUIRE_SCALEOUT).
set -u
DIR="${FARMORM_SCALEOUT_DIR:-/tmp/farmorm-scaleout}"
PGBIN="${FARMORM_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
GALERA_LIB="${FARMORM_GALERA_LIB:-/usr/lib/galera/libgalera_smm.so}"
ENVFILE="$DIR/env"

log() { echo "scale_out: $*" >&2; }

free_port() { # a port nobody listens on (and that no earlier call of this run handed out)
  python3 - "$@" <<'EOF'
import socket, sys, random
taken = set(int(p) for p in sys.argv[1:])
while True:
    p = random.randint(20000, 45000)
    if p in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
EOF
}

wait_for() { # seconds, command...
  local n=$(( $1 * 4 )); shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  return 1
}

setenv() { # KEY VALUE: (re)write one line of $ENVFILE
  touch "$ENVFILE"
  grep -v "^$1=" "$ENVFILE" > "$ENVFILE.tmp" || true
  echo "$1=$2" >> "$ENVFILE.tmp"
  mv "$ENVFILE.tmp" "$ENVFILE"
}
getenv() { grep "^$1=" "$ENVFILE" 2>/dev/null | tail -1 | cut -d= -f2-; }

apt_install() { # packages...: install the missing ones (apt-get update once, first)
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    log "cannot install ${missing[*]} (no apt-get or not root)"; return 1
  fi
  log "installing ${missing[*]}"
  if [ ! -f "$DIR/.apt-updated" ]; then apt-get update -qq >/dev/null 2>&1 && touch "$DIR/.apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1
}

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_mysql() { if [ "$(id -u)" = 0 ]; then runuser -u mysql -- "$@"; else "$@"; fi; }

# -- PgBouncer -------------------------------------------------------------------------------------
start_pgbouncer() {
  apt_install pgbouncer || return 1
  local d="$DIR/pgbouncer" port
  port=$(getenv FARMORM_PGBOUNCER_PORT)
  if [ -n "$port" ] && pg_isready -q -h 127.0.0.1 -p "$port" -d pgbouncer; then return 0; fi
  port=$(free_port)
  mkdir -p "$d"
  cat > "$d/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=${FARMORM_PGBOUNCER_UPSTREAM_PORT:-5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $d/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
max_db_connections = 40
ignore_startup_parameters = extra_float_digits,options,statement_timeout,idle_in_transaction_session_timeout
server_reset_query =
admin_users = postgres
logfile = $d/pgbouncer.log
pidfile = $d/pgbouncer.pid
EOF
  echo '"postgres" ""' > "$d/userlist.txt"
  chown -R postgres "$d" 2>/dev/null || true
  as_postgres pgbouncer -d "$d/pgbouncer.ini" || return 1
  wait_for 20 pg_isready -q -h 127.0.0.1 -p "$port" || { log "pgbouncer did not come up"; return 1; }
  setenv FARMORM_PGBOUNCER_PORT "$port"
  setenv FARMORM_PGBOUNCER_URL "postgresql://postgres@127.0.0.1:$port/postgres"
}

# -- PostgreSQL primary + streaming standby --------------------------------------------------------
pg_running() { [ -f "$1/postmaster.pid" ] && as_postgres "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

pg_pair() { # NAME: $DIR/NAME-primary and $DIR/NAME-standby, env FARMORM_<NAME>_PRIMARY_URL / _STANDBY_URL
  local name=$1 upper p s pd sd
  upper=$(echo "$name" | tr a-z- A-Z_)
  pd="$DIR/$name-primary"; sd="$DIR/$name-standby"
  if pg_running "$pd" && pg_running "$sd"; then return 0; fi
  drop_pg_pair "$name"
  [ -x "$PGBIN/initdb" ] || { log "no PostgreSQL binaries in $PGBIN"; return 1; }
  p=$(free_port); s=$(free_port "$p")
  mkdir -p "$pd"; chown postgres "$pd" 2>/dev/null || true; chmod 700 "$pd"
  as_postgres "$PGBIN/initdb" -D "$pd" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null || return 1
  cat >> "$pd/postgresql.conf" <<EOF
port = $p
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pd'
wal_level = replica
max_wal_senders = 5
wal_keep_size = 128MB
hot_standby = on
fsync = off
synchronous_commit = on
full_page_writes = off
shared_buffers = 32MB
max_connections = 120
# conflicts surface quickly (the recovery-conflict test), never hot_standby_feedback
max_standby_streaming_delay = 1s
hot_standby_feedback = off
EOF
  as_postgres "$PGBIN/pg_ctl" -D "$pd" -l "$pd/server.log" -w start >/dev/null || return 1
  mkdir -p "$sd"; chown postgres "$sd" 2>/dev/null || true; chmod 700 "$sd"
  as_postgres "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$p" -U postgres -D "$sd" -R -X stream >/dev/null || return 1
  cat >> "$sd/postgresql.conf" <<EOF
port = $s
unix_socket_directories = '$sd'
EOF
  as_postgres "$PGBIN/pg_ctl" -D "$sd" -l "$sd/server.log" -w start >/dev/null || return 1
  if [ "${2:-}" = sync ]; then # synchronous replication: a commit returns once the standby has it
    echo "synchronous_standby_names = '*'" >> "$pd/postgresql.conf"
    as_postgres "$PGBIN/pg_ctl" -D "$pd" reload >/dev/null || return 1
  fi
  setenv "FARMORM_${upper}_PRIMARY_URL" "postgresql://postgres@127.0.0.1:$p/postgres"
  setenv "FARMORM_${upper}_STANDBY_URL" "postgresql://postgres@127.0.0.1:$s/postgres"
  setenv "FARMORM_${upper}_PRIMARY_DATA" "$pd"
  setenv "FARMORM_${upper}_STANDBY_DATA" "$sd"
}

drop_pg_pair() {
  local name=$1 d
  for d in "$DIR/$name-standby" "$DIR/$name-primary"; do
    [ -d "$d" ] || continue
    as_postgres "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$d"
  done
}

# -- MariaDB ---------------------------------------------------------------------------------------
my_ping() { mariadb-admin -uroot -h127.0.0.1 -P"$1" --connect-timeout=2 ping; }
my_sql() { local port=$1; shift; mariadb -uroot -h127.0.0.1 -P"$port" -N -B -e "$*"; }

my_node() { # NAME PORT EXTRA-CONFIG [bootstrap-args...]: init (once) and start one mariadbd
  local name=$1 port=$2 extra=$3; shift 3
  local d="$DIR/$name"
  mkdir -p "$d"
  if [ ! -d "$d/data/mysql" ]; then
    mkdir -p "$d/data"; chown -R mysql "$d" 2>/dev/null || true
    mariadb-install-db --no-defaults --datadir="$d/data" --user=mysql --auth-root-authentication-method=normal \
      --skip-test-db >"$d/install.log" 2>&1 || { log "mariadb-install-db failed for $name"; return 1; }
  fi
  cat > "$d/my.cnf" <<EOF
[mariadbd]
datadir = $d/data
port = $port
bind-address = 127.0.0.1
socket = $d/mysqld.sock
pid-file = $d/mysqld.pid
log-error = $d/error.log
skip-name-resolve = 0
innodb_buffer_pool_size = 32M
innodb_log_file_size = 16M
innodb_flush_log_at_trx_commit = 2
performance_schema = 0
max_connections = 300
$extra
EOF
  chown -R mysql "$d" 2>/dev/null || true
  nohup mariadbd --defaults-file="$d/my.cnf" --user=mysql "$@" >/dev/null 2>&1 &
  echo $! > "$d/launcher.pid"
}

grant_root() { # PORT: root from 127.0.0.1 over TCP, no password (like the shared server)
  mariadb -uroot -S "$DIR/$2/mysqld.sock" -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
    GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" 2>/dev/null || true
}

start_mariadb_replica() {
  local p r
  p=$(getenv FARMORM_MARIADB_PRIMARY_PORT); r=$(getenv FARMORM_MARIADB_REPLICA_PORT)
  if [ -n "$p" ] && my_ping "$p" && my_ping "$r"; then return 0; fi
  command -v mariadbd >/dev/null || { log "no mariadbd"; return 1; }
  p=$(free_port); r=$(free_port "$p")
  my_node mariadb-primary "$p" "server_id = 1
log_bin = binlog
binlog_format = ROW
gtid_strict_mode = 1" || return 1
  my_node mariadb-replica "$r" "server_id = 2
log_bin = binlog
binlog_format = ROW
read_only = 1
gtid_strict_mode = 1" || return 1
  wait_for 60 mariadb -uroot -S "$DIR/mariadb-primary/mysqld.sock" -e 'select 1' || { log "mariadb primary did not start"; return 1; }
  wait_for 60 mariadb -uroot -S "$DIR/mariadb-replica/mysqld.sock" -e 'select 1' || { log "mariadb replica did not start"; return 1; }
  grant_root "$p" mariadb-primary; grant_root "$r" mariadb-replica
  mariadb -uroot -S "$DIR/mariadb-replica/mysqld.sock" -e "STOP SLAVE; RESET SLAVE ALL;
    CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$p, MASTER_USER='root', MASTER_USE_GTID=slave_pos;
    START SLAVE;" || return 1
  setenv FARMORM_MARIADB_PRIMARY_PORT "$p"
  setenv FARMORM_MARIADB_REPLICA_PORT "$r"
  setenv FARMORM_MARIADB_PRIMARY_URL "mysql://root@127.0.0.1:$p/"
  setenv FARMORM_MARIADB_REPLICA_URL "mysql://root@127.0.0.1:$r/"
}

# -- Galera (3 nodes) ------------------------------------------------------------------------------
start_galera() {
  local ports i up=1
  ports=$(getenv FARMORM_GALERA_PORTS)
  if [ -n "$ports" ]; then
    for i in ${ports//,/ }; do my_ping "$i" || up=0; done
    [ "$up" = 1 ] && return 0
    stop_galera
  fi
  [ -f "$GALERA_LIB" ] || apt_install galera-4 rsync || return 1
  [ -f "$GALERA_LIB" ] || { log "no $GALERA_LIB"; return 1; }
  command -v rsync >/dev/null || apt_install rsync || return 1
  local taken="" mp=() gp=() ip=() sp=()
  for i in 0 1 2; do
    mp[$i]=$(free_port $taken); taken="$taken ${mp[$i]}"
    gp[$i]=$(free_port $taken); taken="$taken ${gp[$i]}"
    ip[$i]=$(free_port $taken); taken="$taken ${ip[$i]}"
    sp[$i]=$(free_port $taken); taken="$taken ${sp[$i]}"
  done
  local cluster="gcomm://127.0.0.1:${gp[0]},127.0.0.1:${gp[1]},127.0.0.1:${gp[2]}"
  for i in 0 1 2; do
    rm -rf "$DIR/galera-$i"
    local conf="binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = $GALERA_LIB
wsrep_cluster_name = farmorm_scaleout
wsrep_cluster_address = $cluster
wsrep_node_address = 127.0.0.1:${gp[$i]}
wsrep_node_name = node$i
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:${sp[$i]}
wsrep_provider_options = \"base_port=${gp[$i]}; ist.recv_addr=127.0.0.1:${ip[$i]}; gcache.size=32M\""
    if [ "$i" = 0 ]; then
      my_node galera-0 "${mp[0]}" "$conf" --wsrep-new-cluster || return 1
      wait_for 60 mariadb -uroot -S "$DIR/galera-0/mysqld.sock" -e 'select 1' || { log "galera node 0 did not start"; return 1; }
      grant_root "${mp[0]}" galera-0
    else
      # the joiner's datadir comes from the donor (rsync SST): no install needed, but mysql/ must exist
      mkdir -p "$DIR/galera-$i/data/mysql"
      my_node "galera-$i" "${mp[$i]}" "$conf" || return 1
      wait_for 90 my_ping "${mp[$i]}" || { log "galera node $i did not join"; return 1; }
    fi
  done
  for i in 0 1 2; do
    wait_for 60 sh -c "[ \"\$(mariadb -uroot -h127.0.0.1 -P${mp[$i]} -N -B -e \"SHOW STATUS LIKE 'wsrep_ready'\" | cut -f2)\" = ON ]" \
      || { log "galera node $i not ready"; return 1; }
  done
  setenv FARMORM_GALERA_PORTS "${mp[0]},${mp[1]},${mp[2]}"
  setenv FARMORM_GALERA_URLS "mysql://root@127.0.0.1:${mp[0]}/,mysql://root@127.0.0.1:${mp[1]}/,mysql://root@127.0.0.1:${mp[2]}/"
}

stop_galera() {
  local i
  for i in 2 1 0; do stop_my "galera-$i"; done
  sed -i '/^FARMORM_GALERA_/d' "$ENVFILE" 2>/dev/null || true
}

stop_my() {
  local d="$DIR/$1" pid
  [ -f "$d/mysqld.pid" ] || return 0
  pid=$(cat "$d/mysqld.pid" 2>/dev/null)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

stop_all() {
  [ -f "$DIR/pgbouncer/pgbouncer.pid" ] && kill "$(cat "$DIR/pgbouncer/pgbouncer.pid")" 2>/dev/null
  for d in "$DIR"/*-primary "$DIR"/*-standby; do
    [ -f "$d/PG_VERSION" ] && as_postgres "$PGBIN/pg_ctl" -D "$d" -m fast -w stop >/dev/null 2>&1
  done
  stop_galera
  stop_my mariadb-replica; stop_my mariadb-primary
  rm -f "$ENVFILE"
}

mkdir -p "$DIR"; chmod 755 "$DIR"
cmd=${1:-start}; shift || true
case "$cmd" in
  start)
    comps=("$@"); [ ${#comps[@]} -eq 0 ] && comps=(pgbouncer standby mariadb-replica galera)
    status=0
    for c in "${comps[@]}"; do
      case "$c" in
        pgbouncer) start_pgbouncer || { log "pgbouncer: not started"; status=1; } ;;
        standby) pg_pair pg || { log "standby: not started"; status=1; } ;;
        mariadb-replica) start_mariadb_replica || { log "mariadb-replica: not started"; status=1; } ;;
        galera) start_galera || { log "galera: not started"; status=1; } ;;
        *) log "unknown component $c"; status=2 ;;
      esac
    done
    cat "$ENVFILE" 2>/dev/null
    exit $status ;;
  pg-pair) pg_pair "$1" "${2:-}" && cat "$ENVFILE" ;;
  drop-pg-pair) drop_pg_pair "$1"; upper=$(echo "$1" | tr a-z- A-Z_); sed -i "/^FARMORM_${upper}_/d" "$ENVFILE" ;;
  stop) stop_all ;;
  *) echo "usage: $0 start [pgbouncer|standby|mariadb-replica|galera]... | stop | pg-pair NAME | drop-pg-pair NAME" >&2; exit 2 ;;
esac

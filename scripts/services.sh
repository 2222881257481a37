#!/usr/bin/env bash
# Make sure the local PostgreSQL and MariaDB the test suite talks to are up, starting them when they
# are installed but down. A server that is not installed is left alone: FARMORM_REQUIRE decides
# whether its absence fails the run.
set -u
wait_for() { # name, probe command...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "services: $name did not come up" >&2; return 1
}
if command -v pg_ctlcluster >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "services: starting PostgreSQL"
    for v in $(ls /etc/postgresql 2>/dev/null); do pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
    wait_for postgresql pg_isready -q -h 127.0.0.1 -p 5432
  fi
fi
if [ -x /usr/sbin/mariadbd ]; then
  if ! mysqladmin -uroot -h127.0.0.1 --connect-timeout=2 ping >/dev/null 2>&1; then
    echo "services: starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    wait_for mariadb mysqladmin -uroot -h127.0.0.1 --connect-timeout=2 ping
  fi
fi
exit 0

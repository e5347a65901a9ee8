#!/bin/bash
# Start or stop an unmodified web server inside a lab namespace.
#
#   nginx.sh start NS [--docroot DIR] [--port PORT] [--busybox | --tls]
#   nginx.sh stop NS [--port PORT] [--graceful]
#   nginx.sh freeze|thaw NS [--port PORT]
#   nginx.sh log NS [--port PORT]   print the path of the access log
#
# Default docroot: $LAB_CONTENT/www/NS (see content.sh); default port 80.
# nginx gets a generated minimal config (0.0.0.0 only, sendfile on, daemon
# on). --busybox runs `busybox httpd -f -vv` instead; its stderr is the
# access log ("ADDR:PORT: url:/path" and "ADDR:PORT: response:200" lines).
# Everything a server writes (config, pid, logs, temp dirs) lives in
# $LAB_WEB/NS-PORT (default /run/lab/web/NS-PORT): the root is read-only.
# Workers run as root: nothing to chown in the read-only root. nginx's
# environment knobs: NGINX_WORKERS (1), NGINX_CONNS (worker_connections,
# 1024), NGINX_KEEPALIVE (keepalive_timeout, 30s). In a VM of the
# multi-VM lab (LAB_VM set, qemu/vm-node.sh) NS is the VM's own node and
# the server runs in its root namespace. --tls serves HTTPS with a
# self-signed certificate made at start (its access log adds the TLS
# server name the client asked for, sni=NAME). stop --graceful lets nginx finish
# the requests it has (SIGQUIT, as Debian's `systemctl stop nginx`);
# freeze and thaw stop and continue the server's processes (SIGSTOP and
# SIGCONT: a server that hangs, its listener still there).
set -euo pipefail

usage() { sed -n '2,7s/^# \{0,1\}//p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 ns=$2; shift 2
docroot=${LAB_CONTENT:-/tmp/lab-content}/www/$ns
port=80
busybox=0
graceful=0
tls=0
while [ $# -gt 0 ]; do
  case "$1" in
    --docroot) docroot=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --busybox) busybox=1; shift ;;
    --graceful) graceful=1; shift ;;
    --tls) tls=1; shift ;;
    *) usage ;;
  esac
done
state=${LAB_WEB:-/run/lab/web}/$ns-$port

# "${in_node[@]}" CMD...: CMD in the node's namespace (or the VM that is
# the node). A prefix, not a function: a backgrounded function would be a
# subshell, and $! its pid rather than the server's.
in_node=(ip netns exec "$ns")
[ -z "${LAB_VM:-}" ] || in_node=()
listening() { [ -n "$("${in_node[@]}" ss -Hltn "sport = :$port")" ]; }

start() {
  [ -d "$docroot" ] || { echo "nginx.sh: no docroot $docroot (run content.sh)" >&2; exit 1; }
  ! listening || { echo "nginx.sh: something already listens on $ns:$port" >&2; exit 1; }
  rm -rf "$state"; mkdir -p "$state/tmp"
  if [ "$busybox" = 1 ]; then
    # Backgrounded with its output in files, so it holds no caller's pipe.
    "${in_node[@]}" busybox httpd -f -vv -p "0.0.0.0:$port" -h "$docroot" \
      </dev/null >"$state/access.log" 2>&1 &
    echo $! >"$state/pid"
    echo busybox >"$state/kind"
  else
    local listen="listen 0.0.0.0:$port default_server;" sni=""
    if [ "$tls" = 1 ]; then
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=btcp-lab \
        -keyout "$state/key.pem" -out "$state/cert.pem" 2>/dev/null
      listen="listen 0.0.0.0:$port ssl default_server; ssl_certificate $state/cert.pem; ssl_certificate_key $state/key.pem;"
      sni=' sni=$ssl_server_name'
    fi
    cat >"$state/nginx.conf" <<EOF
daemon on;
user root;
worker_processes ${NGINX_WORKERS:-1};
pid $state/nginx.pid;
error_log $state/error.log notice;
${NGINX_CONNS:+worker_rlimit_nofile $((${NGINX_CONNS:-0} * 2 + 64));}
events { worker_connections ${NGINX_CONNS:-1024}; }
http {
    types { text/html html; text/plain txt; application/octet-stream bin; }
    default_type application/octet-stream;
    log_format lab '\$remote_addr:\$remote_port "\$request" \$status \$body_bytes_sent c=\$connection/\$connection_requests t=\$request_time$sni';
    access_log $state/access.log lab;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout ${NGINX_KEEPALIVE:-30s};
    client_body_temp_path $state/tmp/body;
    proxy_temp_path $state/tmp/proxy;
    fastcgi_temp_path $state/tmp/fastcgi;
    uwsgi_temp_path $state/tmp/uwsgi;
    scgi_temp_path $state/tmp/scgi;
    server {
        $listen
        server_name _;
        root $docroot;
    }
}
EOF
    # -e: the compiled-in error log must not be needed before the config is read.
    "${in_node[@]}" nginx -p "$state" -e "$state/error.log" -c "$state/nginx.conf"
    echo nginx >"$state/kind"
  fi
  for _ in $(seq 100); do listening && return 0; sleep 0.1; done
  echo "nginx.sh: $(cat "$state/kind") in $ns does not listen on :$port after 10 s" >&2
  tail -5 "$state/error.log" "$state/access.log" 2>/dev/null >&2 || true
  exit 1
}

# The server's main process, if it was started.
server_pid() {
  [ -f "$state/kind" ] || return 0
  case "$(cat "$state/kind")" in
    nginx) cat "$state/nginx.pid" 2>/dev/null || true ;;
    busybox) cat "$state/pid" 2>/dev/null || true ;;
  esac
}

stop() {
  local pid sig=TERM
  pid=$(server_pid)
  [ -n "$pid" ] || return 0
  [ "$graceful" = 0 ] || sig=QUIT
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# signal SIG: the server's main process and its workers.
signal() {
  local pid
  pid=$(server_pid)
  [ -n "$pid" ] || { echo "nginx.sh: no server in $ns:$port" >&2; exit 1; }
  pkill -"$1" -P "$pid" || true
  kill -"$1" "$pid"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  freeze) signal STOP ;;
  thaw) signal CONT ;;
  log) echo "$state/access.log" ;;
  *) usage ;;
esac

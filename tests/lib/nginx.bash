# shellcheck shell=bash
# nginx for the tests and benchmarks that need a real HTTP server (lesson 01):
# loaded by tests/01-http-get.bats (load 'lib/nginx'), sourced by
# tests/bench/01-http-get.sh.

# nginx_conf DIR PORT ROOT [HTTP_LINES [SERVER_LINES]]: prints the nginx.conf
# of one nginx, without a master process, listening on 127.0.0.1:PORT and
# serving ROOT, with every file it writes (pid, error log, temporary files)
# under DIR (DIR/tmp must exist). HTTP_LINES go into its http block,
# SERVER_LINES into its server block.
nginx_conf() {
    local dir=$1 port=$2 root=$3 user=""
    [[ $(id -u) != 0 ]] || user="user root;"
    cat <<EOF
$user
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
${4:-}
    server {
        listen 127.0.0.1:$port;
        root $root;
${5:-}
    }
}
EOF
}

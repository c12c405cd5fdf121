#!/bin/sh
# The image's entry point: the first argument chooses the process. Every process is exec'd,
# so it is PID 1 and receives the orchestrator's SIGTERM directly (graceful drain).
set -eu

usage() {
    cat >&2 <<'USAGE'
usage: entrypoint.sh COMMAND
  registry | case_status | alerts | welfare   run that gRPC service
  worker                                      run the Temporal worker (python -m workflows)
  migrate SERVICE                             migrate SERVICE's database to the latest schema,
                                              reading DANCU_<SERVICE>_DATABASE_URL
  dev-credentials [OUT]                       make a development key pair in $DANCU_HOME and put
                                              its public key and a service token in OUT
                                              (compose only; never in production)
  healthcheck ADDRESS [SERVICE]               exit 0 when the gRPC server at ADDRESS is SERVING
  dancu ARGS...                               the dancu command line
USAGE
}

command="${1:-help}"
[ "$#" -gt 0 ] && shift

case "$command" in
    registry | case_status | alerts | welfare)
        exec python -m "services.$command" "$@"
        ;;
    worker)
        exec python -m workflows "$@"
        ;;
    migrate)
        service="${1:-}"
        case "$service" in
            registry | case_status | alerts | welfare) ;;
            *)
                echo "migrate: give one of registry, case_status, alerts, welfare" >&2
                exit 64
                ;;
        esac
        variable="DANCU_$(echo "$service" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
        url="$(printenv "$variable" || true)"
        if [ -z "$url" ]; then
            echo "$service: cannot migrate: $variable is required" >&2
            exit 2
        fi
        exec dancu migrate --service "$service" --database-url "$url"
        ;;
    dev-credentials)
        # The signing key stays in $DANCU_HOME (the issuer's volume); only the public key and
        # a service token go to OUT (default /run/dancu), which the services mount.
        # 30 days: services read their token once at start-up, so it must outlive a session.
        out="${1:-/run/dancu}"
        mkdir -p "$out/keys" "$out/tokens"
        dancu token --persona service --ttl 2592000 > "$out/tokens/service.jwt.new"
        mv "$out/tokens/service.jwt.new" "$out/tokens/service.jwt"
        cp "$DANCU_HOME/keys/public.pem" "$out/keys/public.pem"
        echo "development credentials in $out: keys/public.pem, tokens/service.jwt"
        ;;
    healthcheck)
        exec python /app/healthcheck.py "$@"
        ;;
    dancu)
        exec dancu "$@"
        ;;
    help | -h | --help)
        usage
        ;;
    *)
        echo "unknown command: $command" >&2
        usage
        exit 64
        ;;
esac

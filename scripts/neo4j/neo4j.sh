#!/usr/bin/env bash
# Run a real Neo4j Community 5.26 server (in-process via org.neo4j.test:neo4j-harness,
# fetched from Maven Central) for sightgraph's tests and CI.
#
#   scripts/neo4j/neo4j.sh start [--fresh]   build if needed, start in the background, wait for
#                                            Bolt, print the URI (bolt://127.0.0.1:PORT) on stdout
#   scripts/neo4j/neo4j.sh stop              SIGTERM, wait up to 60 s, then SIGKILL
#   scripts/neo4j/neo4j.sh status            "running URI (pid N)" exit 0 / "stopped URI" exit 3
#   scripts/neo4j/neo4j.sh restart [--fresh]
#   scripts/neo4j/neo4j.sh build             only compile / download the dependencies
#   scripts/neo4j/neo4j.sh import ARGS...    offline bulk import into the (empty) database: stop the
#                                            server, run `neo4j-admin database import full neo4j
#                                            --overwrite-destination ARGS...` on its store (log:
#                                            import.log), start it again with the settings it was
#                                            started with, print the URI. Replaces the database!
#
# Environment:
#   SIGHTGRAPH_NEO4J_HOME  state dir (default <repo>/.neo4j): neo4j.pid, neo4j.log, build.log, db/
#   NEO4J_PORT             Bolt port on 127.0.0.1 (default 7687)
#   NEO4J_HEAP             JVM max heap (default 1g)
#   NEO4J_PAGECACHE_MB     page cache size in MiB (default 256)
#   NEO4J_START_TIMEOUT    seconds to wait for Bolt (default 180)
#   NEO4J_JAVA_OPTS        extra JVM options (word-split, placed after ours so they win)
#   NEO4J_IMPORT_HEAP      JVM max heap of the importer (default 1g; it works mostly off-heap)
#   NEO4J_IMPORT_JAVA_OPTS extra JVM options of the importer (default -XX:TieredStopAtLevel=1,
#                          C1 only: halves a small import; -XX:TieredStopAtLevel=4 undoes it)
#   JAVA_HOME              Java 17+ to use (default: java on PATH)
# Auth is disabled: any user/password is accepted. --fresh wipes the database first.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
STATE_DIR=${SIGHTGRAPH_NEO4J_HOME:-$REPO_ROOT/.neo4j}
PORT=${NEO4J_PORT:-7687}
HEAP=${NEO4J_HEAP:-1g}
START_TIMEOUT=${NEO4J_START_TIMEOUT:-180}
STOP_TIMEOUT=60

PID_FILE=$STATE_DIR/neo4j.pid
PORT_FILE=$STATE_DIR/neo4j.port
LOG_FILE=$STATE_DIR/neo4j.log
BUILD_LOG=$STATE_DIR/build.log
IMPORT_LOG=$STATE_DIR/import.log
LAUNCH_FILE=$STATE_DIR/neo4j.launch # the settings of the running server, for `import` to restart it
DB_DIR=$STATE_DIR/db
BUILD_DIR=$SCRIPT_DIR/target
CP_FILE=$BUILD_DIR/classpath.txt
MAIN_CLASS=io.sightgraph.neo4j.Launcher
MARKER=-Dsightgraph.neo4j.launcher=true # first JVM arg, to recognise our process
MAIN_SRC=$SCRIPT_DIR/src/main/java/io/sightgraph/neo4j/Launcher.java
MAIN_CLASS_FILE=$BUILD_DIR/classes/io/sightgraph/neo4j/Launcher.class

log() { printf 'neo4j.sh: %s\n' "$*" >&2; }
die() { printf 'neo4j.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $PORT =~ ^[0-9]+$ ]] || die "NEO4J_PORT must be a number, got '$PORT'"
[[ $START_TIMEOUT =~ ^[0-9]+$ ]] || die "NEO4J_START_TIMEOUT must be a number of seconds"

uri() { printf 'bolt://127.0.0.1:%s' "${1:-$PORT}"; }

find_java() {
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        JAVA=$JAVA_HOME/bin/java
    elif command -v java >/dev/null 2>&1; then
        JAVA=$(command -v java)
    else
        die "Java 17+ not found (install openjdk-17-jre-headless or set JAVA_HOME)"
    fi
    local ver
    ver=$("$JAVA" -XshowSettings:properties -version 2>&1 |
        awk -F'= ' '/java.specification.version/ {print $2; exit}') || true
    ver=${ver%%.*}
    [[ $ver =~ ^[0-9]+$ && $ver -ge 17 ]] || die "Java 17+ required, $JAVA is version '${ver:-unknown}'"
    [[ $ver == 17 || $ver == 21 ]] || log "warning: Neo4j 5.26 supports Java 17 and 21, $JAVA is Java $ver"
}

# The build is current when the launcher is compiled, the classpath file is newer than
# the pom and every jar it lists is still in the local Maven repository.
build_is_current() {
    [[ -f $MAIN_CLASS_FILE && -f $CP_FILE ]] || return 1
    [[ $MAIN_CLASS_FILE -nt $MAIN_SRC && $CP_FILE -nt $SCRIPT_DIR/pom.xml ]] || return 1
    local jar
    while IFS= read -r jar; do
        [[ -z $jar || -e $jar ]] || return 1
    done < <(tr ':' '\n' < "$CP_FILE")
}

build() {
    build_is_current && return 0
    command -v mvn >/dev/null 2>&1 || die "Maven (mvn) not found, needed for the first build (apt-get install maven)"
    mkdir -p "$STATE_DIR"
    rm -f "$CP_FILE"
    local goals=(-B -f "$SCRIPT_DIR/pom.xml" compile dependency:build-classpath "-Dmdep.outputFile=$CP_FILE")
    # Everything already in ~/.m2: no network at all.
    if mvn -o -q "${goals[@]}" >"$BUILD_LOG" 2>&1; then
        log "built launcher (offline)"
        return 0
    fi
    log "downloading Neo4j Community 5.26 from Maven Central into ~/.m2 (~140 MB, first time only)..."
    local start=$SECONDS
    if ! mvn "${goals[@]}" 2>&1 | tee "$BUILD_LOG" |
        awk '/Downloaded from/ { n++; if (n % 50 == 0) { printf "neo4j.sh: ... %d files downloaded\n", n; fflush() } }
             /\[ERROR\]/ { print; fflush() }' >&2; then
        tail -n 30 "$BUILD_LOG" >&2 || true
        die "Maven build failed, full log: $BUILD_LOG"
    fi
    [[ -f $CP_FILE && -f $MAIN_CLASS_FILE ]] || die "Maven build produced no launcher, full log: $BUILD_LOG"
    log "build done in $((SECONDS - start)) s"
}

is_ours() {
    local args
    args=$(ps -ww -p "$1" -o args= 2>/dev/null) || return 1
    [[ $args == *"$MARKER"* ]]
}

# pid of our server if it is alive (and really our Launcher, not a recycled pid), else fail.
running_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    is_ours "$pid" || return 1
    printf '%s' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

recorded_port() {
    local p=
    [[ -f $PORT_FILE ]] && p=$(<"$PORT_FILE")
    [[ $p =~ ^[0-9]+$ ]] && printf '%s' "$p" || printf '%s' "$PORT"
}

lock() {
    mkdir -p "$STATE_DIR"
    # Keep the state dir out of git even when it lives inside the repo.
    [[ -f $STATE_DIR/.gitignore ]] || printf '*\n' > "$STATE_DIR/.gitignore"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$STATE_DIR/.lock"
        if ! flock -n 9; then
            log "waiting for another neo4j.sh working on $STATE_DIR"
            flock -w 900 9 || die "timed out waiting for another neo4j.sh on $STATE_DIR"
        fi
    fi
}

show_failure_logs() {
    if [[ -f $LOG_FILE ]]; then
        log "--- last lines of $LOG_FILE ---"
        tail -n 40 "$LOG_FILE" >&2 || true
    fi
    if [[ -f $DB_DIR/logs/debug.log ]]; then
        log "--- last lines of $DB_DIR/logs/debug.log ---"
        tail -n 20 "$DB_DIR/logs/debug.log" >&2 || true
    fi
}

kill_and_wait() { # pid: SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL
    local pid=$1 deadline=$((SECONDS + STOP_TIMEOUT))
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && is_ours "$pid"; do
        if ((SECONDS >= deadline)); then
            log "still running after ${STOP_TIMEOUT} s, sending SIGKILL to $pid"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$((SECONDS + 15))
            while kill -0 "$pid" 2>/dev/null && is_ours "$pid" && ((SECONDS < deadline)); do
                sleep 0.5
            done
            return 0
        fi
        sleep 0.5
    done
}

wait_ready() { # pid port
    local pid=$1 port=$2 start=$SECONDS
    log "waiting up to ${START_TIMEOUT} s for Neo4j (pid $pid) on $(uri "$port")"
    while :; do
        if ! running_pid >/dev/null; then
            show_failure_logs
            rm -f "$PID_FILE" "$PORT_FILE"
            die "Neo4j exited during startup (log: $LOG_FILE)"
        fi
        if grep -q '^NEO4J READY' "$LOG_FILE" 2>/dev/null && port_open "$port"; then
            log "ready after $((SECONDS - start)) s"
            return 0
        fi
        if ((SECONDS - start >= START_TIMEOUT)); then
            show_failure_logs
            kill_and_wait "$pid"
            rm -f "$PID_FILE" "$PORT_FILE"
            die "Neo4j did not answer on $(uri "$port") within ${START_TIMEOUT} s; stopped it (log: $LOG_FILE)"
        fi
        sleep 1
    done
}

cmd_start() {
    local fresh=0 arg
    for arg in "$@"; do
        case $arg in
            --fresh) fresh=1 ;;
            *) die "unknown option for start: $arg" ;;
        esac
    done
    lock
    do_start "$fresh"
}

do_start() { # fresh (0/1); the caller holds the lock
    local fresh=$1
    local pid
    if pid=$(running_pid); then
        local rport
        rport=$(recorded_port)
        if ((fresh)); then
            log "--fresh: stopping the running server (pid $pid) first"
            kill_and_wait "$pid"
            rm -f "$PID_FILE" "$PORT_FILE"
        else
            [[ $rport == "$PORT" ]] || log "already running on port $rport (NEO4J_PORT=$PORT ignored; use restart)"
            port_open "$rport" || wait_ready "$pid" "$rport"
            uri "$rport"
            printf '\n'
            return 0
        fi
    fi
    rm -f "$PID_FILE" "$PORT_FILE"
    port_open "$PORT" && die "port $PORT on 127.0.0.1 is already in use by another process; set NEO4J_PORT"

    find_java
    build

    if ((fresh)); then
        log "--fresh: wiping $DB_DIR"
        rm -rf "$DB_DIR"
    fi
    mkdir -p "$DB_DIR"
    [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"

    # C1-only JIT (TieredStopAtLevel=1): on 2 cores it halves startup CPU and ran a test-like
    # workload of small queries ~30% faster; NEO4J_JAVA_OPTS=-XX:TieredStopAtLevel=4 undoes it.
    local jvm_opts=(
        "$MARKER" "-Xmx$HEAP" -XX:TieredStopAtLevel=1
        -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow -XX:+ExitOnOutOfMemoryError
        -Djdk.nio.maxCachedBufferSize=1024 -Dlog4j2.disable.jmx=true
        --add-opens=java.base/java.nio=ALL-UNNAMED
        --add-opens=java.base/java.io=ALL-UNNAMED
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
        --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
        --add-opens=java.base/java.lang=ALL-UNNAMED
        -Dio.netty.tryReflectionSetAccessible=true
    )
    local extra=()
    [[ -n ${NEO4J_JAVA_OPTS:-} ]] && read -r -a extra <<<"$NEO4J_JAVA_OPTS"

    {
        printf 'PORT=%q\n' "$PORT"
        printf 'HEAP=%q\n' "$HEAP"
        printf 'NEO4J_PAGECACHE_MB=%q\n' "${NEO4J_PAGECACHE_MB:-}"
        printf 'NEO4J_JAVA_OPTS=%q\n' "${NEO4J_JAVA_OPTS:-}"
    } >"$LAUNCH_FILE"
    NEO4J_PAGECACHE_MB=${NEO4J_PAGECACHE_MB:-} NEO4J_PORT=$PORT nohup "$JAVA" "${jvm_opts[@]}" ${extra[@]+"${extra[@]}"} \
        -cp "$BUILD_DIR/classes:$(<"$CP_FILE")" "$MAIN_CLASS" "$DB_DIR" \
        </dev/null >>"$LOG_FILE" 2>&1 9>&- &  # 9>&-: the server must not inherit our lock
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
    printf '%s\n' "$PORT" >"$PORT_FILE"
    wait_ready "$pid" "$PORT"
    uri "$PORT"
    printf '\n'
}

cmd_stop() {
    lock
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PID_FILE" "$PORT_FILE"
        log "not running"
        return 0
    fi
    log "stopping Neo4j (pid $pid)"
    local start=$SECONDS
    kill_and_wait "$pid"
    rm -f "$PID_FILE" "$PORT_FILE"
    log "stopped after $((SECONDS - start)) s"
}

cmd_import() {
    (($# > 0)) || die "import needs the importer's arguments (--nodes=... --relationships=...)"
    lock
    find_java
    build
    local pid was_running=0
    if pid=$(running_pid); then
        was_running=1
        # restart it as it was started (port, heap, page cache, JVM options), not with our env
        PORT=$(recorded_port)
        if [[ -f $LAUNCH_FILE ]]; then
            # shellcheck disable=SC1090
            source "$LAUNCH_FILE"
            export NEO4J_PAGECACHE_MB NEO4J_JAVA_OPTS
        fi
        log "stopping Neo4j (pid $pid) for the offline import"
        kill_and_wait "$pid"
        rm -f "$PID_FILE" "$PORT_FILE"
    fi
    mkdir -p "$DB_DIR"
    log "importing into $DB_DIR/data/databases/neo4j (log: $IMPORT_LOG)"
    local start=$SECONDS rc=0 opts=()
    read -r -a opts <<<"${NEO4J_IMPORT_JAVA_OPTS:--XX:TieredStopAtLevel=1}"
    NEO4J_HOME=$DB_DIR NEO4J_CONF=$DB_DIR/conf "$JAVA" "-Xmx${NEO4J_IMPORT_HEAP:-1g}" -XX:+UseG1GC \
        ${opts[@]+"${opts[@]}"} -cp "$BUILD_DIR/classes:$(<"$CP_FILE")" org.neo4j.cli.AdminTool \
        database import full neo4j --overwrite-destination "$@" \
        </dev/null >"$IMPORT_LOG" 2>&1 9>&- || rc=$?
    if ((rc)); then
        log "--- last lines of $IMPORT_LOG ---"
        grep -Ev '^[-.]\.{9} ' "$IMPORT_LOG" | tail -n 25 >&2 || true
        log "import failed (exit $rc) after $((SECONDS - start)) s"
    else
        log "import done in $((SECONDS - start)) s"
    fi
    if ((was_running)); then
        do_start 0 || exit 1
    fi
    exit "$rc"
}

cmd_status() {
    local pid
    if pid=$(running_pid); then
        echo "running $(uri "$(recorded_port)") (pid $pid)"
        return 0
    fi
    echo "stopped $(uri)"
    return 3
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
        start) cmd_start "$@" ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        restart) cmd_stop && cmd_start "$@" ;;
        build) lock && find_java && build ;;
        import) cmd_import "$@" ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"

"""The ``beamtime`` command: serve, worker, manage."""

import argparse
import errno
import json
import logging
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from beamtime.conf import ConfigError

log = logging.getLogger("beamtime.serve")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="beamtime", description="Beamtime: one web platform around an experiment."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="start the whole platform on this machine")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, default=2, help="web worker processes (default 2)")
    serve.add_argument("--demo", action="store_true", help="also load demo content")
    serve.add_argument(
        "--web-only",
        action="store_true",
        help="no Celery workers or beat here (a further web host; workers run elsewhere)",
    )
    serve.set_defaults(run=run_serve)

    worker = commands.add_parser(
        "worker", help="start a Celery worker against the configured Redis"
    )
    worker.add_argument(
        "--queues",
        default=None,
        help="comma-separated queues: daq (run control), fits, reduction, default (default: all)",
    )
    worker.add_argument(
        "--concurrency", type=int, default=None, help="parallel tasks (default: one per core)"
    )
    worker.set_defaults(run=run_worker)

    fplane = commands.add_parser(
        "fplane", help="get or update the focal-plane file (FPlane client)"
    )
    fplane_commands = fplane.add_subparsers(dest="fplane_command", required=True, metavar="ACTION")
    get = fplane_commands.add_parser("get", help="download the fplane file valid at a date")
    get.add_argument(
        "date", nargs="?", default="", help="YYYYMMDD, YYYYMMDDTHH:MM:SS, ISO 8601 (default: now)"
    )
    get.add_argument("-o", "--output", help="file to write (default: fplaneDATE.txt)")
    get.add_argument("-s", "--short", action="store_true", help="only the active VIRUS IFUs")
    get.add_argument(
        "-p", "--positions", action="store_true", help="measured IFU positions, when known"
    )
    get.add_argument(
        "--url",
        default=None,
        help="Beamtime server (default: $BEAMTIME_URL or http://127.0.0.1:8000)",
    )
    get.set_defaults(run=run_fplane_get)
    update = fplane_commands.add_parser(
        "update", help="send a hardware status report (dry run unless --commit)"
    )
    update.add_argument("report", help="JSON file with the hardware status report")
    update.add_argument("--commit", action="store_true", help="write the new configuration")
    update.add_argument(
        "--start", default="", help="when the new configuration starts (default: now)"
    )
    update.add_argument("--key", default=None, help="API key (default: $BEAMTIME_API_KEY)")
    update.add_argument(
        "--url",
        default=None,
        help="Beamtime server (default: $BEAMTIME_URL or http://127.0.0.1:8000)",
    )
    update.set_defaults(run=run_fplane_update)
    imp = fplane_commands.add_parser(
        "import", help="import fplane files as history (staff key; all or nothing)"
    )
    imp.add_argument("files", nargs="+", metavar="FILE", help="fplaneYYYYMMDD[THH:MM:SS].txt")
    imp.add_argument("--start", default="", help="the start of a single file not named by date")
    imp.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
    imp.add_argument("--key", default=None, help="API key (default: $BEAMTIME_API_KEY)")
    imp.add_argument(
        "--url",
        default=None,
        help="Beamtime server (default: $BEAMTIME_URL or http://127.0.0.1:8000)",
    )
    imp.set_defaults(run=run_fplane_import)

    sim = commands.add_parser("ecc-sim", help="run a simulated ECC server (SOAP over HTTP)")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument("--port", type=int, help="port to listen on")
    sim.add_argument(
        "--configs", required=True, help="folder with describe-/prepare-/configure-*.xcfg"
    )
    sim.add_argument("--delay", type=float, default=0.0, help="seconds each transition takes")
    sim.add_argument(
        "--fail-rate", type=float, default=0.0, help="fraction of transitions that fail"
    )
    sim.add_argument(
        "--staging", default=None, help="data router staging folder to write run files to"
    )
    sim.add_argument("--count", type=int, default=1, help="serve N simulators on ports P … P+N-1")
    sim.add_argument("--ports", help="P1,P2,…: one simulator on each (instead of --port/--count)")
    sim.set_defaults(run=run_ecc_sim)

    manage = commands.add_parser("manage", help="run a Django management command", add_help=False)
    manage.add_argument("args", nargs=argparse.REMAINDER)
    manage.set_defaults(run=run_manage)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"beamtime: {exc}", file=sys.stderr)
        return 2


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beamtime.settings")
    import django

    django.setup()


def settings_only():
    """Django's settings without loading the apps (their models, and what those import)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "beamtime.settings")
    from django.conf import settings

    return settings


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise ConfigError(
            f"cannot reach Redis at BEAMTIME_REDIS_URL={redacted(url)}: {exc}"
        ) from None


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use (choose another with --port)"
                ) from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def prepare_database(demo: bool = False) -> str | None:
    """Apply migrations and collect static files (and load the demo's content); return the
    admin password on first start."""
    setup_django()
    from django.core.management import call_command
    from django.db import DatabaseError, connection

    from beamtime.core.accounts import create_first_admin

    try:
        call_command("migrate", interactive=False, verbosity=0)
    except DatabaseError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot use the database ({connection.vendor}): {first_line}") from None
    call_command("collectstatic", interactive=False, verbosity=0)
    password = create_first_admin()
    if demo:
        call_command("load_demo")
    connection.close()
    return password


def prepared(demo: bool) -> str | None:
    """``prepare_database`` in a new interpreter, so that the supervisor, which stays up for
    days, never holds the apps it loads (about 130 MiB); its errors are raised here."""
    code = "import sys; from beamtime.cli import prepare_main; sys.exit(prepare_main(sys.argv))"
    done = subprocess.run(
        [sys.executable, "-c", code, *(["--demo"] if demo else [])],
        capture_output=True,
        text=True,
    )
    *said, last = done.stdout.splitlines() or [""]
    if said:
        print("\n".join(said), flush=True)
    if done.returncode == 2:  # a ConfigError, said in one line
        raise ConfigError(done.stderr.strip().splitlines()[-1])
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr, end="")
        raise ConfigError(f"preparing the database failed (exit code {done.returncode})")
    return json.loads(last)["password"]


def prepare_main(argv: list[str]) -> int:
    """The child of ``prepared``: its last line of output is the first admin's password."""
    try:
        password = prepare_database("--demo" in argv)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(json.dumps({"password": password}), flush=True)
    return 0


def keep_password(home, password: str):
    """Write the first admin password to a file only its owner can read; return its path."""
    path = home / "admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return path


def first_start_notice(password: str, path) -> str:
    lines = [
        f'First start: log in as "admin" with password "{password}".',
        f"It is also in {path} (readable only by you).",
        "Change it from the user menu, then delete that file.",
    ]
    rule = "=" * max(len(line) for line in lines)
    return "\n".join(["", rule, *lines, rule, ""])


def wait_for_port(host: str, port: int, proc, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def celery_worker_argv(
    queues: list[str],
    concurrency: int | None,
    time_limit: int,
    name: str = "beamtime",
    max_memory_mb: int | None = None,
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "beamtime.celery",
        "worker",
        "--queues",
        ",".join(queues),
        "--hostname",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        # The soft limit lets a task end cleanly (a fit records why it stopped).
        "--soft-time-limit",
        str(max(1, time_limit - 10)),
        "--time-limit",
        str(time_limit),
    ]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if max_memory_mb:  # a process holding more after a task is replaced by a fresh one
        argv += ["--max-memory-per-child", str(max_memory_mb * 1024)]
    return argv


def time_limit_for(queues: list[str], pools: dict) -> int:
    """The longest time limit of the pools that serve any of ``queues``."""
    limits = [p["time_limit"] for p in pools.values() if set(p["queues"]) & set(queues)]
    return max(limits, default=max(p["time_limit"] for p in pools.values()))


def max_memory_for(queues: list[str], pools: dict) -> int | None:
    """The smallest memory cap (MiB) of the pools that serve any of ``queues``, if any has one."""
    caps = [
        p["max_memory_mb"]
        for p in pools.values()
        if set(p["queues"]) & set(queues) and p.get("max_memory_mb")
    ]
    return min(caps, default=None)


def start_workers_and_beat(supervisor, settings) -> None:
    """One Celery worker per pool, and beat (only one beat may run per Redis)."""
    for pool, spec in settings.WORKER_POOLS.items():
        supervisor.start(
            f"{pool} worker",
            celery_worker_argv(
                spec["queues"],
                spec["concurrency"],
                spec["time_limit"],
                f"beamtime-{pool}",
                spec.get("max_memory_mb"),
            ),
        )
    supervisor.start(
        "celery beat",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "beamtime.celery",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(settings.HOME / "celerybeat-schedule"),
            "--pidfile",
            str(settings.HOME / "celerybeat.pid"),
        ],
    )


def run_serve(args) -> int:
    from beamtime import conf, embedded_redis
    from beamtime.supervisor import HomeLock, Supervisor, log_file_handler

    lock = HomeLock(conf.home())
    lock.acquire()
    check_port_free(args.host, args.port)
    # Read by settings: data reduction offers the local data folder on loopback only.
    os.environ["BEAMTIME_LISTEN_HOST"] = args.host
    settings = settings_only()
    settings.LOG_DIR.mkdir(parents=True, exist_ok=True)
    own_log = log_file_handler(settings.LOG_DIR / "serve.log")
    own_log.terminator = "\n"
    own_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(own_log)
    supervisor = Supervisor(settings.SERVE_STATUS_FILE, settings.LOG_DIR, lock)
    supervisor.handle_signals()
    try:
        if settings.EMBEDDED_REDIS:
            sock = embedded_redis.socket_path(settings.REDIS_URL)
            sock.parent.mkdir(parents=True, exist_ok=True)
            redis_proc = supervisor.start("redis", embedded_redis.command(sock))
            embedded_redis.wait_until_ready(settings.REDIS_URL, redis_proc)
        else:
            check_redis(settings.REDIS_URL)
        password = prepared(args.demo)
        if args.demo:  # the demo's simulators are recorded in the database
            setup_django()
            from beamtime.daq.demo import start_simulators

            start_simulators(supervisor, settings.HOME)
        if not args.web_only:
            start_workers_and_beat(supervisor, settings)
        bind = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
        web = supervisor.start(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "beamtime.wsgi:application",
                "--bind",
                bind,
                "--workers",
                str(args.workers),
                "--threads",
                "4",
                "--graceful-timeout",
                "10",
                "--no-control-socket",
            ],
        )
        if wait_for_port(args.host, args.port, web):
            url = f"http://{bind}/"
            print(
                f"\nBeamtime is running at {url}  (health: {url}healthz; stop with Ctrl-C)",
                flush=True,
            )
            print(f"Logs: {settings.LOG_DIR}/", flush=True)
            if password:
                print(first_start_notice(password, keep_password(settings.HOME, password)))
        status = supervisor.wait()
    finally:
        supervisor.stop()
    return status


def run_worker(args) -> int:
    setup_django()
    from django.conf import settings

    queues = [q.strip() for q in args.queues.split(",")] if args.queues else settings.QUEUES
    unknown = sorted(set(queues) - set(settings.QUEUES))
    if unknown:
        raise ConfigError(
            f"--queues: unknown queue {', '.join(unknown)} (one of {', '.join(settings.QUEUES)})"
        )
    check_redis(settings.REDIS_URL)
    pools = settings.WORKER_POOLS
    argv = celery_worker_argv(
        queues,
        args.concurrency,
        time_limit_for(queues, pools),
        max_memory_mb=max_memory_for(queues, pools),
    )
    os.execv(argv[0], argv)


def run_fplane_get(args) -> int:
    from beamtime.configs import client

    try:
        text, name = client.fetch_fplane(
            args.date,
            actpos=args.positions,
            full=not args.short,
            url=args.url or client.DEFAULT_URL,
        )
    except client.FplaneClientError as exc:
        print(f"beamtime fplane: {exc}", file=sys.stderr)
        return 1
    path = args.output or name
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}")
    return 0


def run_fplane_update(args) -> int:
    import json

    from beamtime.configs import client

    key = args.key or os.environ.get("BEAMTIME_API_KEY")
    if not key:
        print(
            "beamtime fplane: an API key is needed: --key KEY or BEAMTIME_API_KEY", file=sys.stderr
        )
        return 2
    try:
        with open(args.report) as f:
            report = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"beamtime fplane: cannot read {args.report}: {exc}", file=sys.stderr)
        return 2
    try:
        text = client.update_fplane(
            report, key, commit=args.commit, start=args.start, url=args.url or client.DEFAULT_URL
        )
    except client.FplaneClientError as exc:
        print(f"beamtime fplane: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def run_fplane_import(args) -> int:
    from pathlib import Path

    from beamtime.configs import client

    key = args.key or os.environ.get("BEAMTIME_API_KEY")
    if not key:
        print(
            "beamtime fplane: an API key is needed: --key KEY or BEAMTIME_API_KEY", file=sys.stderr
        )
        return 2
    if args.start and len(args.files) > 1:
        print("beamtime fplane: --start is for a single file", file=sys.stderr)
        return 2
    files = []
    for name in args.files:
        try:
            text = Path(name).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"beamtime fplane: cannot read {name}: {exc}", file=sys.stderr)
            return 2
        files.append({"name": Path(name).name, "text": text, "start": args.start})
    try:
        outcomes = client.import_fplane(
            files, key, dry_run=args.dry_run, url=args.url or client.DEFAULT_URL
        )
    except client.FplaneClientError as exc:
        print(f"beamtime fplane: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(client.describe_import(outcomes))
    if args.dry_run:
        print("dry run: nothing was written")
    return 0


def run_ecc_sim(args) -> int:
    import signal
    from pathlib import Path

    from beamtime.daq.ecc.simulator import EccSimulator, make_server, run_all

    configs = Path(args.configs)
    if not configs.is_dir():
        raise ConfigError(f"--configs {configs}: no such folder")
    if not 0 <= args.fail_rate <= 1:
        raise ConfigError(f"--fail-rate {args.fail_rate}: must be between 0 and 1")
    if args.ports:
        try:
            ports = [int(p) for p in args.ports.split(",")]
        except ValueError:
            raise ConfigError(f"--ports {args.ports}: not a list of port numbers") from None
    elif args.port is not None:
        ports = list(range(args.port, args.port + args.count))
    else:
        raise ConfigError("ecc-sim needs --port (or --ports)")
    for port in ports:
        check_port_free(args.host, port)
    simulators = []
    for i, port in enumerate(ports):
        # With several simulators, each has a staging folder of its own, like a data router.
        staging = (
            Path(args.staging) / f"ecc{i}" if args.staging and len(ports) > 1 else args.staging
        )
        simulator = EccSimulator(
            configs,
            delay=args.delay,
            fail_rate=args.fail_rate,
            staging=Path(staging) if staging else None,
        )
        simulators.append((simulator, make_server(simulator, args.host, port)))

    def stop(signum, frame):
        for simulator, _ in simulators:
            simulator.stopped.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    print(
        f"{len(ports)} ECC simulator(s) at http://{args.host}:{ports[0]}/ … with "
        f"{len(simulators[0][0].available_configs())} configurations",
        flush=True,
    )
    run_all(simulators)  # the ports listen already: clients may connect after the line above
    return 0


def run_manage(args) -> int:
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["beamtime manage", *args.args])
    return 0

"""The `slotwise` command: serve, migrate, worker, demo."""

from __future__ import annotations

import click

from slotwise.settings import Settings


@click.group()
def main() -> None:
    """slotwise: self-hostable booking and scheduling."""


def warn_about_secret(settings: Settings) -> None:
    """Said at every start of a server or worker, never refused: the embedded default must
    run with no setting at all, but a real deployment must not keep the published secret."""
    if settings.uses_development_secret:
        click.echo("warning: SLOTWISE_SECRET_KEY is the published development default, so "
                   "anyone can derive the keys that sign list cursors, customers' manage "
                   "links and waitlist offers; set a long random one, the same on every "
                   "process and host", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="API processes (stateless; use PostgreSQL when more than one).")
def serve(host: str, port: int, workers: int) -> None:
    """Migrate the database, then serve the API."""
    import uvicorn

    from slotwise.api import logs
    from slotwise.bootstrap import build

    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    warn_about_secret(settings)
    build(settings, migrate=True).close()
    if workers > 1 and settings.is_sqlite:
        raise click.UsageError("several workers need PostgreSQL (SLOTWISE_DATABASE_URL)")
    uvicorn.run("slotwise.asgi:create", factory=True, host=host, port=port, workers=workers,
                log_config=None, access_log=False, proxy_headers=True)


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from slotwise.bootstrap import build

    build(Settings(), migrate=True).close()
    click.echo("database is up to date")


@main.command()
def worker() -> None:
    """Run jobs, the outbox relay and periodic work (PostgreSQL; start as many as you like).

    Pair with SLOTWISE_JOBS=external on `slotwise serve`, or the API processes run jobs too.
    """
    from slotwise.api import logs
    from slotwise.bootstrap import build
    from slotwise.queues.procrastinate import ProcrastinateWorker

    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    warn_about_secret(settings)
    if settings.is_sqlite:
        raise click.UsageError("on SQLite the jobs run inside `slotwise serve` "
                               "(embedded mode); workers need PostgreSQL")
    container = build(settings, migrate=True)
    try:
        engine = container.make_worker()
        assert isinstance(engine, ProcrastinateWorker)
        click.echo("worker running; Ctrl-C stops it", err=True)
        engine.run()
    finally:
        container.close()


@main.command()
@click.option("--fix", "fix_now", is_flag=True, help="Run the fixer once now.")
@click.option("--undo", "undo_id", metavar="ACTION_ID", help="Reverse one of the fixer's repairs.")
@click.option("--limit", default=20, show_default=True, help="Recent repairs to list.")
def doctor(fix_now: bool, undo_id: str | None, limit: int) -> None:
    """Health checks and the self-healing fixer's recent repairs (each with its undo id)."""
    from slotwise.bootstrap import build
    from slotwise.domain.errors import DomainError

    container = build(Settings(), migrate=True)
    use_cases = container.use_cases
    try:
        if undo_id is not None:
            try:
                done = use_cases.fixer.undo(undo_id)
            except DomainError as error:
                raise click.ClickException(str(error)) from error
            click.echo(f"undone: {undo_id} (audited as {done.id})")
            return
        failing = 0
        for name, dependency in use_cases.checks.items():
            problem = dependency.check()
            failing += problem is not None and dependency.fallback is None
            click.echo(f"{'ok' if problem is None else 'PROBLEM':>7}  {name}"
                       + ("" if problem is None else f": {problem}"))
        if fix_now:
            repairs = use_cases.fixer.run(everything=True)
            click.echo(f"fixer: {len(repairs)} repairs")
        click.echo("recent repairs (undo with: slotwise doctor --undo ACTION_ID):")
        for entry in use_cases.fixer.recent(limit):
            undo = f"undo: {entry.undo['op']}" if entry.undo else "nothing to undo"
            click.echo(f"  {entry.id}  {entry.at:%Y-%m-%d %H:%M:%S}Z  {entry.action} "
                       f"{entry.target}  ({undo})")
        if failing:
            raise SystemExit(1)
    finally:
        container.close()


@main.command()
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Where `slotwise serve` answers, for the printed URLs.")
def demo(base_url: str) -> None:
    """Create a ready demo organisation and print its credentials and URLs."""
    from slotwise.bootstrap import build
    from slotwise.demo import create_demo

    container = build(Settings(), migrate=True)
    try:
        click.echo(create_demo(container.use_cases, base_url))
    finally:
        container.close()


if __name__ == "__main__":
    main()

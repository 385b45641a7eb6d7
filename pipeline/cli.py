"""The `soccerspot` command. Each subcommand is one module in `pipeline/commands/` exposing
`HELP`, `add_arguments(parser)` and `run(args) -> int`; they are discovered, not listed here.

Exit codes: 0 ok, 1 data error (bad or missing input), 2 usage error.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from soccerspot.pipeline import commands
from soccerspot.data.errors import DataError


def command_modules() -> dict[str, object]:
    modules = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        modules[info.name.replace("_", "-")] = importlib.import_module(f"{commands.__name__}.{info.name}")
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soccerspot",
        description="Find the actions in soccer broadcasts: extract features, train, spot, evaluate.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in command_modules().items():
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except DataError as error:
        print(f"soccerspot {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `soccerspot` command. Each subcommand is one module of this package exposing `HELP`,
`add_arguments(parser)` and `run(args) -> int`; they are discovered, not listed here. A command module
imports only what its parser needs at the top; everything else (torch, the models) is imported inside
`run`, so `soccerspot --help` and `soccerspot COMMAND --help` print at once. Nothing outside this package
imports it.

Exit codes: 0 ok, 1 data error (bad or missing input), 2 usage error.

Bad input is reported by the commands themselves (`DataError`, one line naming the file, exit 1; a flag
value that cannot work is a `UsageError` or a `SettingsError` naming its field, one line naming the flag,
exit 2). As a safety
net, an operating-system error about a named file that the user's paths can cause (no permission, a file
where a folder is needed or the reverse, a full or read-only disk) is also printed as one line, exit 1;
any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import sys

from soccerspot.errors import DataError, SettingsError
from soccerspot.pipeline.training.config import HEAD_OPTION_PREFIX


class UsageError(ValueError):
    """A flag value that cannot work: one line naming the flag, exit 2."""


# Flags of `soccerspot train` / `finetune` that each set one head setting, `head_options.NAME`, of the heads
# whose config has it (the pooling heads, `models.heads.pooling_head`); other heads ignore them, as when
# these were run fields. `--head-options` naming the same setting wins over its flag.
HEAD_OPTION_FLAGS = {"clusters": "INT", "projection_dim": "INT|NONE"}  # flag name -> its metavar in --help


def flag_of(setting: str) -> str:
    """The flag that sets a config field (`max_epochs` -> `--epochs`, `window_seconds` -> `--window-seconds`,
    `head_options.clusters` -> `--clusters`, another head setting -> `--head-options`)."""
    if setting.startswith(HEAD_OPTION_PREFIX):
        name = setting[len(HEAD_OPTION_PREFIX):]
        return "--" + name.replace("_", "-") if name in HEAD_OPTION_FLAGS else "--head-options"
    return "--epochs" if setting == "max_epochs" else "--" + setting.replace("_", "-")

# errno values of an OSError that a user's path or disk explains (see the module docstring)
USER_PATH_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ENOSPC,
                              errno.EROFS, errno.EDQUOT, errno.ENAMETOOLONG})


def user_path_error(error: OSError) -> str | None:
    """One line for an OSError about a named file that the user's paths or disk explain, else None."""
    if error.errno not in USER_PATH_ERRNOS or error.filename is None:
        return None
    return f"{error.filename}: {error.strerror or error}"


def command_modules() -> dict[str, object]:
    modules = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        modules[info.name.replace("_", "-")] = importlib.import_module(f"{__name__}.{info.name}")
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
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what `--nproc N` starts again in each rank
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except DataError as error:
        print(f"soccerspot {args.command}: error: {error}", file=sys.stderr)
        return 1
    except (UsageError, SettingsError) as error:
        if isinstance(error, SettingsError) and error.setting:
            error = UsageError(f"{flag_of(error.setting)}: {error.reason}")
        print(f"soccerspot {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        message = user_path_error(error)
        if message is None:
            raise
        print(f"soccerspot {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""One module per `soccerspot` subcommand: argument parsing only; heavy imports happen inside `run`."""

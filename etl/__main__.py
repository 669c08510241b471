"""``python -m etl`` and the ``prolific-etl`` command.

The command's entry point is ``run`` here rather than ``etl.cli:main``: a worker process of
``sync --processes`` imports the main script again, and this module costs nothing to import
where the CLI module would add 0.7 s of CPU to every worker's start.
"""


def run() -> None:
    from .cli import main

    main(prog_name="prolific-etl")


if __name__ == "__main__":
    run()

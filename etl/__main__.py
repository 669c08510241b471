"""``python -m etl``: the ``prolific-etl`` command."""

from .launch import main

if __name__ == "__main__":
    main()

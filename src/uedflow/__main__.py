"""``python -m uedflow``: the same as the ``uedflow`` command."""

from uedflow.cli import main

if __name__ == "__main__":
    main(prog_name="uedflow")

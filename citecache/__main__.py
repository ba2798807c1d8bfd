"""``python -m citecache``: the same as the ``citecache`` command."""

from citecache.cli import cli

if __name__ == "__main__":
    cli()

"""``python -m opsperf``: the same command line as the ``opsperf`` script."""

from opsperf.cli import main

if __name__ == "__main__":
    main(prog_name="opsperf")

"""``python -m runlab``: the same command line as the ``runlab`` script."""

from __future__ import annotations

from runlab.cli.main import main

if __name__ == "__main__":
    main()

"""``python -m fracturelab``: the same as the ``fracturelab`` command."""

from fracturelab.cli.main import main

main()

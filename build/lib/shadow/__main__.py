"""``python -m shadow``: the same as the ``shadow`` command."""

from shadow.cli import main

main()

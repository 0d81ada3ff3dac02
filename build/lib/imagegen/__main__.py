"""``python -m imagegen``: the same as the ``shadow`` command."""

from imagegen.cli import main

main()

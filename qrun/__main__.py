"""`python -m qrun`: the qrun command."""
import sys

from .cli import main

sys.exit(main())

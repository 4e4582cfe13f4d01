"""`python -m infra.local` (what `make run` calls)."""
import sys

from infra.local.stack import main

sys.exit(main())

"""`python -m shipper` (same flags as `devmesh ship`)."""
import sys

from shipper.cli import main

sys.exit(main())

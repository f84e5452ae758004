import sys

from beamtime.cli import main

sys.exit(main())

import sys

from demetra.cli import main

sys.exit(main())

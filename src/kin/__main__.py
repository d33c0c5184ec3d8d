import sys

from kin.cli.main import main

sys.exit(main())

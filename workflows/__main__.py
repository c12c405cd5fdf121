import sys

from workflows.worker import main

sys.exit(main())

import sys

from services.registry.main import main

sys.exit(main())

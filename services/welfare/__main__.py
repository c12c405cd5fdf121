import sys

from services.welfare.main import main

sys.exit(main())

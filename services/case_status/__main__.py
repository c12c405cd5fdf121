import sys

from services.case_status.main import main

sys.exit(main())

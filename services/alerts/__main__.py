import sys

from services.alerts.main import main

sys.exit(main())

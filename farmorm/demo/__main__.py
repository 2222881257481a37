"""``python -m farmorm.demo [URL]``."""

import sys

from farmorm.demo import main

if __name__ == "__main__":
    sys.exit(main())

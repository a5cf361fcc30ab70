import sys

from neutrophil.cli import main

sys.exit(main())

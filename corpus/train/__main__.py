"""`python -m corpus.train` (and `torchrun ... -m corpus.train`): see corpus.train.loop."""

import sys

from corpus.train.loop import main

sys.exit(main())

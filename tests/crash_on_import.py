"""A module whose import aborts the process, like a framework whose native library crashes."""

import os

os.abort()

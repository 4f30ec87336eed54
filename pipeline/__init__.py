"""touchless: find why customers contact support, and which causes to remove first.

This package is the library: plain steps over typed tables and arrays, no orchestration.
Importing it switches the model hubs off, so nothing is ever downloaded at run time.
"""

from pipeline.runtime import configure_offline

configure_offline()

__version__ = "0.1.0"

"""``wampnode version``: the versions of wampnode and of the stack it runs on."""
from __future__ import annotations

import argparse
import platform

import autobahn
import cryptography
import OpenSSL
import twisted
from OpenSSL import SSL

from node import __version__
from node.process.native_modules import native_modules


def run_version(args: argparse.Namespace) -> int:
    print(f"wampnode     {__version__}")
    print(f"Python       {platform.python_implementation()} {platform.python_version()}")
    print(f"Twisted      {twisted.__version__}")
    print(f"autobahn     {autobahn.__version__}")
    print(f"pyOpenSSL    {OpenSSL.__version__}")
    print(f"cryptography {cryptography.__version__}")
    print(f"OpenSSL      {SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()}")
    for module in native_modules():
        print(f"{module.title}: {module.state} ({module.path})")
    return 0

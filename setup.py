"""Builds the C kernels: one cffi extension module per ISA (see kernels_c/build_ffi.py)."""
import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels_c"))
from build_ffi import wanted_isas  # noqa: E402

setup(cffi_modules=["kernels_c/build_ffi.py:ffi_%s" % isa for isa in wanted_isas()])

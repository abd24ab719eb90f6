import os
import sys

# LiteRT prints an INFO line on stderr when it creates XNNPACK; keep test output readable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

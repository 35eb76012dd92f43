"""Pure computation: reading data files into samples, consensus, statistics.

No Telegram, no SQL: plain data in, plain data out, testable on its own.
"""

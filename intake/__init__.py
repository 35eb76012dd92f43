"""Data intake: reading raw files into samples, cleaning, media checks, dedup, estimates.

No Telegram, no SQL: files in, cleaned samples and a report of every drop out.
"""

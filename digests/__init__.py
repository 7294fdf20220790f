"""Digests: what the archive holds for a period, rendered for people.

Enters: an open archive (read only) and a period. Leaves: rendered files (today an HTML digest).
It never crawls or tags.
"""

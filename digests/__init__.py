"""Digests: what the archive holds for a period and a recipient list, rendered and e-mailed.

Enters: an open archive (read only), a period and a list's tag filter; SMTP settings to send.
Leaves: a `Digest` (`select`), its HTML / text / Markdown (`render`) and a sent e-mail (`mail`).
It never crawls or tags; recording what was sent is the digest step's call to the archive.
"""

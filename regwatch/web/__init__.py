"""regwatch on the web: a read-only Starlette application over the archive (`regwatch serve`)."""

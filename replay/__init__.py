"""An offline stand-in for the sources' APIs: a local HTTP server replaying recorded responses.

Enters: the recordings in `replay/recordings/` (real responses, plus named synthetic-* ones).
Leaves: `replay.server` (the HTTP server, `regwatch replay-server`) and `replay.federal_register`
(the Federal Register API's search semantics over the recorded documents).
"""

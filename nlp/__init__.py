"""regwatch NLP: tags (ai, export_control and sub-tags) with evidence, entities and dates.

Enters: documents with the Federal Register API's field names (dicts, or JSON lines files).
Leaves: `TagResult`s (`load_tagger().tag(document)`), tagged JSON lines (`tag_jsonl`) and
evaluation reports against hand labels (`evaluate_file`).

Importing this package is light: spaCy is imported only when a tagger is built or loaded.
The rules are data in `nlp/patterns/*.jsonl` (see `nlp/patterns/README.md`).
"""

from nlp.evaluate import EvalReport, evaluate_file
from nlp.tagger import TagFailure, TagFileResult, Tagger, TagResult, load_tagger, tag_jsonl

__all__ = [
    "EvalReport",
    "TagFailure",
    "TagFileResult",
    "TagResult",
    "Tagger",
    "evaluate_file",
    "load_tagger",
    "tag_jsonl",
]

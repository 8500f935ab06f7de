"""The researcher's store: full-text search, streaming exports, read-only SQL, the schema
document and reader logins.

The SQL objects these use (text search configurations, `newsmon_query()`, the views and
the `newsmon_reader` role) come from `sql/0009_research.sql`. Every value a user types
reaches the database as a bound parameter or a quoted literal, never as SQL text, except
the query of `run_read_only`, which is SQL by design and runs in a READ ONLY transaction.
The commands run them on a reader login (`pipeline.store.connection.connect_reader`): a read-only
transaction is a convenience, the reader's privileges are the defence.
"""

from pipeline.research.export import EXPORT_FORMATS, export_articles
from pipeline.research.filters import ResearchError
from pipeline.research.readers import grant_reader, reader_conninfo
from pipeline.research.schema_doc import SCHEMA_DOC, render_schema_doc
from pipeline.research.search import SearchHit, search_articles, search_titles
from pipeline.research.sql import QueryResult, run_read_only
from pipeline.research.views import refresh_views

__all__ = [
    "EXPORT_FORMATS",
    "SCHEMA_DOC",
    "QueryResult",
    "ResearchError",
    "SearchHit",
    "export_articles",
    "grant_reader",
    "reader_conninfo",
    "refresh_views",
    "render_schema_doc",
    "run_read_only",
    "search_articles",
    "search_titles",
]

-- 0020: articles whose text a source delivered (a full-text API such as the Guardian's
-- content API: FeedItem.body), stored without fetching or extracting a page. Their
-- extraction_mode is 'api'; they have no article_raw row, so `newsmon reextract` never
-- selects them. Also: the two new source kinds, bing_news and guardian.

ALTER TABLE articles DROP CONSTRAINT articles_extraction_mode_check;
-- NOT VALID: every stored row passed 0017's stricter check already; validating would scan
-- every article under an exclusive lock for nothing. New and updated rows are checked.
ALTER TABLE articles ADD CONSTRAINT articles_extraction_mode_check
    CHECK (extraction_mode IN ('precision', 'balanced', 'api')) NOT VALID;

COMMENT ON COLUMN articles.extraction_mode IS
    'How the text was extracted: precision (trafilatura favor_precision, fast: most pages); '
    'balanced (the precision text was short against the page''s own paragraph text, so the '
    'balanced cascade with its fallback extractors ran and gave a clearly longer one); '
    'api (the source delivered the text, e.g. the Guardian content API: no page was fetched '
    'or archived). NULL: stored before migration 0017 and not re-extracted since.';

COMMENT ON COLUMN sources.kind IS
    'Adapter that reads it: rss (RSS/Atom/RDF/JSON Feed), google_news, bing_news, gdelt, '
    'sitemap, newsapi, guardian.';

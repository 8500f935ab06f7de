-- 0017: which extraction path produced an article's text (pipeline/extract/page.py,
-- main_text), so a change to one path can be re-run on just the articles it made
-- (`newsmon reextract --mode precision`) and its share watched over time. NULL: stored
-- before 0017, until re-extraction fills it in.

ALTER TABLE articles ADD COLUMN extraction_mode text
    CHECK (extraction_mode IN ('precision', 'balanced'));

COMMENT ON COLUMN articles.extraction_mode IS
    'How the text was extracted: precision (trafilatura favor_precision, fast: most pages); '
    'balanced (the precision text was short against the page''s own paragraph text, so the '
    'balanced cascade with its fallback extractors ran and gave a clearly longer one). '
    'NULL: stored before migration 0017 and not re-extracted since.';

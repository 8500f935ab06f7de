-- Full-text search from psql: Spanish stemming and accents ignored, so "ataque soberania"
-- finds "ataques ... soberanía". Ranked, with the matched words highlighted.
-- newsmon_query(q) searches every language; newsmon_query(q, 'es') only Spanish.
-- Run: newsmon sql -f sql/queries/search_example.sql   (or: newsmon search "...")
SELECT a.id,
       a.title,
       newsmon_outlet(a.site_name, a.url) AS outlet,
       ts_rank(a.search_tsv, newsmon_query('ataque soberania', 'es')) AS rank,
       ts_headline('newsmon_es', a.text, newsmon_query('ataque soberania', 'es')) AS snippet
FROM articles a
WHERE a.search_tsv @@ newsmon_query('ataque soberania', 'es')
  AND a.lang = 'es'
ORDER BY rank DESC
LIMIT 20;

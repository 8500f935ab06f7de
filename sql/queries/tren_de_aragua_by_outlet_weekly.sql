-- Coverage of the Tren de Aragua by outlet, per week (weeks start on Monday, UTC).
-- Counts relevant articles that mention the entity, and the distinct stories among them
-- (syndicated copies of one story count once per outlet).
-- Run: newsmon sql -f sql/queries/tren_de_aragua_by_outlet_weekly.sql
SELECT date_trunc('week', coalesce(published_at, discovered_at) AT TIME ZONE 'UTC')::date AS week,
       outlet,
       count(*) AS articles,
       count(DISTINCT coalesce(story_id, -article_id)) AS stories
FROM relevant_articles
WHERE watchlist = 'venezuela'
  AND 'tren_de_aragua' = ANY (entities)
GROUP BY week, outlet
ORDER BY week, articles DESC, outlet;

-- Which watchlist entities appear together in relevant articles (e.g. the Tren de Aragua
-- with the US strikes), and in how many articles and stories.
-- Run: newsmon sql -f sql/queries/entity_pairs.sql
SELECT a.entity_id AS entity,
       b.entity_id AS with_entity,
       count(*) AS articles,
       count(DISTINCT coalesce(r.story_id, -r.article_id)) AS stories
FROM relevant_articles r
JOIN article_entities a ON a.article_id = r.article_id AND a.watchlist = r.watchlist
JOIN article_entities b ON b.article_id = r.article_id AND b.watchlist = r.watchlist
                       AND b.entity_id > a.entity_id
WHERE r.watchlist = 'venezuela'
GROUP BY a.entity_id, b.entity_id
ORDER BY articles DESC, entity, with_entity;

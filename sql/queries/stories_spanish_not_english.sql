-- Relevant stories covered in Spanish but not in English: what the English-language
-- press missed. Uses the materialised story_overview (see view_refreshes for its age).
-- Run: newsmon sql -f sql/queries/stories_spanish_not_english.sql
SELECT story_id,
       title,
       outlets,
       articles,
       first_published_at
FROM story_overview
WHERE 'venezuela' = ANY (relevant_to)
  AND 'es' = ANY (languages)
  AND NOT 'en' = ANY (languages)
ORDER BY first_published_at, story_id;

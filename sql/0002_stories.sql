-- 0002: stories (clusters of copies of one article), every URL variant seen, and the
-- MinHash LSH band table that finds near-duplicates from any worker without memory state.

CREATE TABLE stories (
    id                 bigserial PRIMARY KEY,
    representative_id  bigint,
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    size               integer NOT NULL DEFAULT 1,
    outlets            text[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE stories IS 'One story: an article and all its syndicated copies and near-duplicates.';
COMMENT ON COLUMN stories.id IS 'Surrogate key; alerts key on it.';
COMMENT ON COLUMN stories.representative_id IS 'The article that stands for the story (its first copy).';
COMMENT ON COLUMN stories.first_seen_at IS 'When newsmon first stored a copy.';
COMMENT ON COLUMN stories.last_seen_at IS 'When the latest copy joined.';
COMMENT ON COLUMN stories.size IS 'How many distinct articles belong to the story.';
COMMENT ON COLUMN stories.outlets IS 'Distinct outlets (site names, else hosts) carrying the story.';

ALTER TABLE articles ADD COLUMN story_id bigint REFERENCES stories(id) ON DELETE SET NULL;
CREATE INDEX articles_story ON articles (story_id);
COMMENT ON COLUMN articles.story_id IS 'The story this article belongs to (copies share it).';
ALTER TABLE stories ADD CONSTRAINT stories_representative_fk
    FOREIGN KEY (representative_id) REFERENCES articles(id) ON DELETE SET NULL;

CREATE TABLE article_urls (
    url            text PRIMARY KEY,
    article_id     bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    first_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX article_urls_article ON article_urls (article_id);
COMMENT ON TABLE article_urls IS 'Every URL variant seen for an article (AMP, mobile, tracking parameters, redirects).';
COMMENT ON COLUMN article_urls.url IS 'A URL as announced or fetched.';
COMMENT ON COLUMN article_urls.article_id IS 'The article it resolves to.';
COMMENT ON COLUMN article_urls.first_seen_at IS 'When the variant was first seen.';

CREATE TABLE article_bands (
    band_key    bigint NOT NULL,
    article_id  bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    PRIMARY KEY (band_key, article_id)
);
CREATE INDEX article_bands_article ON article_bands (article_id);
COMMENT ON TABLE article_bands IS 'MinHash LSH buckets: articles sharing a band key are near-duplicate candidates.';
COMMENT ON COLUMN article_bands.band_key IS 'Hash of one band of the MinHash signature, band index mixed in.';
COMMENT ON COLUMN article_bands.article_id IS 'Article whose signature has this band.';

ALTER TABLE articles ADD COLUMN minhash bigint[];
COMMENT ON COLUMN articles.minhash IS 'MinHash signature of the text, to confirm LSH candidates.';

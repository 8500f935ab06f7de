-- 0002: stories (clusters of copies of one article), every URL variant seen, the MinHash
-- LSH band table that finds near-duplicates from any worker without memory state, and the
-- earlier versions of revised articles. Written by pipeline/stories.py.

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
COMMENT ON COLUMN stories.outlets IS
    'Distinct outlets (site name, else host without www, as newsmon_outlet()) carrying the story, '
    'including outlets whose verbatim copy was folded into an existing article.';

ALTER TABLE articles ADD COLUMN story_id bigint REFERENCES stories(id) ON DELETE SET NULL;
CREATE INDEX articles_story ON articles (story_id);
COMMENT ON COLUMN articles.story_id IS 'The story this article belongs to (copies share it).';
ALTER TABLE stories ADD CONSTRAINT stories_representative_fk
    FOREIGN KEY (representative_id) REFERENCES articles(id) ON DELETE SET NULL;

ALTER TABLE articles ADD COLUMN minhash bytea;
COMMENT ON COLUMN articles.minhash IS
    'MinHash signature of the current text (256 little-endian uint32, 1 KB) that confirms LSH '
    'candidates; NULL for texts under 100 words, which take no part in near-duplicate search.';

ALTER TABLE articles ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE articles ADD COLUMN revised_at timestamptz;
ALTER TABLE articles ADD COLUMN checked_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN articles.version IS
    'Number of the current text: 1 as first stored, +1 per revision (earlier ones in article_versions).';
COMMENT ON COLUMN articles.revised_at IS 'When the current text replaced an earlier one (NULL: never revised).';
COMMENT ON COLUMN articles.checked_at IS 'When the page was last fetched and compared with the stored text.';

CREATE TABLE article_urls (
    url            text PRIMARY KEY,
    article_id     bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    first_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX article_urls_article ON article_urls (article_id);
COMMENT ON TABLE article_urls IS
    'Every URL seen for an article (as announced, as fetched, canonical; AMP, mobile, tracking '
    'parameters, redirects, and the URLs of verbatim copies folded into it); each resolves to one article.';
COMMENT ON COLUMN article_urls.url IS 'A URL as announced, fetched or canonicalised.';
COMMENT ON COLUMN article_urls.article_id IS 'The article it resolves to.';
COMMENT ON COLUMN article_urls.first_seen_at IS 'When the URL was first seen.';

CREATE TABLE article_bands (
    band_key    bigint NOT NULL,
    article_id  bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    PRIMARY KEY (band_key, article_id)
);
CREATE INDEX article_bands_article ON article_bands (article_id);
COMMENT ON TABLE article_bands IS
    'MinHash LSH buckets: articles sharing a band key are near-duplicate candidates. '
    '32 rows per article with a signature; a lookup is 32 probes of the primary key.';
COMMENT ON COLUMN article_bands.band_key IS 'Hash of one band of the MinHash signature, band index mixed in.';
COMMENT ON COLUMN article_bands.article_id IS 'Article whose current signature has this band.';

CREATE TABLE article_versions (
    article_id          bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    version             integer NOT NULL,
    title               text NOT NULL,
    text                text NOT NULL,
    content_hash        text NOT NULL,
    stored_at           timestamptz NOT NULL,
    replaced_at         timestamptz NOT NULL DEFAULT now(),
    title_changed       boolean NOT NULL,
    chars_added         integer NOT NULL,
    chars_removed       integer NOT NULL,
    words_added         integer NOT NULL,
    words_removed       integer NOT NULL,
    paragraphs_changed  integer NOT NULL,
    diff                text NOT NULL,
    PRIMARY KEY (article_id, version)
);
COMMENT ON TABLE article_versions IS
    'Earlier texts of revised articles, one row per replaced version, with what changed in the '
    'next one. The current text stays in articles.';
COMMENT ON COLUMN article_versions.article_id IS 'The revised article.';
COMMENT ON COLUMN article_versions.version IS 'Number of this (replaced) version; the next one is version + 1.';
COMMENT ON COLUMN article_versions.title IS 'Headline of this version.';
COMMENT ON COLUMN article_versions.text IS 'Full text of this version.';
COMMENT ON COLUMN article_versions.content_hash IS 'Fingerprint of this version''s normalised text.';
COMMENT ON COLUMN article_versions.stored_at IS 'When this version was first stored.';
COMMENT ON COLUMN article_versions.replaced_at IS 'When the next version was seen and replaced it.';
COMMENT ON COLUMN article_versions.title_changed IS 'Whether the next version has another headline.';
COMMENT ON COLUMN article_versions.chars_added IS 'Characters inserted by the next version.';
COMMENT ON COLUMN article_versions.chars_removed IS 'Characters deleted by the next version.';
COMMENT ON COLUMN article_versions.words_added IS 'Words inserted by the next version.';
COMMENT ON COLUMN article_versions.words_removed IS 'Words deleted by the next version.';
COMMENT ON COLUMN article_versions.paragraphs_changed IS
    'Paragraphs the next version added, removed or rewrote.';
COMMENT ON COLUMN article_versions.diff IS
    'Unified diff by paragraph from this version to the next (no context lines, cut at 20,000 characters).';

-- Sentence vectors of the catalogue's texts (entry names, summaries, passages, example
-- questions, intent phrasings), by the model that computed them and the text's SHA-256.
-- A cache beside the catalogue: publishing embeds only texts not seen before, and a
-- restart embeds nothing. Rows are rebuilt from the texts whenever they are missing.

CREATE TABLE embeddings (
    model       TEXT NOT NULL,
    text_hash   TEXT NOT NULL,
    vector      BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (model, text_hash)
);

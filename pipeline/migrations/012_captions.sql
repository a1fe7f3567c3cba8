-- Caption styles per channel: how the words are burned in (sentence, karaoke or pop), in which font and size,
-- with what outline and shadow; the colours come from the channel's brand.
ALTER TABLE channels ADD COLUMN caption_style VARCHAR NOT NULL DEFAULT 'sentence';
ALTER TABLE channels ADD COLUMN caption_font VARCHAR NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN caption_size INTEGER NOT NULL DEFAULT 100;
ALTER TABLE channels ADD COLUMN caption_outline INTEGER NOT NULL DEFAULT 4;
ALTER TABLE channels ADD COLUMN caption_shadow INTEGER NOT NULL DEFAULT 2;

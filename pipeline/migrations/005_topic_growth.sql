-- Predicted growth of each topic's recent videos, stored when topics are computed so the
-- backlog never fits a model while a page renders.
ALTER TABLE trend_topics ADD COLUMN predicted_growth DOUBLE;

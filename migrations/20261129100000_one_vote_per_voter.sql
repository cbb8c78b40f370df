-- One vote per voter and insight. A voter is the user name when the vote has one,
-- otherwise the device; a later vote by the same voter replaces the earlier one
-- (Robotoff kept every row, so a device could vote several times on an insight).

ALTER TABLE annotation_vote ADD COLUMN IF NOT EXISTS voter text GENERATED ALWAYS AS (
    CASE WHEN username IS NOT NULL THEN 'user:' || username ELSE 'device:' || device_id END
) STORED;

-- On a database restored from Robotoff, keep each voter's latest vote only.
DELETE FROM annotation_vote a
USING annotation_vote b
WHERE a.insight_id = b.insight_id
  AND a.voter = b.voter
  AND (a."timestamp", a.id) < (b."timestamp", b.id);

CREATE UNIQUE INDEX IF NOT EXISTS annotation_vote_insight_voter
    ON annotation_vote (insight_id, voter);

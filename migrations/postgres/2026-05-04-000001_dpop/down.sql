ALTER TABLE token_families DROP COLUMN jkt;
DROP TABLE dpop_proofs;

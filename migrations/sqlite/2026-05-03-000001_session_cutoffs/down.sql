DROP TABLE session_cutoffs;

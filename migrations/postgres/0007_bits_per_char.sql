-- Bits per character (the tokenizer option): every evaluation's losses also in bits per
-- character of its split's text, the run's best val_bpc and latest train_bpc beside its
-- losses (the leaderboard ranks by them when they are the metric), and the shorter split's
-- length in GPT-2 tokens, recorded at submit when a sweep uses that tokenizer (0 if not).
-- Every run stored before trained on characters, where bits per character are the loss
-- over ln 2: those rows are filled in exactly.
ALTER TABLE evals ADD COLUMN train_bpc DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE evals ADD COLUMN val_bpc DOUBLE PRECISION NOT NULL DEFAULT 0;
UPDATE evals SET train_bpc = train_loss / 0.6931471805599453, val_bpc = val_loss / 0.6931471805599453;
ALTER TABLE runs ADD COLUMN best_val_bpc DOUBLE PRECISION;
ALTER TABLE runs ADD COLUMN last_train_bpc DOUBLE PRECISION;
UPDATE runs SET best_val_bpc = best_val_loss / 0.6931471805599453, last_train_bpc = last_train_loss / 0.6931471805599453;
ALTER TABLE sweeps ADD COLUMN gpt2_shortest_split BIGINT NOT NULL DEFAULT 0;

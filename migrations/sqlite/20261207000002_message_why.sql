-- Why the bot replied as it did (the stage that decided, the candidates' probabilities), for
-- staff beside each bot reply in the console. Never shown to citizens.
ALTER TABLE messages ADD COLUMN why TEXT;

-- Records an operator's release: it restarts the brake's counting window.
-- $1: when the brake was released (timestamptz)
UPDATE brake_state SET released_at = $1 WHERE id = 1;

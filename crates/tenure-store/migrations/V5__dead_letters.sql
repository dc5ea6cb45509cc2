-- Records a consumer could not read (corrupt, or written by a newer version): parked
-- here in the same transaction that moves past them, so nothing is silently lost.
CREATE TABLE dead_letters (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      int         NOT NULL,
    log_offset     bigint      NOT NULL,
    payload        bytea       NOT NULL,
    error          text        NOT NULL,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition, log_offset)
);

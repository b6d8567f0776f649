-- 0030_notify_outbox: the notification outbox (rules/notify.h). Every
-- notification is a row here before anything is sent; senders claim due
-- rows with FOR UPDATE SKIP LOCKED, send, and record the result in the same
-- transaction, so a restart or an SMTP/syslog outage loses nothing and two
-- wattrack instances sharing the database never send a row twice.
--
-- channel/target: 'mail' + recipient address, 'syslog' + host:port,
-- 'trap' + host:port, 'hook' + hook name. Times are Unix milliseconds from
-- wattrack's clock (so tests can drive them). event is the alarm change as
-- JSON, also the webhook body. message_id is the idempotency key of the
-- message that carried the row (e-mail Message-ID).

CREATE TABLE notify_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         text NOT NULL CHECK (channel IN ('mail', 'syslog', 'trap', 'hook')),
    target          text NOT NULL,
    created_ms      bigint NOT NULL,
    alarm_id        bigint,
    change          text NOT NULL,
    -- 0 info, 1 log, 2 warning, 3 error
    severity        smallint NOT NULL CHECK (severity BETWEEN 0 AND 3),
    room_id         bigint,
    immediate       boolean NOT NULL DEFAULT false,
    event           jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_ms bigint NOT NULL,
    last_error      text,
    sent_ms         bigint,
    message_id      text
);
-- The senders' claim: due pending rows of one channel and target, in order.
CREATE INDEX notify_outbox_pending ON notify_outbox (channel, target, id)
    WHERE state = 'pending';
CREATE INDEX notify_outbox_alarm ON notify_outbox (alarm_id);
CREATE INDEX notify_outbox_created ON notify_outbox (created_ms);

-- Who holds a document job: a token drawn at random for each claim. Retrying, handing back or
-- failing a job takes the token, so a worker whose lease ran out (and whose job another worker
-- has claimed since) can no longer change it. NULL when nobody holds the job.

ALTER TABLE flow_documents ADD COLUMN lease_token TEXT;

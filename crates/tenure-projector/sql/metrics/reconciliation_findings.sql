-- Reconciliation's findings so far, by system and kind, for /metrics.
SELECT system, kind, count(*) FROM projection_discrepancies GROUP BY system, kind ORDER BY 1, 2;

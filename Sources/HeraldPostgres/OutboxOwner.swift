/// When an instance counts as alive, for the outbox leases: its heartbeat has not lapsed and,
/// once it recorded one, the database connection it holds for `LISTEN` is still open.
///
/// The connection is what makes failover fast: when an instance dies (`kill -9`, a crash), the
/// database sees its connection close at once, and the others take its sessions over at their
/// next scan (every second), instead of after `outboxLease`. The heartbeat still covers an
/// instance that hangs with its connection open. A connection is known by its backend pid and
/// start time, so a pid the server reuses is not mistaken for the old one. (Instances must see
/// each other's connections in `pg_stat_activity`: the same database user, or a role with
/// `pg_read_all_stats`.)
enum OutboxOwner {
    /// SQL that is true when the `outbox_owners` row `alias` is alive at `now` (ms).
    static func alive(_ alias: String, now: Int64) -> String {
        """
        (\(alias).alive_until >= \(now) AND (\(alias).pid IS NULL OR EXISTS (
          SELECT 1 FROM pg_stat_activity a
          WHERE a.pid = \(alias).pid AND (extract(epoch FROM a.backend_start) * 1000)::bigint = \(alias).backend_start)))
        """
    }
}

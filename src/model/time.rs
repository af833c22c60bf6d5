//! Timestamps as ARM writes them.

/// RFC 3339 UTC timestamp with microseconds, as ARM writes them.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}
